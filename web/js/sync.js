// Keeps local state in step with the server (docs/protocol.md, "Resume (`sync`)"):
//
// - Resume: after every `ready` the client sends ONE `sync` listing, for each channel whose
//   history it has loaded, the seq up to which it holds that channel (`contiguousTop`). The
//   replay (`sync:messages`) and live `message:receive` events may interleave: both go through
//   `addMessages`, which orders by seq and drops seqs already held. A `sync:gap` is recorded on
//   the channel and shown in the list; scrolling to it pages it with `?before=`. The connection
//   shows "Syncing…" until `sync:done`. Only if the `sync` is answered with an `error` (an old
//   server, a fault) does the client fall back to REST `?after=` paging.
// - Outbox: every send gets a `client_id`, is written to IndexedDB (outbox.js) BEFORE it goes
//   on the wire, shows as "Sending…", and is deleted when its `ack` or its own
//   `message:receive` (or a replayed/paged copy) arrives. Sends wait for the resume to finish
//   and then go out (again) with the SAME `client_id`; the server stores each once.
//   Non-retryable errors mark a send failed (Retry/Discard); `internal`/`rate_limited` retry
//   after a short delay; a send unanswered for UNACKED_FAIL_MS on a live connection fails.
// - History pages over REST (first open, older pages, gaps). Everything else live (edits,
//   reactions, receipts, typing, presence, unread counts) is live.js's. Sync replays only
//   messages after a position, so after a reconnect the held window of a channel is fetched
//   again when it is shown, to pick up edits, deletes and reactions made meanwhile.

import { api, uuid, sentence } from './api.js';
import * as outbox from './outbox.js';
import * as live from './live.js';
import {
  state, emit, conv, setChannels, upsertChannel, removeChannel, addMessages, addPending, dropPending,
  findPending, allPending, lastSeq, firstSeq, contiguousTop, addGap, setConn,
} from './state.js';

const PAGE = 50;
/** Most positions one `sync` may list (protocol limit). */
const SYNC_BATCH = 1000;
/** Error codes after which a send is tried again; any other refusal is final. */
const RETRYABLE = new Set(['internal', 'rate_limited']);
const RETRY_DELAY_MS = 3000;
/** A send on the wire this long without an answer (on a connection that stayed up) fails. */
const UNACKED_FAIL_MS = 2 * 60 * 1000;
const WATCHDOG_MS = 10000;

let gateway = null;
let notify = (msg) => console.warn(msg);
/** Counts `ready` frames: each is a new connection. */
let epoch = 0;
/** The current connection finished its resume (sync:done or the REST fallback). */
let synced = false;
/** sync request id → { ids: Set of channel ids, initial: first sync of the connection, epoch }. */
const syncs = new Map();
/** message:send request id → client_id (current connection only). */
const inflight = new Map();
let retryTimer = null;
let retryAt = 0;
/** After a retryable refusal, nothing new goes on the wire before this time (ms). */
let holdUntil = 0;
let watchdog = null;

export function init(opts) {
  gateway = opts.gateway;
  if (opts.notify) notify = opts.notify;
  clearInterval(watchdog);
  watchdog = setInterval(checkUnacked, WATCHDOG_MS);
}

/** Forgets everything tied to the signed-in session (log-out, revoked session). */
export function resetSession() {
  epoch += 1;
  synced = false;
  syncs.clear();
  inflight.clear();
  clearTimeout(retryTimer);
  retryTimer = null;
  holdUntil = 0;
  live.resetSession();
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
    case 'sync:messages':
      onSyncMessages(d);
      break;
    case 'sync:gap':
      addGap(d.channel_id, d.after_seq, d.before_seq);
      break;
    case 'sync:done':
      onSyncDone(frame.id, d);
      break;
    case 'channel:joined':
      upsertChannel(d);
      break;
    case 'channel:left':
      forgetChannel(d.channel_id);
      if (state.activeId === d.channel_id) emit('active-lost', d.channel_id);
      break;
    case 'error':
      if (!live.handleError(frame.id, d || {})) onError(frame.id, d || {});
      break;
    default:
      live.handleFrame(frame); // additive protocol: it ignores unknown events
      break;
  }
}

