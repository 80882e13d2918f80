// Keeps local state in step with the server: dispatches gateway frames, loads history pages,
// fills gaps after a reconnect (`?after=` the last seq held), sends messages with idempotent
// `client_id`s, and marks the visible channel read.

import { api, uuid } from './api.js';
import {
  state, emit, conv, setChannels, upsertChannel, removeChannel, addMessages, addPending,
  findPending, allPending, lastSeq, firstSeq,
} from './state.js';

const PAGE = 50;
let gateway = null;
let notify = (msg) => console.warn(msg);
/** request id → client_id of the message:send it carried. */
const inflight = new Map();

export function init(opts) {
  gateway = opts.gateway;
  if (opts.notify) notify = opts.notify;
}

export function handleFrame(frame) {
  const d = frame.data;
  switch (frame.type) {
    case 'ready':
      onReady(d);
      break;
    case 'message:receive':
      onMessage(d);
      break;
    case 'ack':
      onAck(frame.id, d);
      break;
    case 'channel:joined':
      upsertChannel(d);
      break;
    case 'channel:left':
      removeChannel(d.channel_id);
      if (state.activeId === d.channel_id) emit('active-lost', d.channel_id);
      break;
    case 'error':
      onError(frame.id, d || {});
      break;
    default:
      break; // additive protocol: ignore unknown events
  }
}

function onReady(d) {
  state.me = d.user;
  state.limits = { ...state.limits, ...(d.limits || {}) };
  state.heartbeatMs = d.heartbeat_ms || state.heartbeatMs;
  emit('me', d.user);
  const known = new Set(d.channels.map((c) => c.id));
  for (const id of [...state.convs.keys()]) if (!known.has(id)) state.convs.delete(id);
  setChannels(d.channels);
  emit('ready', d);
  // Gap-free resume: fetch everything after the last seq we hold, per loaded channel.
  for (const [id, c] of state.convs) if (c.loaded) catchUp(id).catch(reportLoadError);
  flushPending();
}

function onMessage(m) {
  const c = state.convs.get(m.channel_id);
  const ch = state.channels.get(m.channel_id);
  if (ch && m.seq > ch.head_seq) {
    ch.head_seq = m.seq;
    emit('channels');
  }
  if (!c || !c.loaded) return; // fetched when the channel is opened
  const gap = c.messages.length && m.seq > lastSeq(m.channel_id) + 1;
  addMessages(m.channel_id, [m]);
  if (gap) catchUp(m.channel_id).catch(reportLoadError);
}

function onAck(reqId, a) {
  inflight.delete(reqId);
  const found = findPending(a.client_id);
  if (!found || !state.me) return;
  const { body } = found.pending;
  const { id, username, display_name, created_at } = state.me;
  addMessages(a.channel_id, [{
    id: a.message_id, channel_id: a.channel_id, seq: a.seq, client_id: a.client_id, body,
    created_at: a.created_at, sender: { id, username, display_name, created_at },
  }]);
}

function onError(reqId, err) {
  const clientId = reqId && inflight.get(reqId);
  if (clientId) {
    inflight.delete(reqId);
    const found = findPending(clientId);
    if (found) {
      found.pending.failed = err.message || err.code || 'failed';
      emit('messages', found.channelId);
    }
    return;
  }
  notify(err.message || err.code || 'Server error');
}

function reportLoadError(e) {
  if (e && e.status === 401) return; // the gateway/app handles lost sessions
  notify(`Could not load messages: ${e.message}`);
}

/** Loads the newest page of a channel (first open). */
export async function loadLatest(id) {
  const c = conv(id);
  if (c.loaded || c.loading) return;
  c.loading = true;
  try {
    const page = await api.messages(id, { limit: PAGE });
    c.loaded = true;
    c.hasOlder = page.has_more;
    if (!addMessages(id, page.messages)) emit('messages', id);
    // Anything that arrived live while the page was in flight is newer: fill the gap.
    const ch = state.channels.get(id);
    if (ch && ch.head_seq > lastSeq(id)) await catchUp(id);
  } catch (e) {
    reportLoadError(e);
  } finally {
    c.loading = false;
  }
}

/** Loads one page older than the lowest seq held. */
export async function loadOlder(id) {
  const c = conv(id);
  if (!c.loaded || !c.hasOlder || c.loadingOlder) return;
  c.loadingOlder = true;
  emit('messages', id);
  try {
    const page = await api.messages(id, { before: firstSeq(id), limit: PAGE });
    c.hasOlder = page.has_more;
    addMessages(id, page.messages);
  } catch (e) {
    reportLoadError(e);
  } finally {
    c.loadingOlder = false;
    emit('messages', id);
  }
}

/** Fetches every message after the last seq held, page by page. */
export async function catchUp(id) {
  const c = conv(id);
  if (c.catchingUp) {
    c.catchUpAgain = true;
    return;
  }
  c.catchingUp = true;
  try {
    for (let guard = 0; guard < 100; guard++) {
      const page = await api.messages(id, { after: lastSeq(id), limit: 100 });
      addMessages(id, page.messages);
      if (!page.has_more && !c.catchUpAgain) break;
      c.catchUpAgain = false;
    }
  } finally {
    c.catchingUp = false;
  }
}

/** Queues a message: shown as pending at once, sent now if connected, else on ready. */
export function sendMessage(channelId, body) {
  const p = {
    client_id: uuid(), channel_id: channelId, body, created_at: new Date().toISOString(),
    pending: true, failed: null,
  };
  addPending(p);
  transmit(p);
  return p;
}

function transmit(p) {
  if (!gateway || !gateway.isReady) return;
  const id = gateway.send('message:send', { channel_id: p.channel_id, body: p.body, client_id: p.client_id });
  if (id) inflight.set(id, p.client_id);
}

/** Re-sends pending messages (same client_id: the server never stores one twice). */
export function flushPending() {
  for (const p of allPending()) transmit(p);
}

export function retryPending(channelId, clientId) {
  const p = conv(channelId).pending.find((x) => x.client_id === clientId);
  if (!p) return;
  p.failed = null;
  emit('messages', channelId);
  transmit(p);
}

let readTimer = null;
/** channel id → seq still to be reported to the server. */
const unsentReads = new Map();

/**
 * Marks the open channel read up to its newest message when the page is visible: at once in
 * local state (so no badge flickers), and to the server shortly after (coalesced).
 */
export function markReadSoon() {
  const id = state.activeId;
  const ch = id && state.channels.get(id);
  if (!ch || !ch.membership || document.visibilityState !== 'visible') return;
  const seq = lastSeq(id);
  if (seq <= ch.membership.read_seq) return;
  ch.membership.read_seq = seq;
  emit('channels');
  unsentReads.set(id, seq);
  clearTimeout(readTimer);
  readTimer = setTimeout(flushReads, 300);
}

async function flushReads() {
  const batch = [...unsentReads];
  unsentReads.clear();
  for (const [id, seq] of batch) {
    try {
      const m = await api.markRead(id, seq);
      const ch = state.channels.get(id);
      if (m && ch && ch.membership && m.read_seq > ch.membership.read_seq) {
        ch.membership.read_seq = m.read_seq;
        emit('channels');
      }
    } catch (e) {
      if (e.status !== 401 && e.status !== 404) console.warn('mark read failed', e);
    }
  }
}
