// Banter web client entry point: decides between the auth screen and the chat shell, wires
// the gateway to state and the views, and handles navigation, the mobile drawer and log-out.

import { api, NetworkError } from './api.js';
import { $, h } from './dom.js';
import { Gateway } from './gateway.js';
import {
  state, on, reset, setConn, setActive, upsertChannel, unread, channelTitle,
} from './state.js';
import * as sync from './sync.js';
import * as live from './live.js';
import { renderAuth } from './views/auth.js';
import { mountSidebar } from './views/sidebar.js';
import { mountHeader } from './views/header.js';
import { mountMessages } from './views/messages.js';
import { mountComposer } from './views/composer.js';
import { mountTyping } from './views/typing.js';
import { mountPresenceDots } from './views/presence.js';
import { openMessageMenu } from './views/menu.js';
import {
  createChannelDialog, browseDialog, userPickerDialog, confirmDialog, receiptsDialog, toast,
} from './views/dialogs.js';

const els = {
  app: $('#app'),
  auth: $('#auth'),
  shell: $('#shell'),
  sidebar: $('#sidebar'),
  scrim: $('#scrim'),
  header: $('#conv-header'),
  messages: $('#messages'),
  typing: $('#typing'),
  composer: $('#composer'),
};

const gateway = new Gateway({
  onFrame: sync.handleFrame,
  onStatus: setConn,
  onRevoked: () => showAuth('You were signed out.'),
  checkSession: async () => {
    try {
      await api.me();
      return true;
    } catch (e) {
      if (e.status === 401) return false;
      if (e instanceof NetworkError) throw e; // server unreachable: wait and retry
      return true; // any other answer: the socket attempt will tell
    }
  },
});
sync.init({ gateway, notify: (text) => toast(text) });

let views = null;

live.init({
  gateway,
  notify: (text) => toast(text),
  // The newest messages of this channel are on screen: a new one is read as it arrives.
  isReading: (id) => Boolean(views && id === state.activeId && views.list.channelId === id
    && document.visibilityState === 'visible' && views.list.isNearBottom()),
});

/** Reports what the reader has on screen in the open channel as read. */
function markSeen() {
  if (!views || !state.activeId || views.list.channelId !== state.activeId) return;
  live.markRead(state.activeId, views.list.seenSeq());
}

