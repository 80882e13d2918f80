// The channel sidebar: connection status, channels, DMs with unread badges, and the account
// footer with log-out. On narrow screens it is a slide-over drawer (see app.js).

import { h, replace, icon, initials, hueClass } from '../dom.js';
import { state, on, unread, channelTitle } from '../state.js';

const STATUS_TEXT = {
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline · retrying',
};

/**
 * @param {HTMLElement} root
 * @param {object} actions  { select(id), createChannel(), browse(), newDm(), logout(), close() }
 */
export function mountSidebar(root, actions) {
  const status = h('div.conn', { testid: 'conn-status', role: 'status', 'aria-live': 'polite' },
    h('span.conn-dot'), h('span.conn-text'));
  const channelList = h('ul.chan-list', { testid: 'channel-list', 'aria-label': 'Channels' });
  const dmList = h('ul.chan-list', { testid: 'dm-list', 'aria-label': 'Direct messages' });
  const footer = h('div.me');

  replace(root,
    h('div.side-head', null,
      h('div.brand', null, h('img', { src: '/icon.svg', alt: '', width: 28, height: 28 }), h('span', { text: 'Banter' })),
      h('button.icon-btn.only-mobile', {
        type: 'button', 'aria-label': 'Close menu', testid: 'sidebar-close', on: { click: actions.close },
      }, icon('close'))),
    status,
    h('nav.side-scroll', { 'aria-label': 'Conversations' },
      sectionHead('Channels',
        h('button.icon-btn', {
          type: 'button', title: 'Browse public channels', 'aria-label': 'Browse public channels',
          testid: 'browse-channels', on: { click: actions.browse },
        }, icon('compass')),
        h('button.icon-btn', {
          type: 'button', title: 'Create a channel', 'aria-label': 'Create a channel',
          testid: 'create-channel', on: { click: actions.createChannel },
        }, icon('plus'))),
      channelList,
      sectionHead('Direct messages',
        h('button.icon-btn', {
          type: 'button', title: 'New direct message', 'aria-label': 'New direct message',
          testid: 'new-dm', on: { click: actions.newDm },
        }, icon('plus'))),
      dmList),
    footer);

  function renderStatus() {
    status.dataset.state = state.conn;
    status.lastChild.textContent = STATUS_TEXT[state.conn] || state.conn;
  }

  function item(ch) {
    const n = unread(ch);
    const active = ch.id === state.activeId;
    const lead = ch.kind === 'dm'
      ? h(`span.avatar.avatar-sm.${hueClass(ch.peer ? ch.peer.id : ch.id)}`, { text: initials(channelTitle(ch)) })
      : h('span.chan-icon', null, icon(ch.kind === 'private' ? 'lock' : 'hash'));
    return h('li', null,
      h('button.chan-item', {
        type: 'button',
        class: [active && 'active', n > 0 && 'has-unread'].filter(Boolean).join(' '),
        testid: 'channel-item',
        dataset: { channelId: ch.id, channelName: channelTitle(ch), kind: ch.kind },
        'aria-current': active ? 'page' : null,
        on: { click: () => actions.select(ch.id) },
      },
      lead,
      h('span.chan-name', { text: channelTitle(ch) }),
      n > 0 ? h('span.badge', { testid: 'unread-badge', text: n > 99 ? '99+' : String(n), 'aria-label': `${n} unread` }) : null));
  }

  function renderChannels() {
    const all = [...state.channels.values()];
    const byName = (a, b) => channelTitle(a).localeCompare(channelTitle(b));
    const rooms = all.filter((c) => c.kind !== 'dm').sort((a, b) => {
      if (a.name === 'general') return -1;
      if (b.name === 'general') return 1;
      return byName(a, b);
    });
    const dms = all.filter((c) => c.kind === 'dm').sort(byName);
    replace(channelList, rooms.map(item));
    replace(dmList, dms.length ? dms.map(item) : h('li.empty', { text: 'No conversations yet' }));
  }

  function renderMe() {
    const me = state.me;
    if (!me) return replace(footer);
    replace(footer,
      h(`span.avatar.${hueClass(me.id)}`, { text: initials(me.display_name) }),
      h('div.me-names', null,
        h('span.me-name', { testid: 'me-name', text: me.display_name }),
        h('span.me-handle', { text: `@${me.username}` })),
      h('button.icon-btn', {
        type: 'button', title: 'Log out', 'aria-label': 'Log out', testid: 'logout',
        on: { click: actions.logout },
      }, icon('logout')));
  }

  const offs = [on('conn', renderStatus), on('channels', renderChannels), on('active', renderChannels), on('me', renderMe)];
  renderStatus();
  renderChannels();
  renderMe();
  return () => offs.forEach((off) => off());
}

function sectionHead(title, ...buttons) {
  return h('div.side-section', null, h('h2', { text: title }), h('div.side-actions', null, buttons));
}
