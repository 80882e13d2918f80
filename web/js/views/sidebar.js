// The channel sidebar: connection status, channels, DMs (with the peer's presence) with
// unread and mention badges, and the account footer with my status (online / do not
// disturb; away is automatic) and log-out. On narrow screens it is a slide-over drawer (see
// app.js).

import { h, replace, icon } from '../dom.js';
import { state, on, unread, mentions, channelTitle, statusOf } from '../state.js';
import { avatar, STATUS_LABEL } from './presence.js';

const STATUS_TEXT = {
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline · retrying',
};

/**
 * @param {HTMLElement} root
 * @param {object} actions  { select(id), createChannel(), browse(), newDm(), logout(), close(),
 *   toggleDnd() }
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
    const at = mentions(ch);
    const active = ch.id === state.activeId;
    const lead = ch.kind === 'dm'
      ? avatar(ch.peer || { id: ch.id, display_name: channelTitle(ch) }, { size: 'sm', dot: Boolean(ch.peer) })
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
      at > 0 && n > 0 ? h('span.badge.mention', {
        testid: 'mention-badge', text: '@', title: `${at} mention${at === 1 ? '' : 's'}`, 'aria-label': `${at} unread mention${at === 1 ? '' : 's'}`,
      }) : null,
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
    const status = statusOf(me.id) === 'offline' ? 'online' : statusOf(me.id);
    replace(footer,
      avatar(me),
      h('div.me-names', null,
        h('span.me-name', { testid: 'me-name', text: me.display_name }),
        h('span.me-handle', null,
          h('span', { text: `@${me.username}` }),
          h('button.status-btn', {
            type: 'button', testid: 'status-toggle', dataset: { status },
            title: status === 'dnd' ? 'Turn off do not disturb' : 'Turn on do not disturb',
            on: { click: actions.toggleDnd },
          }, h('span.status-dot'), h('span', { text: STATUS_LABEL[status] })))),
      h('button.icon-btn', {
        type: 'button', title: 'Log out', 'aria-label': 'Log out', testid: 'logout',
        on: { click: actions.logout },
      }, icon('logout')));
  }

  const offs = [
    on('conn', renderStatus), on('channels', renderChannels), on('active', renderChannels), on('me', renderMe),
    on('presence', (id) => { if (!id || (state.me && id === state.me.id)) renderMe(); }),
  ];
  renderStatus();
  renderChannels();
  renderMe();
  return () => offs.forEach((off) => off());
}

function sectionHead(title, ...buttons) {
  return h('div.side-section', null, h('h2', { text: title }), h('div.side-actions', null, buttons));
}