/** Copies text to the clipboard (the old way where the Clipboard API is not allowed: http). */
function copyText(text) {
  const done = () => toast('Copied.', 'ok');
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => toast('Could not copy.'));
    return;
  }
  const area = h('textarea.offscreen', { readonly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  if (ok) done();
  else toast('Could not copy.');
}

/** The menu of one message: reactions, Reply, Edit, Copy, Delete. */
function openMenu(m, anchor, opts = {}) {
  const ch = state.channels.get(m.channel_id);
  const mine = Boolean(state.me && m.sender.id === state.me.id);
  const role = ch && ch.membership && ch.membership.role;
  openMessageMenu(m, anchor, {
    pickerOnly: opts.pickerOnly,
    fromTouch: opts.fromTouch,
    canEdit: mine,
    canDelete: mine || role === 'owner' || role === 'admin',
    onReact: (emoji) => live.toggleReaction(m.channel_id, m.id, emoji),
    onReply: () => views.composer.reply(m),
    onEdit: () => views.composer.edit(m),
    onCopy: () => copyText(m.body),
    onDelete: async () => {
      const whose = mine ? '' : ` from ${m.sender.display_name}`;
      const ok = await confirmDialog(`Delete this message${whose}?`, 'Everyone will see "This message was deleted" instead.', 'Delete');
      if (ok) live.deleteMessage(m.channel_id, m.id).catch((e) => toast(e.message));
    },
  });
}

function mountViews() {
  const actions = {
    select: selectChannel,
    close: closeDrawer,
    toggleSidebar: () => {
      const open = els.shell.classList.toggle('drawer-open');
      if (open) {
        const target = els.sidebar.querySelector('.chan-item.active') || els.sidebar.querySelector('.chan-item');
        if (target) target.focus({ preventScroll: true });
      }
    },
    createChannel: () => createChannelDialog(opened),
    browse: () => browseDialog(opened),
    newDm: () => userPickerDialog({
      title: 'New direct message', testid: 'dm-dialog', actionLabel: 'Message',
      onPick: async (user) => opened(await api.openDm(user.id)),
    }),
    invite,
    leave,
    logout,
    toggleDnd: () => live.chooseStatus(live.chosen() === 'dnd' ? 'online' : 'dnd'),
  };
  mountSidebar(els.sidebar, actions);
  mountHeader(els.header, actions);
  const list = mountMessages(els.messages, {
    loadOlder: sync.loadOlder,
    loadGap: sync.loadGap,
    retry: sync.retryPending,
    dismiss: sync.discardPending,
    openMenu,
    react: (m, emoji) => live.toggleReaction(m.channel_id, m.id, emoji),
    reply: (m) => views.composer.reply(m),
    receipts: (m) => receiptsDialog(m),
    notify: (text) => toast(text, 'info'),
  });
  const composer = mountComposer(els.composer, {
    send: (body, replyTo) => {
      if (!state.activeId) return;
      sync.sendMessage(state.activeId, body, replyTo && replyTo.channel_id === state.activeId ? replyTo : null);
      list.clearDivider();
    },
    edit: (m, body) => live.editMessage(m.channel_id, m.id, body).catch((e) => toast(e.message)),
    typing: live.composing,
    stopTyping: live.stopTyping,
  });
  mountTyping(els.typing);
  mountPresenceDots();
  on('messages', (channelId) => {
    if (channelId === list.channelId) {
      list.render();
      markSeen();
    }
  });
  let seenFrame = 0;
  els.messages.addEventListener('scroll', () => {
    if (seenFrame) return;
    seenFrame = requestAnimationFrame(() => {
      seenFrame = 0;
      markSeen();
    });
  }, { passive: true });
  on('channels', updateTitle);
  on('ready', onReady);
  on('active-lost', () => selectChannel(defaultChannel()));
  on('conn', (s) => { els.app.dataset.conn = s; });
  return { list, composer };
}

function opened(ch) {
  upsertChannel(ch);
  selectChannel(ch.id);
}

async function invite(ch) {
  let exclude = [];
  try {
    exclude = (await api.members(ch.id)).members.map((m) => m.user.id);
  } catch {
    /* show everyone; inviting a member again is a no-op */
  }
  userPickerDialog({
    title: `Invite to ${ch.kind === 'private' ? '' : '#'}${ch.name}`, testid: 'invite-dialog', actionLabel: 'Invite', exclude,
    onPick: async (user) => {
      upsertChannel(await api.invite(ch.id, user.id));
      toast(`${user.display_name} was added to ${ch.name}.`, 'ok');
    },
  });
}

async function leave(ch) {
  const note = ch.kind === 'private'
    ? 'It is private: you will need a new invitation to come back.'
    : 'You can join it again from the channel directory.';
  if (!(await confirmDialog(`Leave ${ch.name}?`, note, 'Leave'))) return;
  try {
    await api.leave(ch.id);
    sync.forgetChannel(ch.id); // channel:left follows on the socket; removing twice is harmless
    if (state.activeId === ch.id) selectChannel(defaultChannel());
  } catch (e) {
    toast(e.message);
  }
}

function defaultChannel() {
  const all = [...state.channels.values()];
  const general = all.find((c) => c.kind === 'public' && c.name === 'general');
  return (general || all[0] || {}).id || null;
}

function channelFromHash() {
  const m = /^#\/c\/([0-9a-f-]{36})$/i.exec(location.hash);
  return m && state.channels.has(m[1]) ? m[1] : null;
}

function onReady() {
  const id = (state.activeId && state.channels.has(state.activeId) && state.activeId) || channelFromHash() || defaultChannel();
  if (id && id !== views.list.channelId) selectChannel(id);
  else if (id) sync.loadLatest(id);
}

function selectChannel(id) {
  if (!id || !state.channels.has(id)) return;
  const ch = state.channels.get(id);
  setActive(id);
  if (location.hash !== `#/c/${id}`) history.replaceState(null, '', `#/c/${id}`);
  views.composer.setChannel(ch);
  views.list.open(id);
  sync.loadLatest(id);
  sync.refreshIfStale(id);
  // Refresh member count and topic, which no event updates.
  api.channel(id).then((fresh) => {
    if (state.channels.has(id)) upsertChannel(fresh);
  }).catch(() => { /* keep what we have */ });
  markSeen();
  closeDrawer();
  if (matchMedia('(min-width: 768px)').matches) views.composer.focus();
  updateTitle();
}

function closeDrawer() {
  els.shell.classList.remove('drawer-open');
}

function updateTitle() {
  const total = [...state.channels.values()].reduce((n, c) => n + unread(c), 0);
  const ch = state.channels.get(state.activeId);
  const name = ch ? `${ch.kind === 'public' ? '#' : ''}${channelTitle(ch)} · Banter` : 'Banter';
  document.title = total > 0 ? `(${total}) ${name}` : name;
}

async function showShell(me) {
  state.me = me;
  els.auth.hidden = true;
  els.shell.hidden = false;
  els.app.dataset.screen = 'chat';
  if (!views) views = mountViews();
  // Unsent messages from an earlier visit are back in their channels ("Sending…") before the
  // socket opens; they go out once the connection has resumed.
  await sync.restoreOutbox(me);
  if (state.me === me) gateway.start();
}

function showAuth(notice) {
  gateway.stop();
  sync.resetSession();
  reset();
  if (views) {
    views.list.open(null);
    views.composer.reset();
  }
  setConn('offline');
  els.shell.hidden = true;
  els.auth.hidden = false;
  els.app.dataset.screen = 'auth';
  document.title = 'Banter';
  renderAuth(els.auth, showShell);
  if (notice) toast(notice, 'info');
}

async function logout() {
  gateway.stop();
  try {
    await api.logout();
  } catch (e) {
    if (e.status !== 401) toast(`Log-out failed: ${e.message}`);
  }
  history.replaceState(null, '', '/');
  showAuth();
}

async function boot(attempt = 0) {
  try {
    showShell(await api.me());
  } catch (e) {
    if (e.status === 401 || e.status === 404) {
      showAuth();
    } else {
      els.app.dataset.screen = 'loading';
      setTimeout(() => boot(attempt + 1), Math.min(10000, 500 * 2 ** attempt));
    }
  }
}

document.addEventListener('visibilitychange', markSeen);
window.addEventListener('focus', markSeen);
window.addEventListener('hashchange', () => {
  const id = channelFromHash();
  if (id && id !== state.activeId) selectChannel(id);
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') closeDrawer();
});
els.scrim.addEventListener('click', closeDrawer);

if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js').catch(() => { /* the app works without it */ });
}

boot();
