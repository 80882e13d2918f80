// Live conversation state (docs/protocol.md; issue #3): edits, deletes, reactions, typing,
// presence, delivery and read receipts, and unread/mention counts. sync.js owns messages and
// the outbox and hands every other server event to `handleFrame` here.
//
// - Requests with an `id` (edit, delete, reactions, presence, read) are answered with `ok` or
//   `error`; `request()` turns that into a promise. When the socket is down, edits, deletes
//   and reactions go over REST instead; presence is re-sent on the next `ready`.
// - Delivered: every message this device receives (live, replayed or paged), and on `ready`
//   every channel's head, is reported with `receipt:delivered`, coalesced to the highest seq
//   per channel every DELIVERED_FLUSH_MS. No answer is asked for.
// - Read: the open channel's messages the reader has scrolled to, while the tab is visible,
//   are reported with `receipt:read` (coalesced); the server tells all my devices with
//   `channel:unread`, which sets the badge everywhere.
// - Unread counts come from the server (`ready`, `channel:unread`) and grow locally with each
//   new message from someone else in a channel not being read (mentions of me too).
// - Typing: `typing:start` at most every TYPING_REPEAT_MS while the composer has text,
//   `typing:stop` on send, blur, emptying or leaving the channel.
// - Presence: `away` after IDLE_MS without input or while the tab is hidden, `online` on
//   activity; a chosen `dnd` sticks until changed.

import { api, sentence } from './api.js';
import {
  state, emit, findMessage, patchMessage, rememberUser, statusOf,
} from './state.js';

const REQUEST_TIMEOUT_MS = 10000;
const DELIVERED_FLUSH_MS = 300;
const READ_FLUSH_MS = 300;
const TYPING_REPEAT_MS = 2000;
const IDLE_MS = 5 * 60 * 1000;
/** Quotes are cut to this many chars (ReplyPreview::QUOTE_CHARS). */
const QUOTE_CHARS = 120;

let gateway = null;
let notify = (msg) => console.warn(msg);
/** Returns true when the user is looking at the newest messages of this channel now. */
let isReading = () => false;

/** Request id → { resolve, reject, timer }. */
const requests = new Map();

export function init(opts) {
  gateway = opts.gateway;
  if (opts.notify) notify = opts.notify;
  if (opts.isReading) isReading = opts.isReading;
  startActivityTracking();
}

/** Signed out: forget everything of the session. */
export function resetSession() {
  failRequests('signed out');
  delivered.clear();
  deliveredSent.clear();
  reads.clear();
  typingChannel = null;
  typingSentAt = 0;
  chosenStatus = 'online';
  sentStatus = null;
}

class NotConnected extends Error {}

/** Sends a request and resolves on its `ok` (rejects on its `error` or a timeout). */
function request(type, data) {
  if (!gateway || !gateway.isReady) return Promise.reject(new NotConnected('not connected'));
  const id = gateway.send(type, data);
  if (!id) return Promise.reject(new NotConnected('not connected'));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      requests.delete(id);
      reject(new Error('No answer from the server.'));
    }, REQUEST_TIMEOUT_MS);
    requests.set(id, { resolve, reject, timer });
  });
}

function failRequests(why) {
  for (const r of requests.values()) {
    clearTimeout(r.timer);
    r.reject(new NotConnected(why));
  }
  requests.clear();
}

/** An `error` frame: returns true when it answered one of these requests. */
export function handleError(id, err) {
  const r = id && requests.get(id);
  if (!r) return false;
  requests.delete(id);
  clearTimeout(r.timer);
  const e = new Error(sentence(err.message) || err.code || 'The server refused it.');
  e.code = err.code;
  r.reject(e);
  return true;
}

/** Server events other than messages and resume; returns true when handled. */
export function handleFrame(frame) {
  const d = frame.data;
  switch (frame.type) {
    case 'ok': {
      const r = frame.id && requests.get(frame.id);
      if (r) {
        requests.delete(frame.id);
        clearTimeout(r.timer);
        r.resolve();
      }
      return true;
    }
    case 'message:update':
      applyEdit(d.channel_id, d.message_id, d.body, d.edited_at);
      return true;
    case 'message:deleted':
      applyDelete(d.channel_id, d.message_id, d.deleted_at);
      return true;
    case 'reaction:update':
      applyReaction(d);
      return true;
    case 'typing:indicator':
      setTyping(d.channel_id, d.user_ids || []);
      return true;
    case 'presence:change':
      setPresence(d);
      return true;
    case 'receipt:update':
      mergeReceipts(d.channel_id, d.receipts || []);
      return true;
    case 'channel:unread':
      onUnread(d);
      return true;
    default:
      return false;
  }
}