function onReady(d) {
  epoch += 1;
  synced = false;
  syncs.clear();
  inflight.clear(); // requests of the previous connection will never be answered
  state.me = d.user;
  state.limits = { ...state.limits, ...(d.limits || {}) };
  state.heartbeatMs = d.heartbeat_ms || state.heartbeatMs;
  emit('me', d.user);
  const known = new Set(d.channels.map((c) => c.id));
  for (const id of [...state.convs.keys()]) {
    if (known.has(id)) continue;
    discardChannelOutbox(id, 'you are no longer in that conversation');
    state.convs.delete(id);
  }
  // What is held from before this connection may have been edited, deleted or reacted to.
  for (const c of state.convs.values()) if (c.loaded) c.stale = true;
  setChannels(d.channels);
  live.onReady(d);
  // Positions are taken before views react to `ready` (they may start loading a channel,
  // which then resumes itself when its page arrives: see loadLatest).
  const resume = [...state.convs].filter(([, c]) => c.loaded).map(([id]) => id);
  emit('ready', d);
  if (resume.length) requestSync(resume, true);
  else finishResume();
}

/** Sends `sync` for these channels (in batches of the protocol's limit). */
function requestSync(ids, initial = false) {
  if (!gateway || !gateway.isReady) return false; // the next `ready` resumes them
  for (let i = 0; i < ids.length; i += SYNC_BATCH) {
    const batch = ids.slice(i, i + SYNC_BATCH);
    const channels = batch.map((id) => ({ channel_id: id, after_seq: contiguousTop(id) }));
    const reqId = gateway.send('sync', { channels });
    if (!reqId) return false;
    syncs.set(reqId, { ids: new Set(batch), initial, epoch });
  }
  return true;
}

function isSyncing(channelId) {
  for (const s of syncs.values()) if (s.ids.has(channelId)) return true;
  return false;
}

function initialSyncsLeft() {
  for (const s of syncs.values()) if (s.initial) return true;
  return false;
}

/** The connection is caught up: show it, and let the outbox go. */
function finishResume() {
  synced = true;
  setConn('connected');
  flushOutbox();
  if (state.activeId) refreshIfStale(state.activeId);
}

function onSyncMessages(d) {
  const c = state.convs.get(d.channel_id);
  if (!c || !c.loaded) return;
  ingest(d.channel_id, d.messages || []);
}

function onSyncDone(reqId, d) {
  const entry = syncs.get(reqId);
  syncs.delete(reqId);
  let changed = false;
  for (const r of (d && d.channels) || []) {
    const ch = state.channels.get(r.channel_id);
    if (!r.error && ch && r.head_seq > ch.head_seq) {
      ch.head_seq = r.head_seq;
      changed = true;
    }
  }
  if (changed) emit('channels');
  for (const id of entry ? entry.ids : []) {
    const c = state.convs.get(id);
    if (!c || !c.gaps.length) continue;
    for (const g of c.gaps) g.settled = true;
    emit('messages', id); // a gap now on screen starts loading
  }
  if (entry && entry.initial && entry.epoch === epoch && !initialSyncsLeft()) finishResume();
}

/** `sync` refused (an old server, a fault): page what is missing over REST instead. */
function syncFailed(entry, err) {
  console.warn('sync refused, catching up over REST:', err.code || err.message);
  const jobs = [...entry.ids].map((id) => catchUp(id).catch(reportLoadError));
  Promise.all(jobs).then(() => {
    if (entry.initial && entry.epoch === epoch && !initialSyncsLeft() && gateway.isReady) finishResume();
  });
}

