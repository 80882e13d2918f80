// The message list of the open channel: bubbles (mine right, others left with name and time),
// day separators, pending sends, older history on scroll to the top. Nodes are cached per
// message and moved, not rebuilt, so appends are smooth and the scroll position is kept.

import { h, icon, initials, hueClass } from '../dom.js';
import { state, conv, channelTitle } from '../state.js';
import { time, full, dayKey, dayLabel, minutesBetween, linkify } from '../format.js';

const NEAR_BOTTOM_PX = 120;
const NEAR_TOP_PX = 160;

/**
 * @param {HTMLElement} list  the scroll container
 * @param {object} actions  { loadOlder(id), retry(channelId, clientId), dismiss(channelId, clientId) }
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
    if (!jump.hidden && isNearBottom()) jump.hidden = true;
  }, { passive: true });

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
    const prevHeight = list.scrollHeight;
    const prevTop = list.scrollTop;

    const nodes = [];
    if (!c.loaded) nodes.push(loader);
    else if (c.hasOlder) nodes.push(loader);
    else nodes.push(renderIntro(ch));

    let prev = null;
    for (const m of c.messages) {
      const day = dayKey(m.created_at);
      if (!prev || dayKey(prev.created_at) !== day) nodes.push(separator(day, m.created_at));
      const cont = Boolean(prev && prev.sender.id === m.sender.id && dayKey(prev.created_at) === day
        && minutesBetween(prev.created_at, m.created_at) < 5);
      // My own message replacing its pending bubble should not animate in a second time.
      const wasPending = cache.has(`p:${m.client_id}:p`);
      const node = messageNode(m.id, () => bubble(m, false), !wasPending);
      node.classList.toggle('cont', cont);
      nodes.push(node);
      prev = m;
    }
    for (const p of c.pending) {
      const node = messageNode(`p:${p.client_id}:${p.failed ? 'f' : 'p'}`, () => bubble(p, true));
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
      list.scrollTo({ top: list.scrollHeight, behavior: 'smooth' });
    } else {
      // Content added above (older page) or nothing at the bottom: keep what the reader sees.
      list.scrollTop = prevTop + (appended ? 0 : list.scrollHeight - prevHeight);
      if (appended && c.loaded) jump.hidden = false;
    }
    // A short first page may not fill the view: keep loading until it scrolls.
    if (c.loaded && c.hasOlder && list.scrollHeight <= list.clientHeight + NEAR_TOP_PX) {
      actions.loadOlder(channelId);
    }
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
    const cls = ['msg', mine ? 'mine' : 'theirs', pending && 'pending', m.failed && 'failed'].filter(Boolean).join(' ');
    const status = pending
      ? h('span.msg-status', { testid: 'message-status', text: m.failed ? `Not sent: ${m.failed}` : 'Sending…' })
      : null;
    const actionsRow = pending && m.failed ? h('span.msg-actions', null,
      h('button.link-btn', { type: 'button', text: 'Retry', on: { click: () => actions.retry(m.channel_id, m.client_id) } }),
      h('button.link-btn', { type: 'button', text: 'Discard', on: { click: () => actions.dismiss(m.channel_id, m.client_id) } }))
      : null;
    return h('div', {
      class: cls, testid: 'message', role: 'article',
      dataset: { seq: pending ? '' : String(m.seq), mine: String(Boolean(mine)), sender: sender ? sender.username : '' },
    },
    mine ? null : h(`span.avatar.${hueClass(sender.id)}`, { 'aria-hidden': 'true', text: initials(sender.display_name) }),
    h('div.msg-main', null,
      mine ? null : h('div.msg-meta', null,
        h('span.msg-author', { testid: 'message-author', text: sender.display_name }),
        h('time.msg-time', { datetime: m.created_at, title: full(m.created_at), text: time(m.created_at) })),
      h('div.bubble', null, h('p.msg-body', { testid: 'message-body' }, linkify(m.body))),
      mine ? h('div.msg-meta', null,
        status || h('time.msg-time', { datetime: m.created_at, title: full(m.created_at), text: time(m.created_at) }),
        actionsRow) : null));
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
