// natter's service worker: it keeps the app shell (this folder's HTML, CSS, JS and icons) so
// the UI opens at once and even when the server is briefly unreachable. It never touches the
// API, /media or /socket.io: those always go to the network.
//
// The server writes a digest of every UI file into VERSION, so any change to the UI changes
// this file; the browser then installs the new worker, which caches the new shell under a new
// name, deletes the old caches and takes over (the page offers a reload). The page itself is
// fetched network-first, so a reachable server always serves its current index.html.

const VERSION = '__NATTER_UI_VERSION__';
const CACHE = `natter-ui-${VERSION}`;
const SHELL = [
  './',
  'app.css',
  'manifest.webmanifest',
  'favicon.ico',
  'icons/icon.svg',
  'icons/icon-192.png',
  'vendor/preact.mjs',
  'vendor/hooks.mjs',
  'vendor/htm.mjs',
  'vendor/socket.io.esm.min.js',
  'vendor/lean-qr.mjs',
  'js/main.js',
  'js/lib.js',
  'js/api.js',
  'js/store.js',
  'js/socket.js',
  'js/format.js',
  'js/actions.js',
  'js/views/admin.js',
  'js/views/app.js',
  'js/views/avatar.js',
  'js/views/chat.js',
  'js/views/composer.js',
  'js/views/dialog.js',
  'js/views/dialogs.js',
  'js/views/forms.js',
  'js/views/icons.js',
  'js/views/members.js',
  'js/views/mentions.js',
  'js/views/messages.js',
  'js/views/notifications.js',
  'js/views/reactions.js',
  'js/views/recorder.js',
  'js/views/replies.js',
  'js/views/rooms.js',
  'js/views/search.js',
  'js/views/share.js',
  'js/views/sidebar.js',
  'js/views/signin.js',
  'js/views/user-suggest.js',
];

const scope = new URL(self.registration.scope);
const shell = new Set(SHELL.map((path) => new URL(path, scope).pathname));
const pages = new Set([scope.pathname, `${scope.pathname}index.html`]);

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL.map((path) => new Request(new URL(path, scope), { cache: 'no-cache' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('natter-ui-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== scope.origin) return;
  if (request.mode === 'navigate' && pages.has(url.pathname)) event.respondWith(page(request));
  else if (shell.has(url.pathname) && !url.search) event.respondWith(asset(request));
});

/** The page: the network's copy when it answers within 4 s (kept for next time), else ours. */
async function page(request) {
  const cache = await caches.open(CACHE);
  try {
    // The request as it came (older browsers refuse to copy a navigation request with a
    // RequestInit); index.html is served no-cache, so the browser revalidates it anyway.
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 4000)),
    ]);
    if (response.ok) await cache.put(new URL('./', scope), response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(new URL('./', scope));
    if (cached) return cached;
    throw error;
  }
}

/** A shell file: this version's cached copy, else the network. */
async function asset(request) {
  const cache = await caches.open(CACHE);
  return (await cache.match(request)) ?? fetch(request);
}

// ---- Web Push ----
// The server sends {title, body, room_id, message_id, url} (SPEC §3, Notifications) to members
// with no natter open. A room open in a visible window needs no notification: that window shows
// the message itself.

const roomOpenIn = (client, roomId) => {
  if (roomId == null || client.visibilityState !== 'visible') return false;
  const hash = new URL(client.url).hash;
  return hash === `#/chat/${roomId}`;
};

/** The push's `url` (a path on this server) under this worker's scope, so that natter behind a
 * proxy's sub-path opens there. */
const target = (url) => new URL(typeof url === 'string' && url.startsWith('/') ? `.${url}` : './', scope).href;

self.addEventListener('push', (event) => {
  event.waitUntil((async () => {
    let data = {};
    try { data = event.data ? event.data.json() : {}; } catch { data = {}; }
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    if (windows.some((client) => roomOpenIn(client, data.room_id))) return;
    await self.registration.showNotification(data.title || 'natter', {
      body: data.body || '',
      icon: new URL('icons/icon-192.png', scope).href,
      badge: new URL('icons/icon-192.png', scope).href,
      tag: data.room_id != null ? `natter-room-${data.room_id}` : 'natter-test',
      data: { url: target(data.url) },
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data?.url || scope.href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const mine = windows.find((client) => new URL(client.url).pathname === new URL(url).pathname);
    if (mine) {
      await mine.focus();
      if ('navigate' in mine) await mine.navigate(url).catch(() => {});
      return;
    }
    await self.clients.openWindow(url);
  })());
});
