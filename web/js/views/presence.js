// Avatars with a presence dot (online green, away amber, do-not-disturb red, offline grey).
// Dots are tagged with their user id, so a `presence:change` updates every dot on screen in
// place, including those inside cached message bubbles.

import { h, initials, hueClass } from '../dom.js';
import { on, statusOf } from '../state.js';

export const STATUS_LABEL = {
  online: 'Online', away: 'Away', dnd: 'Do not disturb', offline: 'Offline',
};

/** A presence dot for a user. */
export function presenceDot(userId) {
  const status = statusOf(userId);
  return h('span.presence', {
    testid: 'presence', dataset: { user: userId, status }, title: STATUS_LABEL[status], 'aria-label': STATUS_LABEL[status], role: 'img',
  });
}

/**
 * An avatar bubble (initials on a colour from the id), with a presence dot unless
 * `dot: false`. `size`: '' | 'sm'.
 */
export function avatar(user, { size = '', dot = true, label = null } = {}) {
  const id = user ? user.id : '';
  const name = label || (user ? user.display_name : '?');
  return h(`span.avatar.${hueClass(id)}${size ? `.avatar-${size}` : ''}`, { 'aria-hidden': 'true' },
    h('span.avatar-text', { text: initials(name) }),
    dot && id ? presenceDot(id) : null);
}

/** Keeps every dot on screen current; returns unsubscribe. */
export function mountPresenceDots() {
  return on('presence', (userId) => {
    const sel = userId ? `.presence[data-user="${CSS.escape(userId)}"]` : '.presence[data-user]';
    for (const el of document.querySelectorAll(sel)) {
      const status = statusOf(el.dataset.user);
      if (el.dataset.status === status) continue;
      el.dataset.status = status;
      el.title = STATUS_LABEL[status];
      el.setAttribute('aria-label', STATUS_LABEL[status]);
    }
  });
}
