// The persisted outbox: every send is written to IndexedDB (database `banter`, object store
// `outbox`, keyed by `client_id`) BEFORE it goes on the wire and deleted when the server has
// it, so an unsent message survives a reload, a crash or a week offline. Records belong to one
// user (`user_id`); another user's records are cleared when someone signs in.
//
// Record: { client_id, user_id, channel_id, body, created_at (ISO), state: 'sending'|'failed',
//           error (text shown when failed), code (the server's error code),
//           reply_to (message id or null), reply_preview (its quote, shown meanwhile) }
//
// When IndexedDB is unavailable (some private modes) the outbox lives in memory only: sends
// still work, they just do not survive a reload.

const DB_NAME = 'banter';
const DB_VERSION = 1;
const STORE = 'outbox';
/** Fields persisted; the in-memory entry carries more (request id, timers). */
const FIELDS = ['client_id', 'user_id', 'channel_id', 'body', 'created_at', 'state', 'error', 'code', 'reply_to', 'reply_preview'];

let dbPromise = null;
/** Used when IndexedDB cannot be opened. */
let memory = null;

function openDb() {
  if (dbPromise) return dbPromise;
  dbPromise = new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new Error('IndexedDB is not available'));
      return;
    }
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'client_id' });
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another tab upgrading the schema: let it, and reopen on next use.
      db.onversionchange = () => {
        db.close();
        dbPromise = null;
      };
      resolve(db);
    };
    req.onerror = () => reject(req.error || new Error('IndexedDB open failed'));
    req.onblocked = () => reject(new Error('IndexedDB open blocked'));
  });
  dbPromise.catch((e) => {
    console.warn('outbox: falling back to memory:', e && e.message);
    memory = memory || new Map();
  });
  return dbPromise;
}

/** Runs `fn(store)` in one transaction; resolves with the last request's result on commit. */
async function run(mode, fn) {
  let db;
  try {
    db = await openDb();
  } catch {
    return null; // memory mode: callers handle it
  }
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req ? req.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

function record(entry) {
  const r = {};
  for (const k of FIELDS) r[k] = entry[k] === undefined ? null : entry[k];
  return r;
}

/** Writes (or rewrites) one entry. Resolves once it is durable. */
export async function put(entry) {
  const r = record(entry);
  const result = await run('readwrite', (s) => s.put(r));
  if (memory) memory.set(r.client_id, r);
  return result;
}

/** Deletes one entry (no-op when absent). */
export async function remove(clientId) {
  if (memory) memory.delete(clientId);
  await run('readwrite', (s) => s.delete(clientId));
}

/** Every stored entry, oldest first. */
export async function all() {
  const rows = (await run('readonly', (s) => s.getAll())) || [];
  const list = memory && !rows.length ? [...memory.values()] : rows;
  return list.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
}

/**
 * The entries of `userId`, oldest first; entries of any other user are deleted (a shared
 * device must not send, or show, someone else's unsent messages).
 */
export async function loadFor(userId) {
  const rows = await all();
  const mine = [];
  for (const r of rows) {
    if (r.user_id === userId) mine.push(r);
    else await remove(r.client_id);
  }
  return mine;
}
