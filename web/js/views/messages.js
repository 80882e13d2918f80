// The message list of the open channel: bubbles (mine right, others left with name, time and
// a presence dot), day separators, a "New messages" divider above the first unread message
// when the channel was opened, my unsent messages with their state (sending / failed with
// Retry and Discard), ticks on my committed messages (✓ sent, ✓✓ delivered, blue ✓✓ read),
// reply quotes, reactions, "(edited)" and deleted tombstones, older history on scroll to the
// top, and resume gaps (`sync:gap`) as markers that page themselves in when scrolled to.
//
// Nodes are cached per message and moved, not rebuilt, so appends are smooth and the scroll
// position is kept; a message that changed (edit, delete, reaction: its `_v`) is rebuilt in
// place. Ticks are updated in place when receipts move.
//
// Each message has a menu (Reply, React, Edit, Delete): a ⋯ button shown on hover or focus
// where there is a pointer that hovers, a long press (or the context-menu gesture) on touch.

import { h, icon } from '../dom.js';
import { state, on, conv, channelTitle } from '../state.js';
import { time, full, dayKey, dayLabel, minutesBetween, linkify } from '../format.js';
import { receiptFloor, receiptState } from '../live.js';
import { avatar } from './presence.js';

const NEAR_BOTTOM_PX = 120;
const NEAR_TOP_PX = 160;
const LONG_PRESS_MS = 480;
const TICK_LABEL = { sent: 'Sent', delivered: 'Delivered', read: 'Read' };

/**
 * @param {HTMLElement} list  the scroll container
 * @param {object} actions  { loadOlder(id), loadGap(id, gap), retry(channelId, clientId),
 *   dismiss(channelId, clientId), openMenu(message, anchor, opts), react(message, emoji),
 *   reply(message), receipts(message), notify(text) }
 */
