// clauderon's service worker: the app's shell offline, nothing else.
// - Page loads go to the network first; offline, the shell cached at install answers (the app
//   then says "reconnecting…" and recovers by itself when the daemon is back).
// - Built assets (/assets/*, named by their content) are cached the first time they load.
// - The API, the WebSockets and sign-in (/api, /ws, /auth) are never cached or answered from a
//   cache: what they carry is live and per user.
const CACHE = 'clauderon-shell-v1';
const SHELL = ['/', '/icon.svg', '/manifest.webmanifest'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (['/api', '/ws', '/auth'].some((p) => url.pathname === p || url.pathname.startsWith(`${p}/`))) return;
  if (event.request.mode === 'navigate') {
    event.respondWith(fetch(event.request).catch(() => caches.match('/')));
    return;
  }
  if (url.pathname.startsWith('/assets/')) {
    event.respondWith(
      caches.match(event.request).then(
        (hit) =>
          hit ||
          fetch(event.request).then((resp) => {
            if (resp.ok) {
              const copy = resp.clone();
              caches.open(CACHE).then((c) => c.put(event.request, copy));
            }
            return resp;
          }),
      ),
    );
  }
});

// Web Push: the daemon's notification (decrypted by the browser) shown as it says; a session
// waiting for input uses the same tag as the open page's own notification, so one replaces the
// other instead of both showing.
self.addEventListener('push', (event) => {
  let note = {};
  try {
    note = event.data ? event.data.json() : {};
  } catch {
    note = {};
  }
  const session = typeof note.session === 'string' ? note.session : '';
  const tag = note.event === 'status:waiting-for-input' ? `waiting-${session}` : `${note.event || 'event'}-${session}`;
  event.waitUntil(
    self.registration.showNotification(typeof note.title === 'string' ? note.title : 'clauderon', {
      body: typeof note.body === 'string' ? note.body : '',
      tag,
      icon: '/icon.svg',
      data: { url: typeof note.url === 'string' && note.url.startsWith('/') ? note.url : '/' },
    }),
  );
});

// A click opens the session's page: an open window of the app if there is one, else a new one.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || '/', self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (open) return open.navigate(url).then((w) => (w || open).focus());
      return self.clients.openWindow(url);
    }),
  );
});
