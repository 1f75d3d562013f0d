// The root: sign-in when signed out; else sidebar + open chat (+ members panel), the
// connection status, toasts, dialogs. On a phone only one pane shows at a time (app.css).
import { html, cls, useEffect } from '../lib.js';
import * as store from '../store.js';
import { ChatView, Welcome } from './chat.js';
import { Dialogs } from './dialogs.js';
import { Icon } from './icons.js';
import { MembersPanel } from './members.js';
import { Sidebar } from './sidebar.js';
import { SignIn } from './signin.js';

const CONNECTION_TEXT = {
  online: 'Connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline. Messages you send will go out when the connection is back.',
};

function ConnectionStatus() {
  const { conn } = store.state;
  return html`<div role="status" class=${cls('conn', `conn-${conn}`)}>
    ${conn === 'online' ? null : html`<span class="conn-dot" aria-hidden="true" />`}${CONNECTION_TEXT[conn]}
  </div>`;
}

function Toasts() {
  const { toasts, updateReady } = store.state;
  return html`<div class="toasts">
    ${updateReady ? html`<div class="toast info" role="status">
      <span>A new version of natter is ready.</span>
      <button type="button" class="btn small" onClick=${() => location.reload()}>Reload</button>
    </div>` : null}
    ${toasts.map((t) => html`<div key=${t.id} class=${cls('toast', t.kind)} role=${t.kind === 'error' ? 'alert' : 'status'}>
      <span>${t.text}</span>
      <button type="button" class="icon-btn small" aria-label="Dismiss" onClick=${() => store.dismissToast(t.id)}><${Icon} name="close" /></button>
    </div>`)}
  </div>`;
}

function useTitle() {
  const { state } = store;
  const chat = state.currentId ? state.chats.get(state.currentId) : null;
  const unread = store.totalUnread();
  const title = `${!state.visible && unread ? `(${unread}) ` : ''}${chat ? `${chat.name} · ` : ''}natter`;
  useEffect(() => {
    if (state.session) document.title = title;
  });
}

export function App() {
  const state = store.useStore();
  useTitle();
  if (!state.session) return html`<${SignIn} /><${Dialogs} />`;
  const chat = state.currentId ? state.chats.get(state.currentId) : null;
  let main;
  if (chat) main = html`<${ChatView} key=${chat.id} chat=${chat} />`;
  else if (state.currentId && state.chatsLoaded) main = html`<${Welcome} missing />`;
  else if (state.currentId) main = html`<main class="chat chat-loading" aria-busy="true" aria-label="Loading the chat"><span class="spinner" /></main>`;
  else main = html`<${Welcome} />`;
  const panel = state.panel && chat && !chat.is_private;
  return html`<div class=${cls('layout', state.currentId ? 'show-chat' : 'show-list', panel && 'show-panel')}>
      <${Sidebar} />
      ${main}
      ${panel ? html`<${MembersPanel} chat=${chat} />` : null}
    </div>
    <${ConnectionStatus} />
    <${Toasts} />
    <${Dialogs} />`;
}