export function mountMessages(list, actions) {
  let channelId = null;
  let cache = new Map();
  let lastRenderedKey = null;
  let pendingJump = false;
  let animateNew = false;
  /** Read position when the channel was opened: the divider goes above the first after it. */
  let dividerAfter = null;
  const intro = h('div.intro');
  const loader = h('div.loader', { testid: 'history-loader' }, h('span.spinner'), 'Loading messages…');
  const divider = h('div.unread-divider', { testid: 'unread-divider', role: 'separator' }, h('span', { text: 'New messages' }));
  divider.dataset.key = 'u:divider';
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

  on('receipts', (id) => {
    if (!id || id === channelId) updateTicks();
  });

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
   * loader, intro, divider and day separators never anchor.
   */
  function anchorNode() {
    const top = list.getBoundingClientRect().top;
    for (const child of list.children) {
      const key = child.dataset.key;
      if (!key || key.startsWith('d:') || key.startsWith('u:')) continue;
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
    const ch = id && state.channels.get(id);
    const m = ch && ch.membership;
    const unread = m ? (typeof m.unread_count === 'number' ? m.unread_count : ch.head_seq - m.read_seq) : 0;
    dividerAfter = m && unread > 0 ? m.read_seq : null;
    list.replaceChildren();
    render();
  }

  /** Drops the "New messages" divider (I wrote something: I have caught up). */
  function clearDivider() {
    if (dividerAfter === null) return;
    dividerAfter = null;
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
    const anchorKey = anchor ? anchor.dataset.key : null;
    const anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
    const me = state.me && state.me.id;

    const nodes = [];
    if (!c.loaded) nodes.push(loader);
    else if (c.hasOlder) nodes.push(loader);
    else nodes.push(renderIntro(ch));

    const gaps = [...c.gaps];
    let prev = null;
    let afterGap = false;
    let dividerShown = false;
    for (const m of c.messages) {
      // A resume gap sits right above the first message after it.
      while (gaps.length && m.seq >= gaps[0].before) {
        nodes.push(gapNode(gaps.shift()));
        afterGap = true;
      }
      const day = dayKey(m.created_at);
      if (!prev || dayKey(prev.created_at) !== day) nodes.push(separator(day, m.created_at));
      let newDivider = false;
      if (!dividerShown && dividerAfter !== null && m.seq > dividerAfter && m.sender.id !== me) {
        nodes.push(divider);
        dividerShown = true;
        newDivider = true;
      }
      const cont = Boolean(prev && !afterGap && !newDivider && prev.sender.id === m.sender.id
        && dayKey(prev.created_at) === day && minutesBetween(prev.created_at, m.created_at) < 5);
      // My own message replacing its pending bubble should not animate in a second time.
      const wasPending = cache.has(`p:${m.client_id}:sending`) || cache.has(`p:${m.client_id}:failed`);
      const node = messageNode(m.id, () => bubble(m, false), !wasPending, m._v || 0);
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
    updateTicks();

    const newestKey = newest && newest.dataset.key;
    const appended = newestKey !== lastRenderedKey;
    lastRenderedKey = newestKey;
    const mineAppended = appended && newest && newest.classList.contains('mine');
    if (firstPaint) {
      // Open at the first unread message when the unread part does not fit on screen.
      if (dividerShown && list.scrollHeight - divider.offsetTop > list.clientHeight) {
        list.scrollTop = Math.max(0, divider.offsetTop - 48);
      } else {
        list.scrollTop = list.scrollHeight;
      }
    } else if (appended && (nearBottom || mineAppended)) {
      // Follow the conversation; a big batch (a resume) jumps instead of gliding through it.
      const distance = list.scrollHeight - list.clientHeight - list.scrollTop;
      if (distance > list.clientHeight * 1.5) list.scrollTop = list.scrollHeight;
      else list.scrollTo({ top: list.scrollHeight, behavior: 'smooth' });
    } else if (nearBottom && c.loaded) {
      // A message near the end grew or shrank (a reaction, an edit): stay at the end.
      list.scrollTop = list.scrollHeight;
    } else {
      // Content added, removed or rebuilt elsewhere (an older page, a gap filling in, an
      // edit): keep what the reader is looking at where it was.
      const again = anchorKey && cache.get(anchorKey);
      if (again && again.isConnected) list.scrollTop += again.getBoundingClientRect().top - anchorTop;
      if (appended && c.loaded) jump.hidden = false;
    }
    // A short first page may not fill the view: keep loading until it scrolls.
    if (c.loaded && c.hasOlder && list.scrollHeight <= list.clientHeight + NEAR_TOP_PX) {
      actions.loadOlder(channelId);
    }
    if (c.gaps.length) queueMicrotask(loadVisibleGaps);
  }

  /** The cached node for `key`, built (or rebuilt when `version` changed) on demand. */
  function messageNode(key, build, animate = true, version = 0) {
    let node = cache.get(key);
    if (node && node._v !== version) {
      const fresh = build();
      fresh.dataset.key = key;
      fresh._v = version;
      if (node.classList.contains('cont')) fresh.classList.add('cont');
      if (node.isConnected) node.replaceWith(fresh);
      cache.set(key, fresh);
      return fresh;
    }
    if (!node) {
      node = build();
      node.dataset.key = key;
      node._v = version;
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

  /** Sets the ticks of my committed messages from the channel's receipts. */
  function updateTicks() {
    if (!channelId) return;
    const c = conv(channelId);
    const me = state.me && state.me.id;
    const floor = receiptFloor(channelId);
    for (const m of c.messages) {
      if (m.sender.id !== me || m.deleted_at) continue;
      const node = cache.get(m.id);
      if (!node) continue;
      const st = receiptState(m.seq, floor);
      if (node.dataset.receipt === st) continue;
      node.dataset.receipt = st;
      const ticks = node.querySelector('.ticks');
      if (!ticks) continue;
      ticks.dataset.receipt = st;
      ticks.replaceChildren(icon(st === 'sent' ? 'check' : 'checks'));
      ticks.setAttribute('aria-label', `${TICK_LABEL[st]}: who has read it`);
      ticks.title = TICK_LABEL[st];
    }
  }

  /** Scrolls to a held message and flashes it; false when it is not loaded. */
  function jumpTo(seq) {
    const c = channelId && conv(channelId);
    const m = c && c.messages.find((x) => x.seq === seq);
    const node = m && cache.get(m.id);
    if (!node || !node.isConnected) return false;
    node.scrollIntoView({ block: 'center', behavior: 'smooth' });
    node.classList.remove('flash');
    void node.offsetWidth; // restart the animation
    node.classList.add('flash');
    node.addEventListener('animationend', () => node.classList.remove('flash'), { once: true });
    return true;
  }

  function replyQuote(q) {
    if (!q) return null;
    const name = q.sender ? q.sender.display_name : 'Someone';
    return h('button.reply-quote', {
      type: 'button', testid: 'reply-quote', title: 'Show the original message', dataset: { seq: String(q.seq) },
      class: q.deleted ? 'gone' : '',
      on: {
        click: (ev) => {
          ev.stopPropagation();
          if (!jumpTo(q.seq)) actions.notify('The original message is further up: scroll up to load it.');
        },
      },
    },
    h('span.reply-author', { testid: 'reply-quote-author', text: name }),
    h('span.reply-text', { testid: 'reply-quote-text', text: q.deleted ? 'This message was deleted' : q.quote }));
  }

  function reactions(m) {
    if (!m.reactions || !m.reactions.length || m.deleted_at) return null;
    return h('div.reactions', { testid: 'reactions' }, m.reactions.map((r) => h('button.reaction', {
      type: 'button', testid: 'reaction', class: r.me ? 'me' : '',
      dataset: { emoji: r.emoji, me: String(Boolean(r.me)) },
      'aria-pressed': String(Boolean(r.me)),
      'aria-label': `${r.emoji} ${r.count}${r.me ? ', you reacted' : ''}`,
      title: r.me ? 'Take back your reaction' : 'React with this too',
      on: { click: () => actions.react(m, r.emoji) },
    }, h('span.reaction-emoji', { text: r.emoji }), h('span.reaction-count', { testid: 'reaction-count', text: String(r.count) }))));
  }

  function bubble(m, pending) {
    const me = state.me && state.me.id;
    const mine = pending || m.sender.id === me;
    const sender = pending ? state.me : m.sender;
    const failed = pending && m.state === 'failed';
    const deleted = !pending && Boolean(m.deleted_at);
    const msgState = pending ? (failed ? 'failed' : 'sending') : (mine ? 'sent' : '');
    const mentioned = !pending && !mine && me && (m.mentions || []).includes(me);
    const cls = ['msg', mine ? 'mine' : 'theirs', pending && 'pending', failed && 'failed', deleted && 'deleted',
      mentioned && 'mentioned'].filter(Boolean).join(' ');
    const stamp = h('time.msg-time', { datetime: m.created_at, title: full(m.created_at), text: time(m.created_at) });
    const edited = !deleted && m.edited_at
      ? h('span.msg-edited', { testid: 'message-edited', title: `Edited ${full(m.edited_at)}`, text: '(edited)' }) : null;
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
      meta = [edited, stamp, deleted ? null : h('button.ticks', {
        type: 'button', testid: 'message-ticks', dataset: { receipt: 'sent' }, title: 'Sent', 'aria-label': 'Sent: who has read it',
        on: { click: () => actions.receipts(m) },
      }, icon('check'))];
    }
    const body = deleted
      ? h('p.msg-body.tombstone', { testid: 'message-body' }, icon('trash'), 'This message was deleted')
      : h('p.msg-body', { testid: 'message-body' }, linkify(m.body));
    const quote = deleted ? null : replyQuote(pending ? m.reply_preview : m.reply_to);
    const bubbleEl = h('div.bubble', null, quote, body);
    const interactive = !pending && !deleted;
    const tools = interactive ? h('div.msg-tools', { role: 'toolbar', 'aria-label': 'Message actions' },
      h('button.tool-btn', {
        type: 'button', testid: 'message-react-button', title: 'React', 'aria-label': 'React',
        on: { click: (ev) => actions.openMenu(m, ev.currentTarget, { pickerOnly: true }) },
      }, icon('smile')),
      h('button.tool-btn', {
        type: 'button', testid: 'message-reply-button', title: 'Reply', 'aria-label': 'Reply',
        on: { click: () => actions.reply(m) },
      }, icon('reply')),
      h('button.tool-btn', {
        type: 'button', testid: 'message-menu-button', title: 'More actions', 'aria-label': 'More actions', 'aria-haspopup': 'dialog',
        on: { click: (ev) => actions.openMenu(m, ev.currentTarget) },
      }, icon('more'))) : null;
    const row = h('div.bubble-row', null, bubbleEl, tools);
    if (interactive) longPress(row, () => actions.openMenu(m, bubbleEl, { fromTouch: true }));
    const dataset = {
      seq: pending ? '' : String(m.seq), mine: String(Boolean(mine)), sender: sender ? sender.username : '',
      state: msgState, clientId: m.client_id || '', messageId: pending ? '' : m.id,
    };
    if (deleted) dataset.deleted = 'true';
    if (edited) dataset.edited = 'true';
    const node = h('div', { class: cls, testid: 'message', role: 'article', dataset },
    mine ? null : avatar(sender),
    h('div.msg-main', null,
      mine ? null : h('div.msg-meta', null,
        h('span.msg-author', { testid: 'message-author', text: sender.display_name }),
        stamp, edited),
      row,
      reactions(m),
      mine ? h('div.msg-meta', null, meta) : null,
      failed && m.error ? h('p.msg-error', { testid: 'message-error', text: m.error }) : null));
    return node;
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

  /**
   * The highest seq the reader has on screen (or has scrolled past): everything up to it is
   * seen. 0 when nothing is.
   */
  function seenSeq() {
    if (!channelId) return 0;
    const c = conv(channelId);
    if (!c.loaded || !c.messages.length) return 0;
    if (isNearBottom()) return c.messages[c.messages.length - 1].seq;
    const bottom = list.getBoundingClientRect().bottom;
    for (let i = c.messages.length - 1; i >= 0; i--) {
      const node = cache.get(c.messages[i].id);
      if (!node || !node.isConnected) continue;
      const r = node.getBoundingClientRect();
      if (r.top + Math.min(r.height, 24) <= bottom) return c.messages[i].seq;
    }
    return 0;
  }

  return {
    open,
    render,
    clearDivider,
    seenSeq,
    isNearBottom,
    jumpTo,
    get channelId() { return channelId; },
  };
}

/**
 * Calls `fn` after a touch is held still for LONG_PRESS_MS, or on the context-menu gesture
 * of a touch (Android). Mouse right-clicks keep the browser's own menu.
 */
function longPress(el, fn) {
  let timer = null;
  let start = null;
  /** The menu opened for the current press (reset by the next press). */
  let fired = false;
  const cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  el.addEventListener('pointerdown', (ev) => {
    if (ev.pointerType === 'mouse') return;
    fired = false;
    start = { x: ev.clientX, y: ev.clientY };
    cancel();
    timer = setTimeout(() => {
      timer = null;
      fired = true;
      fn();
    }, LONG_PRESS_MS);
  });
  el.addEventListener('pointermove', (ev) => {
    if (timer && start && Math.hypot(ev.clientX - start.x, ev.clientY - start.y) > 10) cancel();
  });
  el.addEventListener('pointerup', cancel);
  el.addEventListener('pointercancel', cancel);
  el.addEventListener('contextmenu', (ev) => {
    const touch = ev.pointerType ? ev.pointerType !== 'mouse' : (timer !== null || fired);
    if (!touch) return; // a mouse: the browser's own menu
    ev.preventDefault();
    if (!fired) {
      cancel();
      fired = true;
      fn();
    }
  });
  // The click that ends a long press must not also act on what is under the finger.
  el.addEventListener('click', (ev) => {
    if (fired) {
      ev.preventDefault();
      ev.stopPropagation();
      fired = false;
    }
  }, true);
}
