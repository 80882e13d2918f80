// Client-side state: the signed-in user, channels, per-channel message lists and pending
// sends. Views subscribe to topics and re-render; nothing here touches the DOM.

const listeners = new Map();

/**
 * Subscribes to a topic ('channels', 'messages', 'conn', 'active', 'me', 'presence', 'typing',
 * 'receipts', 'users'); returns unsubscribe.
 */
export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}

export function emit(topic, payload) {
  for (const fn of listeners.get(topic) || []) {
    try {
      fn(payload);
    } catch (e) {
      console.error(`listener for ${topic} failed`, e);
    }
  }
}

export const state = {
  /** `Me` from ready or /api/users/me. */
  me: null,
  limits: { max_body_chars: 4000, max_frame_bytes: 65536, max_page: 100 },
  heartbeatMs: 30000,
  /** channel id → Channel (with membership). */
  channels: new Map(),
  /** channel id → Conv (see conv()). */
  convs: new Map(),
  activeId: null,
  /** 'connecting' | 'syncing' | 'connected' | 'reconnecting' | 'offline' */
  conn: 'connecting',
  /** user id → { status: online|away|dnd|offline, last_seen_at? } (absent = offline). */
  presence: new Map(),
  /** channel id → user ids typing there now (never me), in the order they started. */
  typing: new Map(),
  /** channel id → Map(user id → { delivered_seq, read_seq }) for small channels. */
  receipts: new Map(),
  /** user id → User: every profile seen (senders, DM peers, members), for names. */
  users: new Map(),
};

export function reset() {
  state.me = null;
  state.channels.clear();
  state.convs.clear();
  state.activeId = null;
  state.presence.clear();
  state.typing.clear();
  state.receipts.clear();
  state.users.clear();
  emit('channels');
}

/**
 * The message list of a channel, created empty on first use.
 * - `messages`: committed messages ascending by seq, each seq once (`seqs`).
 * - `pending`: my outbox entries for this channel (state 'sending' | 'failed'), oldest first.
 * - `loaded`: the newest page was fetched; from then on the channel is resumed with `sync`.
 * - `hasOlder`: history exists below the first message held (paged on scroll to the top).
 * - `gaps`: ranges `{after, before}` whose messages (after < seq < before) are known to exist
 *   but were not replayed by `sync` (`sync:gap`); paged with `?before=` when scrolled to.
 */
export function conv(id) {
  let c = state.convs.get(id);
  if (!c) {
    c = {
      messages: [], seqs: new Set(), byId: new Map(), pending: [], gaps: [], loaded: false, loading: false,
      hasOlder: false, loadingOlder: false,
    };
    state.convs.set(id, c);
  }
  return c;
}

export function setChannels(list) {
  state.channels.clear();
  for (const ch of list) {
    state.channels.set(ch.id, ch);
    if (ch.peer) rememberUser(ch.peer);
  }
  emit('channels');
}

export function upsertChannel(ch) {
  const old = state.channels.get(ch.id);
  if (old && old.head_seq > ch.head_seq) ch.head_seq = old.head_seq;
  if (old && old.membership && ch.membership && old.membership.read_seq > ch.membership.read_seq) {
    // A REST answer older than what the socket told us: keep the newer read position.
    ch.membership.read_seq = old.membership.read_seq;
    ch.membership.unread_count = old.membership.unread_count;
    ch.membership.mention_count = old.membership.mention_count;
  }
  if (ch.peer) rememberUser(ch.peer);
  state.channels.set(ch.id, { ...old, ...ch });
  emit('channels');
}

export function removeChannel(id) {
  state.channels.delete(id);
  state.convs.delete(id);
  emit('channels');
}

/** Unread messages: the server's count (ready, channel:unread), moved by live messages. */
export function unread(ch) {
  if (!ch || !ch.membership) return 0;
  const m = ch.membership;
  if (typeof m.unread_count === 'number') return Math.max(0, m.unread_count);
  return Math.max(0, ch.head_seq - m.read_seq);
}

/** Unread messages that mention me. */
export function mentions(ch) {
  return (ch && ch.membership && ch.membership.mention_count) || 0;
}

/** Keeps a profile for showing names (typing, receipts); returns it. */
export function rememberUser(u) {
  if (!u || !u.id) return u;
  const old = state.users.get(u.id);
  if (!old || old.display_name !== u.display_name || old.username !== u.username) {
    state.users.set(u.id, { id: u.id, username: u.username, display_name: u.display_name, created_at: u.created_at });
  }
  return u;
}

