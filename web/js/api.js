// REST client for /api (docs/protocol.md). Same-origin fetch: the HttpOnly session cookie
// travels automatically. Errors become ApiError with the server's code and message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || 'http_error';
  }
}

/** Thrown when the network itself failed (server down, offline). */
export class NetworkError extends Error {}

async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new NetworkError(e.message || 'network error');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.code, sentence(err.message) || `Request failed (${res.status})`);
  }
  return data;
}

/** The server's message as a sentence: capital first letter, final full stop. */
export function sentence(text) {
  if (!text) return '';
  const t = text.trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

const enc = encodeURIComponent;

function query(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') parts.push(`${enc(k)}=${enc(v)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export const api = {
  register: (body) => request('POST', '/api/auth/register', body),
  login: (username, password) => request('POST', '/api/auth/login', { username, password }),
  logout: () => request('POST', '/api/auth/logout'),
  me: () => request('GET', '/api/users/me'),
  searchUsers: (q) => request('GET', `/api/users${query({ q })}`),
  user: (id) => request('GET', `/api/users/${enc(id)}`),

  channels: () => request('GET', '/api/channels'),
  createChannel: (name, kind, topic) =>
    request('POST', '/api/channels', { name, kind, ...(topic ? { topic } : {}) }),
  publicChannels: (q) => request('GET', `/api/channels/public${query({ q })}`),
  channel: (id) => request('GET', `/api/channels/${enc(id)}`),
  join: (id) => request('POST', `/api/channels/${enc(id)}/join`),
  leave: (id) => request('POST', `/api/channels/${enc(id)}/leave`),
  members: (id) => request('GET', `/api/channels/${enc(id)}/members`),
  invite: (id, userId) => request('POST', `/api/channels/${enc(id)}/members`, { user_id: userId }),
  markRead: (id, seq) => request('POST', `/api/channels/${enc(id)}/read`, { seq }),
  openDm: (userId) => request('POST', '/api/dms', { user_id: userId }),

  sendMessage: (channelId, body, clientId, replyTo) =>
    request('POST', '/api/messages', { channel_id: channelId, body, client_id: clientId, ...(replyTo ? { reply_to: replyTo } : {}) }),
  editMessage: (channelId, messageId, body) =>
    request('PATCH', `/api/messages/${enc(channelId)}/${enc(messageId)}`, { body }),
  deleteMessage: (channelId, messageId) => request('DELETE', `/api/messages/${enc(channelId)}/${enc(messageId)}`),
  react: (channelId, messageId, emoji) =>
    request('PUT', `/api/messages/${enc(channelId)}/${enc(messageId)}/reactions/${enc(emoji)}`),
  unreact: (channelId, messageId, emoji) =>
    request('DELETE', `/api/messages/${enc(channelId)}/${enc(messageId)}/reactions/${enc(emoji)}`),
  /** Who received and read message `seq`: { recipients, delivered_count, read_count, members }. */
  receipts: (channelId, seq) => request('GET', `/api/messages/${enc(channelId)}/${enc(seq)}/receipts`),
  /** `opts`: { before, after, limit } */
  messages: (channelId, opts = {}) => request('GET', `/api/messages/${enc(channelId)}${query(opts)}`),
  health: () => request('GET', '/api/health'),
};

/**
 * A fresh idempotency key / request id: a UUIDv7 (RFC 9562: 48 bits of Unix time in ms, then
 * random bits), so a client's keys are time-ordered. The server's idempotency index leads with
 * the key, and time-ordered keys land together at its end (one page written per commit, not
 * one per sender). `crypto.getRandomValues` works on plain-HTTP pages too, unlike `randomUUID`.
 */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70; // version 7
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
