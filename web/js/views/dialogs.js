// Modal dialogs (create a channel, browse public channels, pick a user for a DM or an invite,
// who received and read a message) and transient toasts. Built on <dialog> with showModal();
// server strings render as text.

import { api } from '../api.js';
import { h, replace, icon, initials, hueClass } from '../dom.js';
import { state } from '../state.js';

/** Opens a modal; returns { dialog, close, error(text), errorEl } (errorEl may be moved). */
function modal(title, testid, ...content) {
  const error = h('p.form-error', { role: 'alert', testid: 'dialog-error', hidden: true });
  const dialog = h('dialog.modal.glass', { testid, 'aria-label': title },
    h('div.modal-head', null,
      h('h2', { text: title }),
      h('button.icon-btn', { type: 'button', 'aria-label': 'Close', testid: 'dialog-close', on: { click: () => close() } }, icon('close'))),
    content, error);
  dialog.addEventListener('close', () => dialog.remove());
  dialog.addEventListener('click', (ev) => {
    if (ev.target === dialog) close(); // a click on the backdrop
  });
  document.body.append(dialog);
  dialog.showModal();
  function close() {
    if (dialog.open) dialog.close();
  }
  function showError(text) {
    error.textContent = text || '';
    error.hidden = !text;
  }
  return { dialog, close, error: showError, errorEl: error };
}

/** Create a channel (name, public/private, optional topic). Resolves via onCreated(channel). */
export function createChannelDialog(onCreated) {
  const name = h('input.input', {
    id: 'new-channel-name', required: true, maxlength: 64, placeholder: 'e.g. design-review',
    autocapitalize: 'none', spellcheck: 'false', testid: 'channel-name-input',
  });
  const topic = h('input.input', { id: 'new-channel-topic', maxlength: 256, placeholder: 'What is it about?', testid: 'channel-topic-input' });
  const pub = h('input', { type: 'radio', name: 'kind', value: 'public', checked: true, testid: 'channel-kind-public' });
  const priv = h('input', { type: 'radio', name: 'kind', value: 'private', testid: 'channel-kind-private' });
  const submit = h('button.btn.primary', { type: 'submit', text: 'Create channel', testid: 'create-channel-submit' });
  const form = h('form.modal-body', { novalidate: true },
    h('div.field', null, h('label', { for: 'new-channel-name', text: 'Name' }), name,
      h('p.hint', { text: 'Lower-case letters, digits, - and _.' })),
    h('div.field', null, h('label', { for: 'new-channel-topic', text: 'Topic (optional)' }), topic),
    h('fieldset.kind-pick', null, h('legend', { text: 'Visibility' }),
      h('label.radio', null, pub, h('span', null, icon('hash'), h('b', { text: 'Public' }), h('small', { text: 'Anyone can find and join' }))),
      h('label.radio', null, priv, h('span', null, icon('lock'), h('b', { text: 'Private' }), h('small', { text: 'Only people you invite' })))),
    h('div.modal-actions', null, submit));
  const m = modal('Create a channel', 'create-channel-dialog', form);
  form.lastChild.before(m.errorEl);
  name.addEventListener('input', () => {
    const folded = name.value.toLowerCase().replace(/\s+/g, '-');
    if (folded !== name.value) name.value = folded;
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    m.error('');
    try {
      const ch = await api.createChannel(name.value.trim(), priv.checked ? 'private' : 'public', topic.value.trim());
      m.close();
      onCreated(ch);
    } catch (e) {
      m.error(e.message);
    } finally {
      submit.disabled = false;
    }
  });
  name.focus();
}

/** Browse and join public channels. onOpen(channel) after joining or for one already joined. */
export function browseDialog(onOpen) {
  const search = h('input.input', { type: 'search', placeholder: 'Search channels', 'aria-label': 'Search channels', testid: 'browse-search' });
  const list = h('ul.pick-list', { testid: 'browse-list' });
  const m = modal('Public channels', 'browse-dialog', h('div.modal-body', null, searchBox(search), list));
  list.before(m.errorEl);
  let seq = 0;
  async function load() {
    const mine = ++seq;
    try {
      const { channels } = await api.publicChannels(search.value.trim().toLowerCase());
      if (mine !== seq) return;
      replace(list, channels.length ? channels.map(row) : h('li.empty', { text: 'No channels found' }));
    } catch (e) {
      m.error(e.message);
    }
  }
  function row(ch) {
    const joined = Boolean(ch.membership);
    const btn = h('button.btn.small', {
      type: 'button', class: joined ? 'ghost' : 'primary', text: joined ? 'Open' : 'Join',
      testid: 'browse-join', dataset: { channelName: ch.name },
      on: {
        click: async () => {
          btn.disabled = true;
          try {
            const joinedCh = joined ? ch : await api.join(ch.id);
            m.close();
            onOpen(joinedCh);
          } catch (e) {
            m.error(e.message);
            btn.disabled = false;
          }
        },
      },
    });
    return h('li.pick-row', null,
      h('span.chan-icon', null, icon('hash')),
      h('div.pick-text', null, h('b', { text: ch.name }),
        h('small', { text: `${ch.member_count} member${ch.member_count === 1 ? '' : 's'}${ch.topic ? ` · ${ch.topic}` : ''}` })),
      btn);
  }
  search.addEventListener('input', debounce(load, 200));
  load();
  search.focus();
}