/** Merges committed messages from any source; my own ones settle their outbox entries. */
function ingest(channelId, msgs) {
  let top = 0;
  for (const m of msgs) {
    if (isMine(m)) settle(m.client_id);
    if (m.seq > top) top = m.seq;
  }
  live.noteDelivered(channelId, top);
  return addMessages(channelId, msgs);
}

function isMine(m) {
  return Boolean(state.me && m.sender && m.sender.id === state.me.id && m.client_id);
}

/**
 * A single message from the live stream (or built from an ack). Inserted only where it
 * cannot create a silent hole: into a loaded (or loading) channel, at or above the oldest
 * message held. A seq that skips ahead of what the channel holds asks `sync` for the rest.
 */
function ingestLive(m) {
  const c = state.convs.get(m.channel_id);
  if (!c || !(c.loaded || c.loading)) return;
  if (c.messages.length && m.seq < c.messages[0].seq) return; // older history: paged on scroll
  const top = contiguousTop(m.channel_id);
  ingest(m.channel_id, [m]);
  if (c.loaded && synced && top > 0 && m.seq > top + 1 && !isSyncing(m.channel_id)) {
    requestSync([m.channel_id]);
  }
}

function onMessage(m) {
  const ch = state.channels.get(m.channel_id);
  live.onMessage(m, Boolean(ch && m.seq > ch.head_seq));
  if (ch && m.seq > ch.head_seq) {
    ch.head_seq = m.seq;
    emit('channels');
  }
  if (isMine(m)) settle(m.client_id);
  ingestLive(m);
}

function onAck(reqId, a) {
  inflight.delete(reqId);
  const found = findPending(a.client_id);
  settle(a.client_id);
  if (!found || !state.me) return; // its message:receive came first (the usual case)
  // A resend of a send committed earlier: the ack is all we get (no second broadcast). Its
  // seq may be old, so it only joins a channel whose window is known (a channel still
  // loading gets it in its page, or later when paging older).
  const c = state.convs.get(a.channel_id);
  if (!c || !c.loaded) return;
  const { id, username, display_name, created_at } = state.me;
  const reply = found.pending.reply_preview;
  ingestLive({
    id: a.message_id, channel_id: a.channel_id, seq: a.seq, client_id: a.client_id, body: found.pending.body,
    created_at: a.created_at, sender: { id, username, display_name, created_at },
    ...(reply ? { reply_to: reply } : {}),
  });
}

function onError(reqId, err) {
  if (reqId && syncs.has(reqId)) {
    const entry = syncs.get(reqId);
    syncs.delete(reqId);
    syncFailed(entry, err);
    return;
  }
  const clientId = reqId && inflight.get(reqId);
  if (clientId) {
    inflight.delete(reqId);
    const found = findPending(clientId);
    if (!found) return;
    const p = found.pending;
    p.reqId = null;
    if (RETRYABLE.has(err.code)) {
      // Stays queued; `rate_limited` says how long to wait (`retry_after_ms`).
      const wait = err.code === 'rate_limited' && err.retry_after_ms > 0 ? err.retry_after_ms : RETRY_DELAY_MS;
      holdUntil = Math.max(holdUntil, Date.now() + wait);
      scheduleRetry(wait);
    } else {
      fail(p, sentence(err.message) || err.code || 'The server refused it.', err.code || 'error');
    }
    return;
  }
  notify(sentence(err.message) || err.code || 'Server error.');
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
  const startEpoch = epoch;
  try {
    const page = await api.messages(id, { limit: PAGE });
    if (state.convs.get(id) !== c) return; // left (or signed out) meanwhile
    c.hasOlder = page.has_more;
    c.loaded = true;
    if (!ingest(id, page.messages)) emit('messages', id);
    // Live events were merged while the page was in flight. If the connection changed
    // meanwhile (or anything still looks missing), resume this channel like the others.
    const ch = state.channels.get(id);
    if (epoch !== startEpoch || (ch && ch.head_seq > lastSeq(id)) || contiguousTop(id) < lastSeq(id)) {
      requestSync([id]);
    }
  } catch (e) {
    reportLoadError(e);
  } finally {
    c.loading = false;
    if (!c.loaded) emit('messages', id);
  }
}

