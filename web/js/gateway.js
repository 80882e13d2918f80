// WebSocket gateway client: connects to /api/ws (the session cookie authenticates it),
// dispatches server frames, reconnects with exponential backoff and full jitter (at once when
// the browser comes back `online`; it drops the socket and shows "offline" on `offline`), and
// keeps an application-level ping going so a silently dead socket is noticed.
//
// Status (reported through `onStatus`): connecting (first attempt) → syncing (`ready`
// arrived) → connected, which sync.js reports itself once the resume is done (`sync:done`);
// reconnecting / offline while down.

import { uuid } from './api.js';

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const PONG_TIMEOUT_MS = 10000;
const OFFLINE_AFTER_ATTEMPTS = 5;
/** A socket still not open after this long is given up and retried. */
const CONNECT_TIMEOUT_MS = 10000;

export const CLOSE_SESSION_REVOKED = 4001;

export class Gateway {
  /**
   * @param {object} opts
   * @param {(frame: {type: string, id?: string, data?: any}) => void} opts.onFrame
   * @param {(status: string) => void} opts.onStatus  connecting|syncing|reconnecting|offline
   *   (`connected` is reported by the app once it has resumed: see sync.js)
   * @param {() => void} opts.onRevoked  the session is gone: stop and show log-in
   * @param {() => Promise<boolean>} [opts.checkSession]  before a reconnect: false = revoked
   */
  constructor(opts) {
    this.opts = opts;
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.heartbeatMs = 30000;
    this.ready = false;
    this.everReady = false;
    this.connectTimer = null;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.goOffline();
  }

  url() {
    return `${location.protocol === 'https:' ? 'wss://' : 'ws://'}${location.host}/api/ws`;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.everReady = false;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    clearTimeout(this.timer);
    this.clearHeartbeat();
    this.abandon();
  }

  /** Detaches and closes the current socket without triggering a reconnect. */
  abandon() {
    clearTimeout(this.connectTimer);
    this.ready = false;
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
    try {
      ws.close(1000);
    } catch {
      /* already closed */
    }
  }

  get isReady() {
    return this.ready && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    if (this.stopped) return;
    this.ready = false;
    this.opts.onStatus(this.everReady ? this.statusWhileDown() : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => this.handle(ev.data);
    ws.onclose = (ev) => this.closed(ev);
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (this.ws === ws && !this.ready) {
        this.abandon();
        this.scheduleReconnect();
      }
    }, CONNECT_TIMEOUT_MS);
  }

  handle(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== 'string') return;
    clearTimeout(this.pongTimer);
    if (frame.type === 'ready') {
      clearTimeout(this.connectTimer);
      this.ready = true;
      this.everReady = true;
      this.attempt = 0;
      this.heartbeatMs = (frame.data && frame.data.heartbeat_ms) || 30000;
      this.startHeartbeat();
      this.opts.onStatus('syncing');
    }
    if (frame.type === 'pong') return;
    this.opts.onFrame(frame);
  }

  closed(ev) {
    clearTimeout(this.connectTimer);
    this.ws = null;
    this.ready = false;
    this.clearHeartbeat();
    if (this.stopped) return;
    if (ev.code === CLOSE_SESSION_REVOKED) {
      this.stop();
      this.opts.onRevoked();
      return;
    }
    this.scheduleReconnect();
  }

  /** 'offline' when the browser says so or the server stayed unreachable for a while. */
  statusWhileDown() {
    return navigator.onLine === false || this.attempt > OFFLINE_AFTER_ATTEMPTS ? 'offline' : 'reconnecting';
  }

  scheduleReconnect() {
    // A socket is already open or opening (e.g. `online` fired while a retry was waiting).
    if (this.stopped || this.ws) return;
    this.attempt += 1;
    const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(this.attempt, 10));
    const delay = Math.max(200, Math.random() * cap);
    this.opts.onStatus(this.statusWhileDown());
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.retry(), delay);
  }

  async retry() {
    if (this.stopped || this.ws) return;
    // A failed upgrade (401) only shows as close code 1006; ask REST whether we still have a
    // session before hammering the socket.
    if (this.attempt > 1 && this.opts.checkSession) {
      let ok;
      try {
        ok = await this.opts.checkSession();
      } catch {
        ok = null; // network down: keep trying
      }
      // Meanwhile `online` may have connected (or stop() ended everything): this retry is stale.
      if (this.stopped || this.ws) return;
      if (ok === false) {
        this.stop();
        this.opts.onRevoked();
        return;
      }
      if (ok === null) {
        this.scheduleReconnect();
        return;
      }
    }
    this.connect();
  }

  /** The browser is back online: try at once, with a fresh backoff. */
  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState === WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.abandon(); // an attempt begun while offline may hang
    this.attempt = 0;
    this.connect();
  }

  /** The browser lost the network: the socket is dead or about to be; say so and drop it. */
  goOffline() {
    if (this.stopped) return;
    this.opts.onStatus('offline');
    this.clearHeartbeat();
    this.abandon();
    this.scheduleReconnect(); // keeps probing slowly in case the browser is wrong
  }

  startHeartbeat() {
    this.clearHeartbeat();
    this.pingTimer = setInterval(() => {
      if (!this.send('ping')) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.ws && this.ws.close(4000, 'pong_timeout'), PONG_TIMEOUT_MS);
    }, this.heartbeatMs);
  }

  clearHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  /**
   * Sends one frame; returns its request id, or null when the socket is not ready. `id`
   * `false` sends the frame without one (events the server answers only when they fail);
   * then the return value is `true`.
   */
  send(type, data, id = uuid()) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return null;
    const frame = id === false ? { type } : { type, id };
    if (data !== undefined) frame.data = data;
    this.ws.send(JSON.stringify(frame));
    return id === false ? true : id;
  }
}
