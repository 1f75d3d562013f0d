// The sidebar: the app's header, the "Chats" navigation (rooms, then private chats, each most
// recent first, with unread badges and presence), and the signed-in user with "Log out".
import { html, cls } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { listTime, preview } from '../format.js';
import { Avatar } from './avatar.js';
import { Icon, Logo } from './icons.js';
import { FirstSteps } from './share.js';

/** `text` in a directional isolate (U+2068 … U+2069): laid out in its own direction. */
const isolate = (text) => `\u2068${text}\u2069`;

/** Extra buttons for the sidebar's footer, added by other features (e.g. "Administration"). */
export const sidebarTools = [];

function ChatLink({ chat, current }) {
  const online = chat.is_private ? store.isOnline(chat.peer) : undefined;
  const unread = chat.unread_count || 0;
  const mentions = chat.unread_mentions || 0;
  const typing = store.typingNames(chat.id);
  const last = chat.last_message;
  const me = store.me();
  // Names and previews are isolated (the Unicode isolates FSI…PDI, which an ellipsis-cut line
  // keeps inside its box): an Arabic name cannot reorder the words around it.
  let line = '';
  if (typing.length) line = typing.length === 1 ? `${isolate(typing[0])} is typing…` : 'Several people are typing…';
  else if (last) {
    const who = last.sender?.id === me?.id ? 'You' : chat.is_private ? '' : store.nameOf(last.sender);
    line = who ? `${isolate(who)}: ${isolate(preview(last))}` : isolate(preview(last));
  } else line = 'No messages yet';
  // The link is named by its content, which starts with the chat's name; the hidden words
  // make it read as "weekend-trip, online, Jonas: see you, 10:32, 3 unread messages".
  const hidden = (text) => html`<span class="visually-hidden">${text}</span>`;
  return html`<li>
    <a href=${actions.chatHref(chat.id)} class=${cls('chat-link', unread && 'unread')} aria-current=${current ? 'page' : undefined}>
      <${Avatar} name=${chat.name} user=${chat.is_private ? chat.peer : undefined} size="sm" room=${!chat.is_private} online=${online} />
      <span class="chat-link-text">
        <span class="chat-link-name" dir="auto">${chat.name}</span>${hidden(chat.is_private && store.state.conn === 'online' ? (online ? ', online, ' : ', offline, ') : ', ')}
        <span class=${cls('chat-link-preview', typing.length && 'is-typing')}>${line}</span>
      </span>
      <span class="chat-link-meta">
        ${last ? html`<span class="chat-link-time">${hidden(', ')}${listTime(last.created_at)}</span>` : null}
        <span class="chat-link-badges">
          ${mentions ? html`<span class="badge badge-mention" title=${`${mentions} unread mention${mentions === 1 ? '' : 's'}`}>${hidden(', ')}@${hidden(` ${mentions} mentioning you`)}</span>` : null}
          ${unread ? html`<span class="badge">${hidden(', ')}${unread > 99 ? '99+' : unread}${hidden(` unread message${unread === 1 ? '' : 's'}`)}</span>` : null}
        </span>
      </span>
    </a>
  </li>`;
}

function Section({ title, id, chats, addLabel, onAdd, empty, extra }) {
  const current = store.state.currentId;
  return html`<div class="nav-section">
    <div class="nav-section-head">
      <h2 id=${id}>${title}</h2>
      ${extra}
      <button type="button" class="icon-btn small" aria-label=${addLabel} title=${addLabel} onClick=${onAdd}><${Icon} name="plus" /></button>
    </div>
    ${chats.length
      ? html`<ul class="chat-list" aria-labelledby=${id}>${chats.map((c) => html`<${ChatLink} key=${c.id} chat=${c} current=${c.id === current} />`)}</ul>`
      : html`<p class="nav-empty">${store.state.chatsLoaded ? empty : 'Loading…'}</p>`}
  </div>`;
}

export function Sidebar() {
  const { state } = store;
  const user = store.me();
  const order = store.chatOrder();
  const rooms = order.filter((c) => !c.is_private);
  const privateChats = order.filter((c) => c.is_private);
  const logout = () => {
    const unsent = state.outbox.length;
    if (!unsent) return actions.logout();
    store.openDialog('confirm', {
      title: 'Log out?',
      body: `${unsent} message${unsent === 1 ? ' has' : 's have'} not been sent yet and will be lost.`,
      confirm: 'Log out anyway',
      run: async () => actions.logout(),
    });
  };
  return html`<div class="sidebar">
    <header class="side-head">
      <a class="brand" href="#/"><${Logo} size=${28} /><span class="brand-name">natter</span></a>
      <div class="side-tools">
        ${state.notifications === 'default' ? html`<button type="button" class="icon-btn" aria-label="Enable notifications"
          title="Enable notifications" onClick=${actions.enableNotifications}><${Icon} name="bell" /></button>` : null}
        <button type="button" class="icon-btn" aria-label="Find a chat" title="Find a chat (Ctrl+K)"
          aria-keyshortcuts="Control+K Meta+K" onClick=${() => store.openDialog('switcher')}><${Icon} name="search" /></button>
      </div>
    </header>
    <nav class="chat-nav" aria-label="Chats">
      ${state.chatsLoaded && !order.length ? html`<${FirstSteps} />` : null}
      <${Section} title="Rooms" id="rooms-heading" chats=${rooms} addLabel="New room"
        onAdd=${() => store.openDialog('new-room')} empty="You are in no room yet. Browse the open ones, or create one with +."
        extra=${html`<button type="button" class="icon-btn small" aria-label="Browse rooms" title="Browse rooms"
          onClick=${() => store.openDialog('browse-rooms')}><${Icon} name="compass" /></button>`} />
      <${Section} title="Private chats" id="private-heading" chats=${privateChats} addLabel="New private chat"
        onAdd=${() => store.openDialog('new-private-chat')} empty="Nobody yet. Start a chat with +." />
    </nav>
    <footer class="side-foot">
      <${Avatar} user=${user} size="sm" />
      <span class="me">
        <span class="me-name" dir="auto">${store.nameOf(user)}</span>
        <span class="me-mail">${user.email}</span>
      </span>
      ${sidebarTools.map((Tool) => html`<${Tool} />`)}
      <button type="button" class="icon-btn" aria-label="Profile" title="Profile" onClick=${() => store.openDialog('profile')}><${Icon} name="user" /></button>
      <button type="button" class="icon-btn" aria-label="Log out" title="Log out" onClick=${logout}><${Icon} name="logout" /></button>
    </footer>
  </div>`;
}
