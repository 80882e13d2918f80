// Banter web client entry point: decides between the auth screen and the chat shell, wires
// the gateway to state and the views, and handles navigation, the mobile drawer and log-out.

import { api, NetworkError } from './api.js';
import { $ } from './dom.js';
import { Gateway } from './gateway.js';
import {
  state, on, reset, setConn, setActive, upsertChannel, unread, channelTitle,
} from './state.js';
import * as sync from './sync.js';
import { renderAuth } from './views/auth.js';
import { mountSidebar } from './views/sidebar.js';
import { mountHeader } from './views/header.js';
import { mountMessages } from './views/messages.js';
import { mountComposer } from './views/composer.js';
import {
  createChannelDialog, browseDialog, userPickerDialog, confirmDialog, toast,
} from './views/dialogs.js';

const els = {
  app: $('#app'),
  auth: $('#auth'),
  shell: $('#shell'),
  sidebar: $('#sidebar'),
  scrim: $('#scrim'),
  header: $('#conv-header'),
  messages: $('#messages'),
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
  };
  mountSidebar(els.sidebar, actions);
  mountHeader(els.header, actions);
  const list = mountMessages(els.messages, {
    loadOlder: sync.loadOlder,
    loadGap: sync.loadGap,
    retry: sync.retryPending,
    dismiss: sync.discardPending,
  });
  const composer = mountComposer(els.composer, (body) => {
    if (state.activeId) sync.sendMessage(state.activeId, body);
  });
  on('messages', (channelId) => {
    if (channelId === list.channelId) {
      list.render();
      sync.markReadSoon();
    }
  });
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
  // Refresh member count and topic, which no event updates.
  api.channel(id).then((fresh) => {
    if (state.channels.has(id)) upsertChannel(fresh);
  }).catch(() => { /* keep what we have */ });
  sync.markReadSoon();
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

document.addEventListener('visibilitychange', () => sync.markReadSoon());
window.addEventListener('focus', () => sync.markReadSoon());
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