/** A new connection: presence, receipts and typing start over from `ready`. */
export function onReady(d) {
  failRequests('the connection was restarted');
  state.presence.clear();
  for (const p of d.presence || []) state.presence.set(p.user_id, { status: p.status, last_seen_at: p.last_seen_at || null });
  state.receipts.clear();
  for (const r of d.receipts || []) mergeReceipts(r.channel_id, r.receipts || [], false);
  state.typing.clear();
  deliveredSent.clear();
  emit('presence', null);
  emit('receipts', null);
  emit('typing', null);
  // This device now knows every channel's head (its badge shows them): delivered.
  for (const ch of d.channels || []) {
    const mine = ch.membership ? ch.membership.delivered_seq || 0 : 0;
    deliveredSent.set(ch.id, mine);
    if (ch.head_seq > mine) noteDelivered(ch.id, ch.head_seq);
  }
  sentStatus = 'online'; // what a fresh connection starts as
  syncPresence();
  typingSentAt = 0; // a typing state does not survive the old connection
}

// ---- messages -------------------------------------------------------------------------------

/**
 * A `message:receive` (before it is merged): delivered, the sender stops typing, and the
 * unread and mention counts grow when it is new, from someone else, and not being read.
 * `isNew`: its seq is above the channel's head as known before it.
 */
export function onMessage(m, isNew) {
  rememberUser(m.sender);
  noteDelivered(m.channel_id, m.seq);
  const typing = state.typing.get(m.channel_id);
  if (typing && typing.includes(m.sender.id)) setTyping(m.channel_id, typing.filter((id) => id !== m.sender.id));
  const ch = state.channels.get(m.channel_id);
  // A sender has seen the channel up to their own message (the server moved their marks in
  // the same commit, without a `receipt:update`).
  if (ch && isSmall(ch)) mergeReceipts(m.channel_id, [{ user_id: m.sender.id, delivered_seq: m.seq, read_seq: m.seq }]);
  const me = state.me && state.me.id;
  if (ch && ch.membership && m.sender.id === me) {
    // Sending reads the channel up to it (the server moves my read position, without a
    // `channel:unread`): another device of mine that sent it has caught up.
    const mem = ch.membership;
    if (m.seq > mem.read_seq) {
      mem.read_seq = m.seq;
      mem.unread_count = Math.max(0, Math.max(ch.head_seq, m.seq) - m.seq);
      if (!mem.unread_count) mem.mention_count = 0;
      if (m.seq > (mem.delivered_seq || 0)) mem.delivered_seq = m.seq;
      emit('channels');
    }
    return;
  }
  if (!isNew || !ch || !ch.membership || m.seq <= ch.membership.read_seq) return;
  if (isReading(m.channel_id)) return; // marked read as soon as it is shown
  const mem = ch.membership;
  mem.unread_count = (typeof mem.unread_count === 'number' ? mem.unread_count : Math.max(0, ch.head_seq - mem.read_seq)) + 1;
  if (me && (m.mentions || []).includes(me)) mem.mention_count = (mem.mention_count || 0) + 1;
  emit('channels');
}

function quoteOf(body) {
  const chars = [...body];
  return chars.length > QUOTE_CHARS ? `${chars.slice(0, QUOTE_CHARS).join('')}…` : body;
}

/** Every held reply in the channel quoting `messageId` gets `fn(reply_to)`. */
function patchQuotes(channelId, messageId, fn) {
  const c = state.convs.get(channelId);
  if (!c) return;
  let changed = false;
  for (const m of c.messages) {
    if (m.reply_to && m.reply_to.message_id === messageId) {
      fn(m.reply_to);
      m._v = (m._v || 0) + 1;
      changed = true;
    }
  }
  for (const p of c.pending) {
    if (p.reply_preview && p.reply_preview.message_id === messageId) {
      fn(p.reply_preview);
      changed = true;
    }
  }
  if (changed) emit('messages', channelId);
}

function applyEdit(channelId, messageId, body, editedAt) {
  patchMessage(channelId, messageId, (m) => {
    m.body = body;
    m.edited_at = editedAt;
  });
  patchQuotes(channelId, messageId, (q) => {
    q.quote = quoteOf(body);
  });
}

