// The conversation header: drawer toggle (mobile), channel title and topic, member count, and
// the invite button for owners/admins and a leave button (not for DMs or #general). A DM shows
// the peer's presence ("Online", "Away", "last seen 5 minutes ago") or "typing…". On narrow
// screens, where the sidebar's connection status is hidden in the drawer, a small pill shows
// any state other than connected.

import { h, replace, icon } from '../dom.js';
import { state, on, channelTitle, unread, statusOf } from '../state.js';
import { lastSeen } from '../format.js';
import { refreshPresence } from '../live.js';
import { avatar, STATUS_LABEL } from './presence.js';

const PILL_TEXT = {
  connecting: 'Connecting',
  syncing: 'Syncing',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
};

/**
 * @param {HTMLElement} root
 * @param {object} actions  { toggleSidebar(), invite(channel), leave(channel) }
 */
export function mountHeader(root, actions) {
  const menuBadge = h('span.dot-badge', { hidden: true });
  const menu = h('button.icon-btn.only-mobile.menu-btn', {
    type: 'button', 'aria-label': 'Open channels', testid: 'menu-toggle', on: { click: actions.toggleSidebar },
  }, icon('menu'), menuBadge);
  const lead = h('span.head-lead');
  const title = h('h1.conv-title', { testid: 'channel-title' });
  const sub = h('p.conv-sub', { testid: 'channel-topic' });
  const tools = h('div.head-tools');
  const pill = h('span.conn-pill.only-mobile', { testid: 'conn-pill', role: 'status', hidden: true },
    h('span.conn-dot'), h('span.conn-pill-text'));
  replace(root, menu, lead, h('div.head-text', null, title, sub), pill, tools);

  function renderConn() {
    const s = state.conn;
    pill.hidden = s === 'connected';
    pill.dataset.state = s;
    pill.lastChild.textContent = PILL_TEXT[s] || s;
  }

  /** The DM peer whose last-seen time was asked for (once per opening). */
  let askedFor = null;

  function render() {
    const ch = state.channels.get(state.activeId);
    root.dataset.status = '';
    // Unread elsewhere: a dot on the drawer toggle so mobile users notice.
    menuBadge.hidden = ![...state.channels.values()].some((c) => c.id !== state.activeId && unread(c) > 0);
    if (!ch) {
      title.textContent = 'Banter';
      sub.textContent = '';
      replace(lead);
      lead.dataset.user = '';
      replace(tools);
      return;
    }
    title.textContent = ch.kind === 'dm' ? channelTitle(ch) : ch.name;
    title.dataset.kind = ch.kind;
    if (ch.kind === 'dm') {
      const peer = ch.peer || { id: ch.id, display_name: ch.name, username: ch.name };
      if (!lead.firstChild || lead.dataset.user !== peer.id) {
        replace(lead, avatar(peer, { dot: Boolean(ch.peer) }));
        lead.dataset.user = peer.id;
      }
      const status = statusOf(peer.id);
      const p = state.presence.get(peer.id);
      if (ch.peer && status === 'offline' && !(p && p.last_seen_at) && askedFor !== `${ch.id}:${peer.id}`) {
        askedFor = `${ch.id}:${peer.id}`;
        refreshPresence(peer.id);
      }
      const typing = (state.typing.get(ch.id) || []).includes(peer.id);
      root.dataset.status = typing ? 'typing' : status;
      const what = typing ? 'typing…' : (status === 'offline' ? lastSeen(p && p.last_seen_at) : STATUS_LABEL[status]);
      sub.textContent = `${what} · @${peer.username}`;
    } else {
      lead.dataset.user = '';
      replace(lead, h('span.chan-icon.lg', null, icon(ch.kind === 'private' ? 'lock' : 'hash')));
      const members = `${ch.member_count} member${ch.member_count === 1 ? '' : 's'}`;
      sub.textContent = ch.topic ? `${ch.topic} · ${members}` : `${ch.kind === 'private' ? 'Private · ' : ''}${members}`;
    }
    const role = ch.membership && ch.membership.role;
    const canInvite = ch.kind !== 'dm' && (role === 'owner' || role === 'admin');
    const canLeave = ch.kind !== 'dm' && !(ch.kind === 'public' && ch.name === 'general');
    replace(tools,
      canInvite ? h('button.btn.ghost.small', {
        type: 'button', testid: 'invite-button', title: 'Invite someone', on: { click: () => actions.invite(ch) },
      }, icon('userPlus'), h('span.hide-narrow', { text: 'Invite' })) : null,
      canLeave ? h('button.icon-btn', {
        type: 'button', testid: 'leave-button', title: 'Leave channel', 'aria-label': 'Leave channel',
        on: { click: () => actions.leave(ch) },
      }, icon('logout')) : null);
  }

  const isPeer = (id) => {
    const ch = state.channels.get(state.activeId);
    return ch && ch.kind === 'dm' && (!id || (ch.peer && ch.peer.id === id));
  };
  const offs = [
    on('channels', render), on('active', () => { askedFor = null; render(); }), on('conn', renderConn),
    on('presence', (id) => { if (isPeer(id)) render(); }),
    on('typing', (id) => { if (!id || id === state.activeId) render(); }),
  ];
  // "last seen 5 minutes ago" ages.
  const timer = setInterval(() => { if (isPeer(null)) render(); }, 60000);
  render();
  renderConn();
  return () => {
    offs.forEach((off) => off());
    clearInterval(timer);
  };
}
