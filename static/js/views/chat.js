// The open chat: header (name, who is there, "Members"), the message log, who is typing, and
// the composer; files dropped anywhere on it are attached.
import { html, useRef, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { ago } from '../format.js';
import { Avatar } from './avatar.js';
import { Composer } from './composer.js';
import { Icon } from './icons.js';
import { focusComposer, MessageList } from './messages.js';
import { inviteAction, useRegistration } from './share.js';

function subtitle(chat) {
  if (chat.is_private) {
    if (store.state.conn !== 'online') return '';
    if (store.isOnline(chat.peer)) return 'Online';
    const seen = store.state.presence.get(chat.peer?.id)?.last_seen ?? chat.peer?.last_seen;
    return seen ? `Last seen ${ago(seen)}` : 'Offline';
  }
  const members = chat.members ?? [];
  const online = members.filter((m) => store.isOnline(m)).length;
  if (!members.length) return '';
  const count = `${members.length} member${members.length === 1 ? '' : 's'}`;
  // Offline, who is online is not known: say only what is.
  return store.state.conn === 'online' ? `${count} · ${online} online` : count;
}

/** Owners and administrators may change a group room (SPEC: PATCH by the owner or an admin). */
export const canManage = (chat) => !chat.is_private && (chat.owner_id === store.me()?.id || Boolean(store.me()?.is_admin));

/** Extra buttons for the chat header, added by other features (e.g. search): ({ chat }) => vnode. */
export const chatHeaderTools = [];

function ChatHeader({ chat }) {
  const { panel } = store.state;
  return html`<header class="chat-head">
    <a class="icon-btn back" href="#/" aria-label="Back to chats"><${Icon} name="back" /></a>
    <${Avatar} name=${chat.name} user=${chat.is_private ? chat.peer : undefined} room=${!chat.is_private} online=${chat.is_private ? store.isOnline(chat.peer) : undefined} />
    <div class="chat-head-text">
      <h1 id="chat-title" class="chat-title" dir="auto">${chat.name}</h1>
      ${chat.topic ? html`<p class="chat-topic" dir="auto" title=${chat.topic}>${chat.topic}</p>` : null}
      <p class="chat-sub">${subtitle(chat)}</p>
    </div>
    ${chatHeaderTools.map((Tool) => html`<${Tool} chat=${chat} />`)}
    ${canManage(chat) ? html`<button type="button" class="icon-btn" aria-label="Room settings" title="Room settings"
      onClick=${() => store.openDialog('room-settings', { roomId: chat.id })}><${Icon} name="settings" /></button>` : null}
    ${chat.is_private ? null : html`<button type="button" class="btn ghost members-toggle"
      aria-expanded=${panel ? 'true' : 'false'} aria-controls=${panel ? 'members-panel' : undefined}
      onClick=${() => store.set({ panel: !panel })}>
      <${Icon} name="users" /><span class="members-label">Members</span>
    </button>`}
  </header>`;
}

function TypingLine({ chat }) {
  const names = store.typingNames(chat.id);
  if (!names.length) return html`<div class="typing" />`;
  // Names in directional isolates (FSI…PDI), which the line's ellipsis keeps inside its box.
  const name = (n) => `\u2068${n}\u2069`;
  const text = names.length === 1 ? `${name(names[0])} is typing…`
    : names.length === 2 ? `${name(names[0])} and ${name(names[1])} are typing…` : 'Several people are typing…';
  return html`<div class="typing active"><span class="typing-dots" aria-hidden="true"><i /><i /><i /></span>${text}</div>`;
}

const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');

export function ChatView({ chat }) {
  const r = store.room(chat.id);
  const [dragging, setDragging] = useState(false);
  const depth = useRef(0);
  const onDragEnter = (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth.current += 1;
    setDragging(true);
  };
  const onDragLeave = (event) => {
    if (!hasFiles(event)) return;
    depth.current = Math.max(0, depth.current - 1);
    if (!depth.current) setDragging(false);
  };
  const onDragOver = (event) => {
    if (hasFiles(event)) event.preventDefault();
  };
  const onDrop = (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth.current = 0;
    setDragging(false);
    actions.attach(chat.id, [...event.dataTransfer.files]);
    focusComposer();
  };
  return html`<main class="chat" aria-labelledby="chat-title"
    onDragEnter=${onDragEnter} onDragLeave=${onDragLeave} onDragOver=${onDragOver} onDrop=${onDrop}>
    <${ChatHeader} chat=${chat} />
    <${MessageList} chat=${chat} r=${r} />
    <${TypingLine} chat=${chat} />
    <${Composer} key=${chat.id} chat=${chat} />
    ${dragging ? html`<div class="dropzone" aria-hidden="true"><div class="dropzone-inner"><${Icon} name="clip" />
      Drop to attach to ${chat.is_private ? chat.name : `#${chat.name}`}</div></div>` : null}
  </main>`;
}

/** What to say to someone with no chat open: the administrator of an empty server is asked
 * to make a room and invite people; anyone else is pointed at the rooms already there. */
function welcomeText(missing, empty, admin) {
  if (missing) return 'It may have been deleted, or you are no longer a member.';
  if (!empty) return 'Pick a chat on the left, or find a room to join.';
  return admin
    ? 'No chats yet. Create a room for your people, then invite them:'
    : 'You are not in any chat yet. See which rooms are open on this server, or start a private chat:';
}

/** The main pane with no chat open (desktop): a greeting and the ways to start. With no chat
 * at all, the empty state: browse the open rooms, start a private chat, create a room (and
 * for an administrator, invite people). */
export function Welcome({ missing }) {
  const user = store.me();
  const invite = inviteAction(useRegistration());
  const empty = !store.state.chats.size;
  const admin = Boolean(user.is_admin);
  const browse = html`<button type="button" class=${admin && empty ? 'btn' : 'btn primary'} onClick=${() => store.openDialog('browse-rooms')}>
    <${Icon} name="compass" />Browse rooms</button>`;
  return html`<main class="welcome" aria-labelledby="welcome-title">
    <${Avatar} user=${user} size="lg" />
    <h1 id="welcome-title">${missing ? 'This chat is not available' : html`Hello, <bdi>${user.username}</bdi>`}</h1>
    <p>${welcomeText(missing, empty, admin)}</p>
    <div class="welcome-actions">
      ${missing ? html`<a class="btn" href="#/"><${Icon} name="back" />Back to chats</a>` : null}
      ${admin && empty ? null : browse}
      <button type="button" class=${admin && empty ? 'btn primary' : 'btn'} onClick=${() => store.openDialog('new-room')}><${Icon} name="hash" />Create a room</button>
      ${admin && empty ? browse : null}
      ${invite ? html`<button type="button" class="btn" onClick=${invite}><${Icon} name="users" />Invite people</button>` : null}
      <button type="button" class="btn" onClick=${() => store.openDialog('new-private-chat')}><${Icon} name="chat" />Start a private chat</button>
    </div>
    <p class="hint welcome-keys"><kbd>Ctrl</kbd> <kbd>K</kbd> jumps to any chat · <kbd>Ctrl</kbd> <kbd>F</kbd> searches messages · <kbd>Alt</kbd> <kbd>↑</kbd> <kbd>↓</kbd> moves between chats</p>
  </main>`;
}
