// The conversation header: drawer toggle (mobile), channel title and topic, member count, and
// the invite button for owners/admins and a leave button (not for DMs or #general). On narrow
// screens, where the sidebar's connection status is hidden in the drawer, a small pill shows
// any state other than connected.

import { h, replace, icon, initials, hueClass } from '../dom.js';
import { state, on, channelTitle, unread } from '../state.js';

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

  function render() {
    const ch = state.channels.get(state.activeId);
    // Unread elsewhere: a dot on the drawer toggle so mobile users notice.
    menuBadge.hidden = ![...state.channels.values()].some((c) => c.id !== state.activeId && unread(c) > 0);
    if (!ch) {
      title.textContent = 'Banter';
      sub.textContent = '';
      replace(lead);
      replace(tools);
      return;
    }
    title.textContent = ch.kind === 'dm' ? channelTitle(ch) : ch.name;
    title.dataset.kind = ch.kind;
    if (ch.kind === 'dm') {
      const peer = ch.peer || { id: ch.id, display_name: ch.name, username: ch.name };
      replace(lead, h(`span.avatar.${hueClass(peer.id)}`, { text: initials(peer.display_name) }));
      sub.textContent = `@${peer.username} · direct message`;
    } else {
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

  const offs = [on('channels', render), on('active', render), on('conn', renderConn)];
  render();
  renderConn();
  return () => offs.forEach((off) => off());
}
