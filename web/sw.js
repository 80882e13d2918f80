// Banter service worker: keeps the app shell available offline. Network first for the shell
// (so a deployed update is picked up at once), falling back to the cache when offline.
// Never touches /api/ — messages, sessions and the WebSocket always go to the network.

const CACHE = 'banter-shell-v3';
const SHELL = [
  '/',
  '/index.html',
  '/manifest.webmanifest',
  '/icon.svg',
  '/css/base.css',
  '/css/layout.css',
  '/css/chat.css',
  '/css/forms.css',
  '/css/live.css',
  '/js/app.js',
  '/js/api.js',
  '/js/dom.js',
  '/js/format.js',
  '/js/gateway.js',
  '/js/live.js',
  '/js/outbox.js',
  '/js/state.js',
  '/js/sync.js',
  '/js/views/auth.js',
  '/js/views/composer.js',
  '/js/views/dialogs.js',
  '/js/views/header.js',
  '/js/views/menu.js',
  '/js/views/messages.js',
  '/js/views/presence.js',
  '/js/views/sidebar.js',
  '/js/views/typing.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .catch(() => undefined) // a missing file must not block installation
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isApi(url) {
  return url.pathname === '/api' || url.pathname.startsWith('/api/');
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || isApi(url)) return;
  if (url.pathname === '/metrics') return;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok && res.type === 'basic') {
          const copy = res.clone();
          const key = req.mode === 'navigate' ? '/index.html' : req;
          caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return res;
      })
      .catch(async () => {
        const cache = await caches.open(CACHE);
        const hit = await cache.match(req.mode === 'navigate' ? '/index.html' : req);
        return hit || Response.error();
      }),
  );
});