function applyDelete(channelId, messageId, deletedAt) {
  patchMessage(channelId, messageId, (m) => {
    m.body = '';
    m.deleted_at = deletedAt || new Date().toISOString();
    m.reactions = [];
    m.reply_to = null;
  });
  patchQuotes(channelId, messageId, (q) => {
    q.quote = '';
    q.deleted = true;
  });
  emit('deleted', { channelId, messageId });
}

function applyReaction(d) {
  const mine = Boolean(state.me && d.user_id === state.me.id);
  patchMessage(d.channel_id, d.message_id, (m) => {
    const list = m.reactions ? [...m.reactions] : [];
    const i = list.findIndex((r) => r.emoji === d.emoji);
    if (d.count <= 0) {
      if (i >= 0) list.splice(i, 1);
    } else if (i >= 0) {
      list[i] = { ...list[i], count: d.count, me: mine ? d.added : list[i].me };
    } else {
      list.push({ emoji: d.emoji, count: d.count, me: mine && d.added });
    }
    m.reactions = list;
  });
}

// ---- actions --------------------------------------------------------------------------------

/** Replaces the body of one of my messages. Rejects with a readable error. */
export async function editMessage(channelId, messageId, body) {
  try {
    await request('message:edit', { channel_id: channelId, message_id: messageId, body });
  } catch (e) {
    if (!(e instanceof NotConnected)) throw e;
    const m = await api.editMessage(channelId, messageId, body);
    applyEdit(channelId, messageId, m.body, m.edited_at);
  }
}

/** Deletes a message (mine, or any as an owner/admin). */
export async function deleteMessage(channelId, messageId) {
  try {
    await request('message:delete', { channel_id: channelId, message_id: messageId });
  } catch (e) {
    if (!(e instanceof NotConnected)) throw e;
    const m = await api.deleteMessage(channelId, messageId);
    applyDelete(channelId, messageId, m.deleted_at);
  }
}

/** Adds my reaction, or takes it back when I already reacted with this emoji. */
export async function toggleReaction(channelId, messageId, emoji) {
  const m = findMessage(channelId, messageId);
  if (!m || m.deleted_at) return;
  const had = (m.reactions || []).find((r) => r.emoji === emoji);
  const remove = Boolean(had && had.me);
  const max = state.limits.max_reactions || 20;
  if (!had && (m.reactions || []).length >= max) {
    notify(`A message can have at most ${max} different reactions.`);
    return;
  }
  const data = { channel_id: channelId, message_id: messageId, emoji };
  try {
    try {
      await request(remove ? 'reaction:remove' : 'reaction:add', data);
    } catch (e) {
      if (!(e instanceof NotConnected)) throw e;
      await (remove ? api.unreact(channelId, messageId, emoji) : api.react(channelId, messageId, emoji));
      // No event reaches a dead socket: show it now (the next page load has the truth).
      const count = Math.max(0, (had ? had.count : 0) + (remove ? -1 : 1));
      applyReaction({ ...data, user_id: state.me.id, added: !remove, count });
    }
  } catch (e) {
    notify(e.message || 'Could not react.');
  }
}

// ---- receipts -------------------------------------------------------------------------------

/** channel id → highest seq received, not yet reported. */
const delivered = new Map();
/** channel id → highest seq reported delivered (or known to the server). */
const deliveredSent = new Map();
let deliveredTimer = null;

/** This device holds every message of `channelId` up to `seq`. */
export function noteDelivered(channelId, seq) {
  if (!(seq > 0) || seq <= (deliveredSent.get(channelId) || 0) || seq <= (delivered.get(channelId) || 0)) return;
  delivered.set(channelId, seq);
  if (!deliveredTimer) deliveredTimer = setTimeout(flushDelivered, DELIVERED_FLUSH_MS);
}

function flushDelivered() {
  deliveredTimer = null;
  if (!gateway || !gateway.isReady) return; // `ready` reports the heads again
  for (const [id, seq] of delivered) {
    if (!state.channels.has(id)) continue;
    if (!gateway.send('receipt:delivered', { channel_id: id, seq }, false)) return;
    deliveredSent.set(id, seq);
    const ch = state.channels.get(id);
    if (ch.membership && seq > (ch.membership.delivered_seq || 0)) ch.membership.delivered_seq = seq;
  }
  delivered.clear();
}

