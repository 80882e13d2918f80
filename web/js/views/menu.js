// The message menu: a row of common reactions and the actions Reply, Edit (my messages),
// Copy text and Delete (mine, or any for a channel owner/admin). A modal <dialog>: beside
// the message on wide screens, a bottom sheet on phones. `pickerOnly` shows the reactions only.

import { h, icon } from '../dom.js';

/** The reactions offered in the picker. */
export const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🎉', '👀', '🙏'];

/**
 * After a long press, lifting the finger may click what appeared under it: Chromium taps on a
 * lift that comes before its own long-press time (1 s on desktop), so a press held from 0.9 s
 * opens the menu and then clicks its backdrop. That click carries the lift's timestamp; a click
 * this soon (ms, event time) after the first lift that follows opening is the press's own.
 */
const LIFT_CLICK_MS = 300;

/** Until the finger lifts, a click this soon (ms) after opening is also the press's own. */
const GHOST_CLICK_MS = 400;

let current = null;

/**
 * @param {object} m  the message
 * @param {Element} anchor  what it was opened from (positions it on wide screens)
 * @param {object} opts  { pickerOnly, fromTouch, canEdit, canDelete, onReact(emoji), onReply(),
 *   onEdit(), onDelete(), onCopy() }
 */
export function openMessageMenu(m, anchor, opts) {
  if (current) current.close();
  const mine = new Set((m.reactions || []).filter((r) => r.me).map((r) => r.emoji));
  const openedAt = performance.now();
  // When opened by a touch, the finger is still down: its lift's click is not a choice.
  let liftedAt = null;
  const onLift = (ev) => {
    if (liftedAt === null) liftedAt = ev.timeStamp;
  };
  const ghost = (ev) => opts.fromTouch && (liftedAt === null
    ? performance.now() - openedAt < GHOST_CLICK_MS
    : ev.timeStamp - liftedAt < LIFT_CLICK_MS);
  const choose = (fn) => (ev) => {
    if (ghost(ev)) return;
    dialog.close();
    fn();
  };
  const picker = h('div.emoji-row', { role: 'group', 'aria-label': 'React', testid: 'emoji-picker' },
    EMOJI.map((e) => h('button.emoji-btn', {
      type: 'button', testid: 'pick-emoji', dataset: { emoji: e }, class: mine.has(e) ? 'me' : '',
      'aria-pressed': String(mine.has(e)), 'aria-label': mine.has(e) ? `Take back ${e}` : `React with ${e}`, text: e,
      on: { click: choose(() => opts.onReact(e)) },
    })));
  const item = (testid, iconName, label, fn, cls = '') => h('button.menu-item', {
    type: 'button', testid, class: cls, on: { click: choose(fn) },
  }, icon(iconName), h('span', { text: label }));
  const items = opts.pickerOnly ? null : h('div.menu-items', { role: 'group' },
    item('menu-reply', 'reply', 'Reply', opts.onReply),
    opts.canEdit ? item('menu-edit', 'edit', 'Edit', opts.onEdit) : null,
    opts.onCopy ? item('menu-copy', 'copy', 'Copy text', opts.onCopy) : null,
    opts.canDelete ? item('menu-delete', 'trash', 'Delete', opts.onDelete, 'danger') : null);
  const dialog = h('dialog.menu-sheet', {
    testid: opts.pickerOnly ? 'reaction-picker' : 'message-menu', 'aria-label': opts.pickerOnly ? 'React' : 'Message actions',
  }, picker, items);
  dialog.addEventListener('click', (ev) => {
    if (ev.target === dialog && !ghost(ev)) dialog.close(); // the backdrop
  });
  const lifts = ['pointerup', 'pointercancel'];
  if (opts.fromTouch) for (const t of lifts) window.addEventListener(t, onLift, true);
  dialog.addEventListener('close', () => {
    for (const t of lifts) window.removeEventListener(t, onLift, true);
    dialog.remove();
    if (current && current.dialog === dialog) current = null;
    if (anchor && anchor.isConnected && typeof anchor.focus === 'function' && anchor.matches('button')) {
      anchor.focus({ preventScroll: true });
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  place(dialog, anchor);
  const first = dialog.querySelector('button');
  if (first) first.focus({ preventScroll: true });
  current = { dialog, close: () => dialog.open && dialog.close() };
  return current;
}

/** Beside the anchor on wide screens (CSSOM writes: allowed by the CSP); a sheet otherwise. */
function place(dialog, anchor) {
  if (!matchMedia('(min-width: 768px)').matches || !anchor) {
    dialog.classList.add('sheet');
    return;
  }
  dialog.classList.add('popover');
  const r = anchor.getBoundingClientRect();
  const d = dialog.getBoundingClientRect();
  const pad = 8;
  let top = r.bottom + 6;
  if (top + d.height > innerHeight - pad) top = Math.max(pad, r.top - d.height - 6);
  let left = r.left + r.width / 2 - d.width / 2;
  left = Math.min(Math.max(pad, left), innerWidth - d.width - pad);
  dialog.style.top = `${Math.round(top)}px`;
  dialog.style.left = `${Math.round(left)}px`;
}