/**
 * Pick a user by search. `onPick(user)` returns a promise; the dialog closes when it resolves
 * and shows its error otherwise.
 */
export function userPickerDialog({ title, testid, actionLabel, exclude = [], onPick }) {
  const search = h('input.input', {
    type: 'search', placeholder: 'Search people by name', 'aria-label': 'Search people',
    autocapitalize: 'none', spellcheck: 'false', testid: 'user-search-input',
  });
  const list = h('ul.pick-list', { testid: 'user-results' });
  const m = modal(title, testid, h('div.modal-body', null, searchBox(search), list));
  list.before(m.errorEl);
  const skip = new Set([state.me && state.me.id, ...exclude]);
  let seq = 0;
  async function load() {
    const mine = ++seq;
    try {
      const { users } = await api.searchUsers(search.value.trim());
      if (mine !== seq) return;
      const shown = users.filter((u) => !skip.has(u.id));
      replace(list, shown.length ? shown.map(row) : h('li.empty', { text: 'Nobody found' }));
    } catch (e) {
      m.error(e.message);
    }
  }
  function row(u) {
    const btn = h('button.btn.small.primary', {
      type: 'button', text: actionLabel, testid: 'user-result', dataset: { username: u.username },
      on: {
        click: async () => {
          btn.disabled = true;
          m.error('');
          try {
            await onPick(u);
            m.close();
          } catch (e) {
            m.error(e.message);
            btn.disabled = false;
          }
        },
      },
    });
    return h('li.pick-row', null,
      h(`span.avatar.${hueClass(u.id)}`, { text: initials(u.display_name) }),
      h('div.pick-text', null, h('b', { text: u.display_name }), h('small', { text: `@${u.username}` })),
      btn);
  }
  search.addEventListener('input', debounce(load, 200));
  load();
  search.focus();
}

/** Asks a yes/no question; resolves true when the action button is pressed. */
export function confirmDialog(title, text, actionLabel) {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h('button.btn.primary', { type: 'button', text: actionLabel, testid: 'confirm-yes' });
    const no = h('button.btn.ghost', { type: 'button', text: 'Cancel', testid: 'confirm-no' });
    const m = modal(title, 'confirm-dialog', h('div.modal-body', null,
      h('p', { text }), h('div.modal-actions', null, no, yes)));
    yes.addEventListener('click', () => {
      answer = true;
      m.close();
    });
    no.addEventListener('click', () => m.close());
    m.dialog.addEventListener('close', () => resolve(answer));
    yes.focus();
  });
}

/**
 * Who received and read my message `m` (GET /api/messages/:channelId/:seq/receipts): each
 * member by name in small channels, counts in big ones.
 */
export function receiptsDialog(m) {
  const summary = h('p.receipt-summary', { testid: 'receipts-summary', text: 'Loading…' });
  const list = h('ul.pick-list', { testid: 'receipts-list' });
  const quote = h('p.receipt-quote', { text: m.body });
  const mm = modal('Message info', 'receipts-dialog', h('div.modal-body', null, quote, summary, list));
  list.before(mm.errorEl);
  api.receipts(m.channel_id, m.seq).then((r) => {
    const others = r.recipients;
    summary.textContent = others === 0
      ? 'Nobody else is in this conversation yet.'
      : `Read by ${r.read_count} of ${others} · delivered to ${r.delivered_count} of ${others}`;
    const order = { read: 0, delivered: 1, sent: 2 };
    const rows = r.members.map((x) => ({ user: x.user, st: x.read ? 'read' : x.delivered ? 'delivered' : 'sent' }))
      .sort((a, b) => order[a.st] - order[b.st] || a.user.display_name.localeCompare(b.user.display_name));
    const label = { read: 'Read', delivered: 'Delivered', sent: 'Not delivered yet' };
    replace(list, rows.map(({ user, st }) => h('li.pick-row', { testid: 'receipt-row', dataset: { username: user.username, state: st } },
      h(`span.avatar.${hueClass(user.id)}`, { text: initials(user.display_name) }),
      h('div.pick-text', null, h('b', { text: user.display_name }), h('small', { text: `@${user.username}` })),
      h('span.receipt-state', { dataset: { receipt: st } }, icon(st === 'sent' ? 'check' : 'checks'), label[st]))));
  }).catch((e) => {
    summary.textContent = '';
    mm.error(e.message);
  });
}

function searchBox(input) {
  return h('div.search-box', null, icon('search'), input);
}

function debounce(fn, ms) {
  let t = null;
  return () => {
    clearTimeout(t);
    t = setTimeout(fn, ms);
  };
}

let host = null;

export function toast(text, kind = 'error') {
  if (!host) {
    host = h('div.toasts', { role: 'status', 'aria-live': 'polite', testid: 'toasts' });
    document.body.append(host);
  }
  const note = h('div.toast', { class: kind, text });
  host.append(note);
  setTimeout(() => {
    note.classList.add('leaving');
    setTimeout(() => note.remove(), 300);
  }, 4500);
}