/** channel id → seq read, not yet reported. */
const reads = new Map();
let readTimer = null;

/**
 * The reader has seen every message of `channelId` up to `seq`: the badge goes at once, and the
 * server hears it shortly after (coalesced).
 */
export function markRead(channelId, seq) {
  const ch = channelId && state.channels.get(channelId);
  if (!ch || !ch.membership || !(seq > 0) || document.visibilityState !== 'visible') return;
  const mem = ch.membership;
  if (seq <= mem.read_seq) return;
  mem.read_seq = seq;
  mem.unread_count = Math.max(0, ch.head_seq - seq);
  if (!mem.unread_count) mem.mention_count = 0;
  if (seq > (mem.delivered_seq || 0)) mem.delivered_seq = seq;
  emit('channels');
  reads.set(channelId, seq);
  clearTimeout(readTimer);
  readTimer = setTimeout(flushReads, READ_FLUSH_MS);
}

async function flushReads() {
  const batch = [...reads];
  reads.clear();
  for (const [id, seq] of batch) {
    try {
      try {
        await request('receipt:read', { channel_id: id, seq });
      } catch (e) {
        if (!(e instanceof NotConnected)) throw e;
        await api.markRead(id, seq);
      }
    } catch (e) {
      if (e.status !== 401 && e.status !== 404 && e.code !== 'not_a_member') console.warn('mark read failed', e);
    }
  }
}

/** My read position moved (on any of my devices): that device's counts are the truth. */
function onUnread(d) {
  const ch = state.channels.get(d.channel_id);
  if (!ch || !ch.membership) return;
  const mem = ch.membership;
  if (d.read_seq < mem.read_seq) return; // this device has read further already
  mem.read_seq = d.read_seq;
  mem.unread_count = d.unread_count;
  mem.mention_count = d.mention_count;
  if (d.read_seq > (mem.delivered_seq || 0)) mem.delivered_seq = d.read_seq;
  emit('channels');
}

function mergeReceipts(channelId, list, announce = true) {
  let marks = state.receipts.get(channelId);
  if (!marks) {
    marks = new Map();
    state.receipts.set(channelId, marks);
  }
  for (const r of list) {
    const old = marks.get(r.user_id) || { delivered_seq: 0, read_seq: 0 };
    const read = Math.max(old.read_seq, r.read_seq || 0);
    marks.set(r.user_id, { read_seq: read, delivered_seq: Math.max(old.delivered_seq, r.delivered_seq || 0, read) });
  }
  if (announce) emit('receipts', channelId);
}

/**
 * The lowest delivered and read watermarks over the other members of a small channel, or null
 * when per-member receipts are not shared there (or nobody else is in it). Members whose
 * watermarks have not been heard of count as 0.
 */
export function receiptFloor(channelId) {
  const ch = state.channels.get(channelId);
  const marks = state.receipts.get(channelId);
  if (!ch || !marks || !isSmall(ch)) return null;
  const me = state.me && state.me.id;
  let n = 0;
  let delivered = Infinity;
  let read = Infinity;
  for (const [id, r] of marks) {
    if (id === me) continue;
    n++;
    delivered = Math.min(delivered, r.delivered_seq);
    read = Math.min(read, r.read_seq);
  }
  if (!n) return null;
  if (n < (ch.member_count || 0) - 1) return { delivered: 0, read: 0 };
  return { delivered, read };
}

/**
 * How far my message `seq` got: 'sent' (committed), 'delivered' (to a device of every other
 * member) or 'read' (by every other member). Per-member receipts exist only in small
 * channels; elsewhere this says 'sent' and the counts are fetched on tap.
 */
export function receiptState(seq, floor) {
  if (!floor) return 'sent';
  if (floor.read >= seq) return 'read';
  if (floor.delivered >= seq) return 'delivered';
  return 'sent';
}

/** Whether members' receipts are shared in this channel (limits.receipt_members). */
export function isSmall(ch) {
  const max = state.limits.receipt_members || 50;
  return ch.kind === 'dm' || (ch.member_count || 0) <= max;
}

// ---- typing ---------------------------------------------------------------------------------

function setTyping(channelId, ids) {
  const me = state.me && state.me.id;
  const list = ids.filter((id) => id !== me);
  const old = state.typing.get(channelId) || [];
  if (old.length === list.length && old.every((id, i) => id === list[i])) return;
  if (list.length) state.typing.set(channelId, list);
  else state.typing.delete(channelId);
  for (const id of list) if (!state.users.has(id)) fetchUser(id);
  emit('typing', channelId);
}

