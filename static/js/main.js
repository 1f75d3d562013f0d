// Boot: restore the session, render, and wire the browser's events (address, visibility,
// network, keyboard shortcuts) and the service worker where the browser offers one.
import { html, render } from './lib.js';
import * as actions from './actions.js';
import * as socket from './socket.js';
import * as store from './store.js';
import { App } from './views/app.js';
// The administration panel plugs into the sidebar and the dialogs.
import './views/admin.js';
// Features that plug into the views (message parts, header tools, dialogs).
import './views/reactions.js';
import './views/rooms.js';
import './views/search.js';
import './views/notifications.js';

const { state } = store;

const saved = store.loadSession();
if (saved) {
  store.setSession(saved);
  actions.resume();
} else {
  // A first run opens on sign-up: ask before the first render, so the form does not jump.
  await actions.askServerAtStart();
}
render(html`<${App} />`, document.getElementById('app'));

addEventListener('hashchange', () => { if (state.session) actions.route(); });
document.addEventListener('visibilitychange', () => store.set({ visible: document.visibilityState === 'visible' }));
addEventListener('online', () => { if (state.session) socket.nudge(); });
addEventListener('offline', () => { if (state.session) store.set({ conn: 'offline' }); });
addEventListener('pagehide', store.flushDrafts);
setInterval(store.pruneTyping, 2000);

// Keyboard: Ctrl/Cmd+K chat switcher, Ctrl/Cmd+F message search (pressed again inside the
// search, the browser's own find), Alt+↑/↓ previous/next chat, Esc closes the members panel or
// cancels an edit (dialogs close themselves on Esc).
addEventListener('keydown', (event) => {
  if (!state.session) return;
  const key = event.key;
  if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && key.toLowerCase() === 'k') {
    event.preventDefault();
    if (state.dialog?.type === 'switcher') store.closeDialog();
    else store.openDialog('switcher');
  } else if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && key.toLowerCase() === 'f'
      && state.dialog?.type !== 'search') {
    event.preventDefault();
    store.openDialog('search', { roomId: state.currentId });
  } else if (event.altKey && !event.ctrlKey && !event.metaKey && (key === 'ArrowUp' || key === 'ArrowDown') && !state.dialog) {
    event.preventDefault();
    actions.step(key === 'ArrowUp' ? -1 : 1);
  } else if (key === 'Escape' && !state.dialog && !event.defaultPrevented) {
    if (state.editing) store.set({ editing: null });
    else if (state.panel) store.set({ panel: false });
  }
});

// The service worker exists only in secure contexts (https, localhost); on a plain-http LAN
// address everything works without it. A new worker taking over means a new UI version.
if ('serviceWorker' in navigator && window.isSecureContext) {
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.register('sw.js').catch(() => {});
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (hadController) store.set({ updateReady: true });
  });
}
