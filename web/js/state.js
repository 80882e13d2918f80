// Client-side state: the signed-in user, channels, per-channel message lists and pending
// sends. Views subscribe to topics and re-render; nothing here touches the DOM.

const listeners = new Map();

/** Subscribes to a topic ('channels', 'messages', 'conn', 'active', 'me'); returns unsubscribe. */
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
  /** 'connecting' | 'connected' | 'reconnecting' | 'offline' */
  conn: 'connecting',
};

export function reset() {
  state.me = null;
  state.channels.clear();
  state.convs.clear();
  state.activeId = null;
  emit('channels');
}

/** The message list of a channel, created empty on first use. */
export function conv(id) {
  let c = state.convs.get(id);
  if (!c) {
    c = { messages: [], seqs: new Set(), pending: [], loaded: false, hasOlder: false, loadingOlder: false };
    state.convs.set(id, c);
  }
  return c;
}

export function setChannels(list) {
  state.channels.clear();
  for (const ch of list) state.channels.set(ch.id, ch);
  emit('channels');
}

export function upsertChannel(ch) {
  const old = state.channels.get(ch.id);
  if (old && old.head_seq > ch.head_seq) ch.head_seq = old.head_seq;
  if (old && old.membership && ch.membership && old.membership.read_seq > ch.membership.read_seq) {
    ch.membership.read_seq = old.membership.read_seq;
  }
  state.channels.set(ch.id, { ...old, ...ch });
  emit('channels');
}

export function removeChannel(id) {
  state.channels.delete(id);
  state.convs.delete(id);
  emit('channels');
}

export function unread(ch) {
  if (!ch || !ch.membership) return 0;
  return Math.max(0, ch.head_seq - ch.membership.read_seq);
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
 * Merges committed messages into a channel, de-duplicated and ordered by seq. Resolves the
 * matching pending sends. Returns how many were new.
 */
export function addMessages(channelId, msgs) {
  const c = conv(channelId);
  let added = 0;
  for (const m of msgs) {
    if (m.channel_id !== channelId || c.seqs.has(m.seq)) continue;
    c.seqs.add(m.seq);
    c.messages.push(m);
    added++;
    if (state.me && m.sender.id === state.me.id) {
      c.pending = c.pending.filter((p) => p.client_id !== m.client_id);
    }
  }
  if (added) {
    c.messages.sort((a, b) => a.seq - b.seq);
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
  conv(p.channel_id).pending.push(p);
  emit('messages', p.channel_id);
}

export function findPending(clientId) {
  for (const [id, c] of state.convs) {
    const p = c.pending.find((x) => x.client_id === clientId);
    if (p) return { channelId: id, pending: p };
  }
  return null;
}

export function allPending() {
  const out = [];
  for (const c of state.convs.values()) out.push(...c.pending.filter((p) => !p.failed));
  return out;
}

export function dropPending(channelId, clientId) {
  const c = conv(channelId);
  c.pending = c.pending.filter((p) => p.client_id !== clientId);
  emit('messages', channelId);
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