/**
 * After a reconnect: fetches the newest page again and updates the held messages in it
 * (edits, deletes and reactions made while this device was away are not replayed by `sync`).
 */
export async function refreshIfStale(id) {
  const c = state.convs.get(id);
  if (!c || !c.loaded || !c.stale || c.refreshing) return;
  c.refreshing = true;
  try {
    const page = await api.messages(id, { limit: PAGE });
    if (state.convs.get(id) !== c) return;
    c.stale = false;
    const fields = ['body', 'edited_at', 'deleted_at', 'reactions', 'reply_to'];
    let changed = false;
    for (const fresh of page.messages) {
      const held = c.byId.get(fresh.id);
      if (!held) continue;
      if (fields.every((f) => JSON.stringify(held[f] || null) === JSON.stringify(fresh[f] || null))) continue;
      for (const f of fields) held[f] = fresh[f];
      held._v = (held._v || 0) + 1;
      changed = true;
    }
    if (!ingest(id, page.messages) && changed) emit('messages', id);
  } catch (e) {
    if (e && e.status !== 401) console.warn('refresh failed', e);
  } finally {
    c.refreshing = false;
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
    ingest(id, page.messages);
  } catch (e) {
    reportLoadError(e);
  } finally {
    c.loadingOlder = false;
    emit('messages', id);
  }
}

/** Pages a `sync:gap` from its newer end (`?before=`), one page per call. */
export async function loadGap(id, gap) {
  const c = state.convs.get(id);
  if (!c || !c.gaps.includes(gap) || !gap.settled || gap.loading || Date.now() < gap.retryAt) return;
  gap.loading = true;
  try {
    const limit = Math.min(100, state.limits.max_page || 100);
    const page = await api.messages(id, { before: gap.before, limit });
    ingest(id, page.messages); // shrinks the gap as its messages arrive
    const first = page.messages.length ? page.messages[0].seq : 0;
    if (!page.has_more || !first || first <= gap.after + 1) c.gaps = c.gaps.filter((g) => g !== gap);
  } catch (e) {
    gap.retryAt = Date.now() + 3000;
    reportLoadError(e);
  } finally {
    gap.loading = false;
    emit('messages', id);
  }
}

/** REST fallback for a refused `sync`: everything after the channel's position, paged. */
async function catchUp(id) {
  const c = state.convs.get(id);
  if (!c || !c.loaded) return;
  for (let guard = 0; guard < 100; guard++) {
    const page = await api.messages(id, { after: contiguousTop(id), limit: 100 });
    ingest(id, page.messages);
    if (!page.has_more || state.convs.get(id) !== c) break;
  }
}

// ---- outbox -------------------------------------------------------------------------------

/** Re-creates the signed-in user's unsent messages from IndexedDB (others' are deleted). */
export async function restoreOutbox(me) {
  let rows = [];
  try {
    rows = await Promise.race([
      outbox.loadFor(me.id),
      new Promise((_, reject) => setTimeout(() => reject(new Error('IndexedDB timed out')), 3000)),
    ]);
  } catch (e) {
    console.warn('outbox: could not restore', e && e.message);
  }
  for (const r of rows) {
    addPending({ ...r, state: r.state === 'failed' ? 'failed' : 'sending', persisted: true, reqId: null });
  }
}

/**
 * Queues a message: shown as "Sending…" at once, persisted, then sent when connected.
 * `replyTo`: the message it answers (same channel), quoted above it.
 */
export async function sendMessage(channelId, body, replyTo = null) {
  const p = {
    client_id: uuid(), user_id: state.me ? state.me.id : null, channel_id: channelId, body,
    created_at: new Date().toISOString(), state: 'sending', error: null, code: null,
    persisted: false, reqId: null,
    reply_to: replyTo ? replyTo.id : null,
    reply_preview: replyTo ? {
      message_id: replyTo.id, seq: replyTo.seq, sender: replyTo.sender, quote: quote(replyTo.body), deleted: false,
    } : null,
  };
  addPending(p);
  try {
    await outbox.put(p);
  } catch (e) {
    console.warn('outbox: not persisted', e);
  }
  p.persisted = true; // durable (or as durable as this browser allows): it may go on the wire
  transmit(p);
  return p;
}

