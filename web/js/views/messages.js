// The message list of the open channel: bubbles (mine right, others left with name and time),
// day separators, my unsent messages with their state (sending / failed with Retry and
// Discard; committed ones show a check), older history on scroll to the top, and resume gaps
// (`sync:gap`) as markers that page themselves in when scrolled to. Nodes are cached per
// message and moved, not rebuilt, so appends are smooth and the scroll position is kept.

import { h, icon, initials, hueClass } from '../dom.js';
import { state, conv, channelTitle } from '../state.js';
import { time, full, dayKey, dayLabel, minutesBetween, linkify } from '../format.js';

const NEAR_BOTTOM_PX = 120;
const NEAR_TOP_PX = 160;

/**
 * @param {HTMLElement} list  the scroll container
 * @param {object} actions  { loadOlder(id), loadGap(id, gap), retry(channelId, clientId),
 *   dismiss(channelId, clientId) }
 */
export function mountMessages(list, actions) {
  let channelId = null;
  let cache = new Map();
  let lastRenderedKey = null;
  let pendingJump = false;
  let animateNew = false;
  const intro = h('div.intro');
  const loader = h('div.loader', { testid: 'history-loader' }, h('span.spinner'), 'Loading messages…');
  // "New messages" pill: a zero-height sticky holder at the end of the list, so showing it
  // never shifts the messages.
  const jumpBtn = h('button.jump', {
    type: 'button', testid: 'jump-latest',
    on: { click: () => list.scrollTo({ top: list.scrollHeight, behavior: 'smooth' }) },
  }, icon('arrowDown'), 'New messages');
  const jump = h('div.jump-holder', { hidden: true }, jumpBtn);
  const isNearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;

  list.addEventListener('scroll', () => {
    if (channelId && list.scrollTop < NEAR_TOP_PX) actions.loadOlder(channelId);
    loadVisibleGaps();
    if (!jump.hidden && isNearBottom()) jump.hidden = true;
  }, { passive: true });

  /** Gap markers on (or near) screen page themselves in. */
  function loadVisibleGaps() {
    if (!channelId) return;
    const c = conv(channelId);
    if (!c.gaps.length) return;
    const view = list.getBoundingClientRect();
    for (const g of c.gaps) {
      const node = cache.get(gapKey(g));
      if (!node || !node.isConnected) continue;
      const r = node.getBoundingClientRect();
      if (r.bottom > view.top - NEAR_TOP_PX && r.top < view.bottom + NEAR_TOP_PX) actions.loadGap(channelId, g);
    }
  }

  /**
   * The first message (or gap) at least partly visible: what the reader is looking at. The
   * loader, intro and day separators never anchor (they stay at the top or move with days).
   */
  function anchorNode() {
    const top = list.getBoundingClientRect().top;
    for (const child of list.children) {
      const key = child.dataset.key;
      if (!key || key.startsWith('d:')) continue;
      if (child.getBoundingClientRect().bottom > top + 1) return child;
    }
    return null;
  }

  function open(id) {
    channelId = id;
    cache = new Map();
    lastRenderedKey = null;
    pendingJump = true;
    jump.hidden = true;
    list.replaceChildren();
    render();
  }

  function render() {
    if (!channelId) return;
    const c = conv(channelId);
    const firstPaint = pendingJump;
    if (c.loaded) pendingJump = false;
    animateNew = !firstPaint;
    const ch = state.channels.get(channelId);
    const nearBottom = isNearBottom();
    const anchor = firstPaint ? null : anchorNode();
    const anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;

    const nodes = [];
    if (!c.loaded) nodes.push(loader);
    else if (c.hasOlder) nodes.push(loader);
    else nodes.push(renderIntro(ch));

    const gaps = [...c.gaps];
    let prev = null;
    let afterGap = false;
    for (const m of c.messages) {
      // A resume gap sits right above the first message after it.
      while (gaps.length && m.seq >= gaps[0].before) {
        nodes.push(gapNode(gaps.shift()));
        afterGap = true;
      }
      const day = dayKey(m.created_at);
      if (!prev || dayKey(prev.created_at) !== day) nodes.push(separator(day, m.created_at));
      const cont = Boolean(prev && !afterGap && prev.sender.id === m.sender.id && dayKey(prev.created_at) === day
        && minutesBetween(prev.created_at, m.created_at) < 5);
      // My own message replacing its pending bubble should not animate in a second time.
      const wasPending = cache.has(`p:${m.client_id}:sending`) || cache.has(`p:${m.client_id}:failed`);
      const node = messageNode(m.id, () => bubble(m, false), !wasPending);
      node.classList.toggle('cont', cont);
      nodes.push(node);
      prev = m;
      afterGap = false;
    }
    for (const g of gaps) nodes.push(gapNode(g));
    for (const p of c.pending) {
      const node = messageNode(`p:${p.client_id}:${p.state}`, () => bubble(p, true));
      nodes.push(node);
    }
    const newest = nodes[nodes.length - 1];
    patch([...nodes, jump]);

    const newestKey = newest && newest.dataset.key;
    const appended = newestKey !== lastRenderedKey;
    lastRenderedKey = newestKey;
    const mineAppended = appended && newest && newest.classList.contains('mine');
    if (firstPaint) {
      list.scrollTop = list.scrollHeight;
    } else if (appended && (nearBottom || mineAppended)) {
      // Follow the conversation; a big batch (a resume) jumps instead of gliding through it.
      const distance = list.scrollHeight - list.clientHeight - list.scrollTop;
      if (distance > list.clientHeight * 1.5) list.scrollTop = list.scrollHeight;
      else list.scrollTo({ top: list.scrollHeight, behavior: 'smooth' });
    } else {
      // Content added or removed elsewhere (an older page, a gap filling in): keep what the
      // reader is looking at where it was.
      if (anchor && anchor.isConnected) list.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
      if (appended && c.loaded) jump.hidden = false;
    }
    // A short first page may not fill the view: keep loading until it scrolls.
    if (c.loaded && c.hasOlder && list.scrollHeight <= list.clientHeight + NEAR_TOP_PX) {
      actions.loadOlder(channelId);
    }
    if (c.gaps.length) queueMicrotask(loadVisibleGaps);
  }

  function messageNode(key, build, animate = true) {
    let node = cache.get(key);
    if (!node) {
      node = build();
      node.dataset.key = key;
      if (animate && animateNew) {
        node.classList.add('enter');
        node.addEventListener('animationend', () => node.classList.remove('enter'), { once: true });
      }
      cache.set(key, node);
    }
    return node;
  }

  function gapKey(g) {
    return `g:${g.after}`;
  }

  /** A resume gap: messages known to exist, not loaded yet (they load when scrolled to). */
  function gapNode(g) {
    const n = g.before - g.after - 1;
    const node = messageNode(gapKey(g), () => h('div.gap', { testid: 'history-gap', role: 'status' },
      h('span.spinner'), h('span.gap-text')));
    node.dataset.after = String(g.after);
    node.dataset.before = String(g.before);
    node.lastChild.textContent = `Loading ${n} earlier message${n === 1 ? '' : 's'}…`;
    return node;
  }

  function separator(day, iso) {
    return messageNode(`d:${day}`, () => h('div.day-sep', { role: 'separator', testid: 'day-separator' },
      h('span', { text: dayLabel(iso) })));
  }

  function renderIntro(ch) {
    const title = ch ? channelTitle(ch) : '';
    let text = '';
    if (ch && ch.kind === 'dm') text = `This is the beginning of your conversation with ${title}.`;
    else if (ch && ch.kind === 'private') text = `This is the very beginning of the private channel ${title}.`;
    else if (ch) text = `This is the very beginning of #${title}.`;
    const kindIcon = { dm: 'chat', private: 'lock', public: 'hash' }[ch ? ch.kind : 'public'];
    intro.replaceChildren(h('span.intro-icon', null, icon(kindIcon)), h('p', { text }));
    return intro;
  }

  function bubble(m, pending) {
    const mine = pending || (state.me && m.sender.id === state.me.id);
    const sender = pending ? state.me : m.sender;
    const failed = pending && m.state === 'failed';
    const msgState = pending ? (failed ? 'failed' : 'sending') : (mine ? 'sent' : '');
    const cls = ['msg', mine ? 'mine' : 'theirs', pending && 'pending', failed && 'failed'].filter(Boolean).join(' ');
    const stamp = h('time.msg-time', { datetime: m.created_at, title: full(m.created_at), text: time(m.created_at) });
    let meta = null;
    if (pending && failed) {
      meta = [
        h('span.msg-status', { testid: 'message-status', title: m.error || '' }, icon('alert'), 'Not sent'),
        h('span.msg-actions', null,
          h('button.link-btn', {
            type: 'button', testid: 'message-retry', text: 'Retry',
            on: { click: () => actions.retry(m.channel_id, m.client_id) },
          }),
          h('button.link-btn.muted', {
            type: 'button', testid: 'message-discard', text: 'Discard',
            on: { click: () => actions.dismiss(m.channel_id, m.client_id) },
          })),
      ];
    } else if (pending) {
      meta = h('span.msg-status', { testid: 'message-status' }, icon('clock'), 'Sending…');
    } else if (mine) {
      meta = [stamp, h('span.msg-sent', { title: 'Sent', 'aria-label': 'Sent' }, icon('check'))];
    }
    return h('div', {
      class: cls, testid: 'message', role: 'article',
      dataset: {
        seq: pending ? '' : String(m.seq), mine: String(Boolean(mine)), sender: sender ? sender.username : '',
        state: msgState, clientId: m.client_id || '',
      },
    },
    mine ? null : h(`span.avatar.${hueClass(sender.id)}`, { 'aria-hidden': 'true', text: initials(sender.display_name) }),
    h('div.msg-main', null,
      mine ? null : h('div.msg-meta', null,
        h('span.msg-author', { testid: 'message-author', text: sender.display_name }),
        stamp),
      h('div.bubble', null, h('p.msg-body', { testid: 'message-body' }, linkify(m.body))),
      mine ? h('div.msg-meta', null, meta) : null,
      failed && m.error ? h('p.msg-error', { testid: 'message-error', text: m.error }) : null));
  }

  /** Minimal DOM patch: put `nodes` in order as the list's children, moving only what moved. */
  function patch(nodes) {
    const want = new Set(nodes);
    for (const child of [...list.children]) if (!want.has(child)) child.remove();
    let cursor = list.firstChild;
    for (const node of nodes) {
      if (node === cursor) {
        cursor = cursor.nextSibling;
      } else {
        list.insertBefore(node, cursor);
      }
    }
  }

  return { open, render, get channelId() { return channelId; } };
}