/** A user's presence status: online, away, dnd or offline. */
export function statusOf(userId) {
  const p = state.presence.get(userId);
  return (p && p.status) || 'offline';
}

/** A held message by id, or null. */
export function findMessage(channelId, messageId) {
  const c = state.convs.get(channelId);
  return (c && c.byId.get(messageId)) || null;
}

/**
 * Changes a held message in place (`fn(message)`), marks it changed so its bubble is rebuilt,
 * and re-renders. Returns the message, or null when it is not held.
 */
export function patchMessage(channelId, messageId, fn) {
  const m = findMessage(channelId, messageId);
  if (!m) return null;
  fn(m);
  m._v = (m._v || 0) + 1;
  emit('messages', channelId);
  return m;
}

/** Display name of a channel: DMs show the peer's display name. */
export function channelTitle(ch) {
  if (!ch) return '';
  if (ch.kind === 'dm') return (ch.peer && ch.peer.display_name) || ch.name;
  return ch.name;
}

export function lastSeq(id) {
  const c = state.convs.get(id);
  return c && c.messages.length ? c.messages[c.messages.length - 1].seq : 0;
}

export function firstSeq(id) {
  const c = state.convs.get(id);
  return c && c.messages.length ? c.messages[0].seq : 0;
}

/**
 * The highest seq up to which the channel is known complete: every seq from the first held
 * up to it is held or inside a marked gap. This, not the highest seq held, is the resume
 * position, so a live message that raced ahead of a replay can never hide a hole.
 */
export function contiguousTop(id) {
  const c = state.convs.get(id);
  if (!c || !c.messages.length) return 0;
  let top = c.messages[0].seq;
  for (let i = 1; i < c.messages.length; i++) {
    const seq = c.messages[i].seq;
    if (seq !== top + 1 && !c.gaps.some((g) => g.after <= top && g.before === seq)) break;
    top = seq;
  }
  return top;
}

/** Records that the messages strictly between `after` and `before` were not replayed. */
export function addGap(channelId, after, before) {
  const c = conv(channelId);
  if (before <= after + 1 || c.gaps.some((g) => g.after === after && g.before === before)) return;
  // `settled` once the sync that reported it is done: until then the newest messages are
  // still arriving below it, so it would look on screen without being so.
  c.gaps.push({ after, before, loading: false, retryAt: 0, settled: false });
  c.gaps.sort((a, b) => a.before - b.before);
  emit('messages', channelId);
}

/**
 * Merges committed messages into a channel, de-duplicated and ordered by seq. Returns how
 * many were new. (Resolving my pending sends is the outbox's job: see sync.js.)
 */
export function addMessages(channelId, msgs) {
  const c = conv(channelId);
  let added = 0;
  for (const m of msgs) {
    if (m.channel_id !== channelId || c.seqs.has(m.seq)) continue;
    c.seqs.add(m.seq);
    c.messages.push(m);
    c.byId.set(m.id, m);
    rememberUser(m.sender);
    added++;
  }
  if (added) {
    c.messages.sort((a, b) => a.seq - b.seq);
    // A gap shrinks as its messages arrive from any source.
    c.gaps = c.gaps.filter((g) => {
      while (g.before - 1 > g.after && c.seqs.has(g.before - 1)) g.before -= 1;
      return g.before > g.after + 1;
    });
    const ch = state.channels.get(channelId);
    const top = c.messages[c.messages.length - 1].seq;
    if (ch && top > ch.head_seq) {
      ch.head_seq = top;
      emit('channels');
    }
    emit('messages', channelId);
  }
  return added;
}

export function addPending(p) {
  const c = conv(p.channel_id);
  if (c.pending.some((x) => x.client_id === p.client_id)) return;
  c.pending.push(p);
  emit('messages', p.channel_id);
}

export function findPending(clientId) {
  for (const [id, c] of state.convs) {
    const p = c.pending.find((x) => x.client_id === clientId);
    if (p) return { channelId: id, pending: p };
  }
  return null;
}

/** Every pending send in any channel, oldest first. */
export function allPending() {
  const out = [];
  for (const c of state.convs.values()) out.push(...c.pending);
  return out.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
}

/** Removes a pending send from its channel's view; returns it (or null). */
export function dropPending(channelId, clientId) {
  const c = state.convs.get(channelId);
  const p = c && c.pending.find((x) => x.client_id === clientId);
  if (!p) return null;
  c.pending = c.pending.filter((x) => x !== p);
  emit('messages', channelId);
  return p;
}

export function setConn(status) {
  if (state.conn === status) return;
  state.conn = status;
  emit('conn', status);
}

export function setActive(id) {
  state.activeId = id;
  emit('active', id);
}