/** Puts one entry on the wire, once per connection, only after the resume finished. */
function transmit(p) {
  if (p.state !== 'sending' || !p.persisted || p.reqId || !synced || !gateway || !gateway.isReady) return;
  if (Date.now() < holdUntil) return; // the retry timer flushes it
  const data = { channel_id: p.channel_id, body: p.body, client_id: p.client_id };
  if (p.reply_to) data.reply_to = p.reply_to;
  const id = gateway.send('message:send', data);
  if (!id) return;
  inflight.set(id, p.client_id);
  p.reqId = id;
  p.wireAt = Date.now();
}

/** Sends every queued entry, oldest first (same client_id: never stored twice). */
export function flushOutbox() {
  for (const p of allPending()) {
    if (p.reqId && !inflight.has(p.reqId)) p.reqId = null; // sent on an earlier connection
    transmit(p);
  }
}

/** Flushes the outbox after `delay` (plus jitter, never earlier); keeps a later timer. */
function scheduleRetry(delay) {
  const at = Date.now() + delay * (1 + Math.random() * 0.5);
  if (retryTimer && retryAt >= at) return;
  clearTimeout(retryTimer);
  retryAt = at;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    flushOutbox();
  }, at - Date.now());
}

/** The server has it: drop the entry from the view and from IndexedDB. */
function settle(clientId) {
  const found = findPending(clientId);
  if (!found) return; // every stored entry of this user is in memory (restoreOutbox)
  dropPending(found.channelId, clientId);
  outbox.remove(clientId).catch(() => { /* already gone */ });
}

function fail(p, text, code) {
  p.state = 'failed';
  p.error = text;
  p.code = code;
  p.reqId = null;
  outbox.put(p).catch(() => {});
  emit('messages', p.channel_id);
}

function checkUnacked() {
  if (!gateway || !gateway.isReady) return;
  const now = Date.now();
  for (const p of allPending()) {
    if (p.state === 'sending' && p.reqId && inflight.has(p.reqId) && now - p.wireAt > UNACKED_FAIL_MS) {
      inflight.delete(p.reqId);
      fail(p, 'No answer from the server.', 'timeout');
    }
  }
}

/** Retry: the same client_id again (if the first attempt did land, the server says so). */
export async function retryPending(channelId, clientId) {
  const p = conv(channelId).pending.find((x) => x.client_id === clientId);
  if (!p) return;
  p.state = 'sending';
  p.error = null;
  p.code = null;
  p.reqId = null;
  emit('messages', channelId);
  try {
    await outbox.put(p);
  } catch {
    /* memory only */
  }
  transmit(p);
}

/** Discard: the user gave up on this send. */
export function discardPending(channelId, clientId) {
  dropPending(channelId, clientId);
  outbox.remove(clientId).catch(() => {});
}

/** Drops a channel the user left, with its unsent messages. */
export function forgetChannel(channelId) {
  discardChannelOutbox(channelId, 'you left that conversation');
  removeChannel(channelId);
}

/** A conversation went away: its unsent messages cannot be delivered or shown any more. */
function discardChannelOutbox(channelId, why) {
  const c = state.convs.get(channelId);
  if (!c || !c.pending.length) return;
  const n = c.pending.length;
  for (const p of c.pending) outbox.remove(p.client_id).catch(() => {});
  c.pending = [];
  notify(`${n} unsent message${n === 1 ? ' was' : 's were'} discarded: ${why}.`);
}

function quote(body) {
  const chars = [...body];
  return chars.length > 120 ? `${chars.slice(0, 120).join('')}…` : body;
}