const fetching = new Set();

/** Learns a user's name (and presence) once, for the typing line and the receipts list. */
function fetchUser(id) {
  if (fetching.has(id)) return;
  fetching.add(id);
  api.user(id).then((u) => {
    rememberUser(u);
    emit('users', id);
  }).catch(() => { /* shown as "Someone" */ }).finally(() => fetching.delete(id));
}

let typingChannel = null;
let typingSentAt = 0;

/** The composer's text changed in `channelId`. */
export function composing(channelId, text) {
  if (!text.trim()) {
    stopTyping();
    return;
  }
  if (typingChannel && typingChannel !== channelId) stopTyping();
  const now = Date.now();
  if (typingChannel === channelId && now - typingSentAt < TYPING_REPEAT_MS) return;
  if (!gateway || !gateway.send('typing:start', { channel_id: channelId }, false)) return;
  typingChannel = channelId;
  typingSentAt = now;
}

/** Sent, blurred, emptied or left: stop showing me as typing. */
export function stopTyping() {
  if (!typingChannel) return;
  const id = typingChannel;
  typingChannel = null;
  typingSentAt = 0;
  if (gateway) gateway.send('typing:stop', { channel_id: id }, false);
}

/** "Ana is typing…" for a channel, or '' when nobody is. */
export function typingText(channelId) {
  const ids = state.typing.get(channelId) || [];
  const names = ids.map((id) => {
    const u = state.users.get(id);
    return u ? u.display_name : 'Someone';
  });
  if (!names.length) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}

// ---- presence -------------------------------------------------------------------------------

function setPresence(p) {
  const old = state.presence.get(p.user_id) || {};
  state.presence.set(p.user_id, { status: p.status, last_seen_at: p.last_seen_at || old.last_seen_at || null });
  emit('presence', p.user_id);
}

/** Learns a user's `last_seen_at` (GET /api/users/:id) when it is not known. */
export function refreshPresence(userId) {
  api.user(userId).then((u) => {
    rememberUser(u);
    if (u.presence) setPresence({ ...u.presence, user_id: userId });
  }).catch(() => { /* keep what we have */ });
}

/** 'online' or 'dnd': what the user picked. */
let chosenStatus = 'online';
/** What the server was last told for this connection. */
let sentStatus = null;
let lastActivity = Date.now();
let idleTimer = null;

/** My own status as shown: dnd if chosen, else away when idle or hidden, else online. */
export function myStatus() {
  if (chosenStatus === 'dnd') return 'dnd';
  const idle = Date.now() - lastActivity >= IDLE_MS || document.visibilityState === 'hidden';
  return idle ? 'away' : 'online';
}

export function chosen() {
  return chosenStatus;
}

/** The user picked online or do-not-disturb. */
export function chooseStatus(status) {
  chosenStatus = status === 'dnd' ? 'dnd' : 'online';
  lastActivity = Date.now();
  syncPresence();
}

/** Tells the server my status when it changed. */
function syncPresence() {
  const want = myStatus();
  if (state.me) {
    const old = statusOf(state.me.id);
    if (old !== want) {
      state.presence.set(state.me.id, { status: want, last_seen_at: null });
      emit('presence', state.me.id);
    }
  }
  if (want === sentStatus || !gateway || !gateway.isReady) return;
  sentStatus = want;
  request('presence:update', { status: want }).catch((e) => {
    if (!(e instanceof NotConnected)) console.warn('presence update failed', e);
    sentStatus = null; // try again on the next change or `ready`
  });
}

function activity() {
  const wasIdle = Date.now() - lastActivity >= IDLE_MS;
  lastActivity = Date.now();
  if (wasIdle || sentStatus === 'away') syncPresence();
}

function startActivityTracking() {
  let last = 0;
  const onInput = () => {
    const now = Date.now();
    if (now - last < 1000) return; // at most once a second
    last = now;
    activity();
  };
  for (const evt of ['pointerdown', 'keydown', 'wheel', 'touchstart', 'mousemove']) {
    window.addEventListener(evt, onInput, { passive: true, capture: true });
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') lastActivity = Date.now();
    syncPresence();
  });
  clearInterval(idleTimer);
  idleTimer = setInterval(syncPresence, 30000);
}
