// The one state store. Everything the views show lives in `state`; only the functions here
// change it, and each change schedules one re-render (batched in a microtask). Views read
// `state` directly; the root subscribes (see useStore).

import { useLayoutEffect, useReducer, storage } from './lib.js';

export const state = {
  session: null, //         {token, user, expiresAt}
  notice: null, //          a sentence for the sign-in screen (session expired, …)
  conn: 'offline', //       'connecting' | 'online' | 'reconnecting' | 'offline'
  visible: document.visibilityState === 'visible',
  chats: new Map(), //      id → Chat (group rooms and private chats alike, see toChat)
  chatsLoaded: false,
  currentId: null, //       the open chat
  rooms: new Map(), //      id → the open chat's loaded history and paging state (see room)
  outbox: [], //            sends not acknowledged yet, oldest first (persisted)
  typing: new Map(), //     room id → Map(user id → {username, until})
  presence: new Map(), //   user id → {online, last_seen}
  profiles: new Map(), //   user id → {display_name, avatar_url}, the newest known (user_updated)
  dialog: null, //          {type, ...props} of the open dialog
  panel: false, //          the members panel is open
  editing: null, //         id of the message being edited
  replyTo: new Map(), //    room id → the message the composer answers
  uploads: new Map(), //    room id → the files attached in its composer (see uploadsIn)
  toasts: [],
  notifications: 'Notification' in window ? Notification.permission : 'unsupported',
  updateReady: false, //    a new version of the UI is installed
  serverAtStart: null, //   what /healthz said as the page loaded signed out (see askServerAtStart)
};

const listeners = new Set();
let scheduled = false;
/** Counts changes, so a subscriber can tell that it missed one (see useStore). */
let version = 0;

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Schedule a re-render of every subscriber (once per microtask, however many changes). */
export function changed() {
  version++;
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const fn of listeners) fn(state);
  });
}

/** Re-render the calling component whenever the store changes. A change between this
 * component's first render and its subscription (a 401 that signs out while a slow device is
 * still painting the first screen) would otherwise never reach it: the subscription checks the
 * change count it rendered with and re-renders if it moved. */
export function useStore() {
  const [, bump] = useReducer((n) => n + 1, 0);
  const rendered = version;
  useLayoutEffect(() => {
    const unsubscribe = subscribe(bump);
    if (version !== rendered) bump();
    return unsubscribe;
  }, []);
  return state;
}

export const me = () => state.session?.user ?? null;

// ---- session ----

const SESSION_KEY = 'natter.session';

export function loadSession() {
  const saved = storage.get(SESSION_KEY);
  if (!saved || typeof saved.token !== 'string' || !saved.user) return null;
  return saved;
}

export function setSession(session, notice = null) {
  const sameUser = session && state.session?.user.id === session.user.id;
  state.session = session;
  state.notice = notice;
  if (session) {
    // Signed in: sign-in will not open in a first-run mode again.
    state.serverAtStart = null;
    storage.set(SESSION_KEY, session);
    if (!sameUser) {
      drafts = null;
      arrivals = null;
      loadOutbox(session.user.id);
    }
  } else {
    drafts = null;
    arrivals = null;
    storage.remove(SESSION_KEY);
    Object.assign(state, {
      chats: new Map(), chatsLoaded: false, currentId: null, rooms: new Map(), outbox: [],
      typing: new Map(), presence: new Map(), dialog: null, panel: false, editing: null, conn: 'offline',
      replyTo: new Map(), uploads: new Map(),
    });
    leaving.clear();
    // What someone searched for is theirs: the next person on this tab starts with nothing.
    Object.assign(lastSearch, { text: '', here: true });
  }
  changed();
}

export function set(patch) {
  Object.assign(state, patch);
  changed();
}

// ---- chats ----

/** Group rooms (Room) and private chats (PrivateChat, or a Room with a peer) in one shape. */
export function toChat(obj, prev) {
  const isPrivate = Boolean(obj.is_private);
  const peer = obj.peer ?? prev?.peer ?? null;
  return {
    id: obj.id,
    is_private: isPrivate,
    name: isPrivate ? (peer ? nameOf(peer) : 'Private chat') : (obj.name ?? prev?.name ?? ''),
    peer,
    visibility: obj.visibility ?? prev?.visibility ?? 'private',
    topic: obj.topic !== undefined ? obj.topic : prev?.topic ?? null,
    owner_id: obj.owner_id ?? prev?.owner_id ?? null,
    members: obj.members ?? prev?.members ?? null,
    created_at: obj.created_at ?? prev?.created_at ?? null,
    last_message: obj.last_message !== undefined ? obj.last_message : prev?.last_message ?? null,
    unread_count: obj.unread_count ?? prev?.unread_count ?? 0,
    unread_mentions: obj.unread_mentions ?? prev?.unread_mentions ?? 0,
  };
}

export const activity = (chat) => Date.parse(chat.last_message?.created_at || chat.created_at || '') || 0;

/** Rooms, then private chats, each most recent activity first: the sidebar's order. */
export function chatOrder() {
  const all = [...state.chats.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id);
  return [...all.filter((c) => !c.is_private), ...all.filter((c) => c.is_private)];
}

// ---- people: display names and avatars ----

/** The newest known profile fields of `user` (a UserPublic, a sender, a member). */
function profileOf(user) {
  return (user && state.profiles.get(user.id)) || user || {};
}

/** The name `user` is shown by: their display name, else their username. */
export const nameOf = (user) => profileOf(user).display_name || user?.username || '';

/** Whether `user` is shown by a name other than their username (it is written beside it then). */
export const hasOwnName = (user) => nameOf(user).toLowerCase() !== (user?.username ?? '').toLowerCase();

/** The URL of `user`'s avatar, or null (initials are drawn instead). */
export const avatarOf = (user) => profileOf(user).avatar_url || null;

/** `user_updated`: their new name and picture everywhere they appear. */
export function applyUserUpdate(user) {
  if (!user || user.id == null) return;
  const fields = { display_name: user.display_name ?? null, avatar_url: user.avatar_url ?? null };
  state.profiles.set(user.id, fields);
  for (const [id, chat] of state.chats) {
    const peer = chat.peer?.id === user.id ? { ...chat.peer, ...fields } : chat.peer;
    const members = chat.members?.map((m) => (m.id === user.id ? { ...m, ...fields } : m)) ?? chat.members;
    if (peer !== chat.peer || members !== chat.members) {
      state.chats.set(id, { ...chat, peer, members, name: chat.is_private && peer ? nameOf(peer) : chat.name });
    }
  }
  if (state.session?.user?.id === user.id) {
    state.session = { ...state.session, user: { ...state.session.user, ...fields } };
  }
  changed();
}

function notePresence(user) {
  if (user && user.id != null && 'online' in user) {
    state.presence.set(user.id, { online: Boolean(user.online), last_seen: user.last_seen ?? null });
  }
}

/** Replace the chat list with the server's (after login and every reconnect). */
export function setChats(rooms, privateChats) {
  const next = new Map();
  for (const obj of [...rooms, ...privateChats]) {
    const chat = toChat(obj, state.chats.get(obj.id));
    next.set(obj.id, chat);
    notePresence(obj.peer);
    for (const m of obj.members ?? []) notePresence(m);
    noteArrivals(chat);
  }
  state.chats = next;
  state.chatsLoaded = true;
  for (const id of [...state.rooms.keys()]) if (!next.has(id)) state.rooms.delete(id);
  changed();
}

export function upsertChat(obj) {
  const chat = toChat(obj, state.chats.get(obj.id));
  state.chats.set(chat.id, chat);
  notePresence(obj.peer);
  for (const m of obj.members ?? []) notePresence(m);
  noteArrivals(chat);
  changed();
  return chat;
}

// ---- who joined a room (the quiet "… joined" lines of the log) ----
// The server sends members, not when they arrived, so each browser remembers who it has seen in
// each group room (per user, across reloads): someone new since the last look gets a line at the
// moment this browser learnt of them, whether live (room_updated) or at the next sign-in.

const arrivalsKey = () => `natter.arrivals.${state.session?.user.id}`;
const ARRIVAL_LINES = 20;
let arrivals = null;

function noteArrivals(chat) {
  if (chat.is_private || !chat.members || !state.session) return;
  arrivals ??= storage.get(arrivalsKey(), {});
  const ids = chat.members.map((m) => m.id);
  const entry = arrivals[chat.id];
  if (!entry) {
    // The first look at a room: everyone there is simply there.
    arrivals[chat.id] = { known: ids, lines: [] };
  } else {
    const known = new Set(entry.known);
    const mine = me()?.id;
    const at = new Date().toISOString();
    const fresh = chat.members.filter((m) => !known.has(m.id) && m.id !== mine).map((m) => ({ id: m.id, username: m.username, at }));
    if (!fresh.length && ids.length === entry.known.length) return;
    entry.known = ids;
    entry.lines = [...entry.lines, ...fresh].slice(-ARRIVAL_LINES);
  }
  storage.set(arrivalsKey(), arrivals);
}

/** The "… joined" lines of a room, oldest first: {id, username, at}. */
export const arrivalsIn = (roomId) => arrivals?.[roomId]?.lines ?? [];

export function removeChat(id) {
  state.chats.delete(id);
  state.rooms.delete(id);
  state.typing.delete(id);
  if (state.currentId === id) Object.assign(state, { currentId: null, panel: false, editing: null });
  changed();
}

export function patchChat(id, patch) {
  const chat = state.chats.get(id);
  if (!chat) return;
  state.chats.set(id, { ...chat, ...patch });
  changed();
}

/** Our own read marker moved (we told the server): the next open of the chat places "New
 * messages" from it, not from the marker the chat list came with. */
export function setMyRead(roomId, messageId) {
  const mine = me()?.id;
  if (mine != null) setMemberRead(roomId, mine, messageId);
}

/** Our read marker in a chat as we know it (null: nothing read yet, or not known). */
export function myReadMarker(roomId) {
  const mine = me()?.id;
  return state.chats.get(roomId)?.members?.find((m) => m.id === mine)?.last_read_id ?? null;
}

/** A member's read marker moved (the `read` event): "Seen by" follows it. */
export function setMemberRead(roomId, userId, messageId) {
  const chat = state.chats.get(roomId);
  if (!chat?.members) return;
  const members = chat.members.map((m) => (m.id === userId && !(m.last_read_id >= messageId) ? { ...m, last_read_id: messageId } : m));
  patchChat(roomId, { members });
}

/** The username of a member of a chat, or of the peer of a private chat. */
export function memberName(chat, userId) {
  if (userId === me()?.id) return nameOf(me());
  const member = chat?.members?.find((m) => m.id === userId) ?? (chat?.peer?.id === userId ? chat.peer : null);
  return member ? nameOf(member) : null;
}

export const mentionsMe = (message) => Boolean(message?.mentions?.includes(me()?.id));

/** The tab title's count: unread messages of the chats whose level admits them (a room at
 * "Mentions only" counts its unread mentions; one at "Nothing" counts none). */
export const totalUnread = () => [...state.chats.values()].reduce((n, c) => {
  const level = c.notify ?? 'all';
  if (level === 'none') return n;
  if (level === 'mentions' && !c.is_private) return n + (c.unread_mentions || 0);
  return n + (c.unread_count || 0);
}, 0);

/** Whether `user` is online as far as we know: nobody is, while we ourselves are not connected
 * (what we knew may be stale). */
export function isOnline(user) {
  if (!user || state.conn !== 'online') return false;
  return state.presence.get(user.id)?.online ?? Boolean(user.online);
}

export function setPresence(userId, online, lastSeen) {
  state.presence.set(userId, { online, last_seen: lastSeen ?? null });
  changed();
}

// ---- messages of the loaded rooms ----

/** The loaded history of one chat, created empty on first use. */
export function room(id) {
  let r = state.rooms.get(id);
  if (!r) {
    r = {
      items: [], //          Messages, id order (a new array on every change)
      loaded: false, //      the newest page arrived
      hasOlder: true, //     `before` may still find something
      hasNewer: false, //    a window around an older message (a jump): newer ones are still to load
      focusId: null, //      scroll to this message and highlight it at the next render
      highlightId: null, //  the message a jump landed on, highlighted for a moment
      loading: false, //     a page is on its way (aria-busy)
      error: null,
      dividerId: null, //    "New messages" goes above this message
      lastRead: 0, //        newest id we told the server we read
    };
    state.rooms.set(id, r);
  }
  return r;
}

export function patchRoom(id, patch) {
  Object.assign(room(id), patch);
  changed();
}

/** Merge messages (any order, duplicates welcome) into a room; settle matching pending sends. */
export function addMessages(roomId, list) {
  if (!list.length) return;
  const r = room(roomId);
  const last = r.items.length ? r.items[r.items.length - 1].id : 0;
  const sorted = [...list].sort((a, b) => a.id - b.id);
  if (sorted[0].id > last) {
    const unique = sorted.filter((m, i) => i === 0 || m.id !== sorted[i - 1].id);
    r.items = r.items.concat(unique);
  } else {
    const byId = new Map(r.items.map((m) => [m.id, m]));
    for (const m of sorted) byId.set(m.id, m);
    r.items = [...byId.values()].sort((a, b) => a.id - b.id);
  }
  for (const m of sorted) settle(m);
  changed();
}

/** Replies in `r` to message `id` get `patch` on their quote (the original was edited or deleted). */
function patchQuotes(r, id, patch) {
  if (!r.items.some((m) => m.reply_to?.id === id)) return;
  r.items = r.items.map((m) => (m.reply_to?.id === id ? { ...m, reply_to: { ...m.reply_to, ...patch } } : m));
}

export function updateMessage(message) {
  const r = state.rooms.get(message.room_id);
  if (r) {
    const i = r.items.findIndex((m) => m.id === message.id);
    if (i >= 0) {
      r.items = r.items.slice();
      r.items[i] = message;
    }
    patchQuotes(r, message.id, { excerpt: [...(message.content ?? '')].slice(0, 200).join('') });
  }
  const chat = state.chats.get(message.room_id);
  if (chat?.last_message?.id === message.id) patchChat(chat.id, { last_message: message });
  changed();
}

export function deleteMessage(id, roomId) {
  const r = state.rooms.get(roomId);
  if (r) {
    r.items = r.items.filter((m) => m.id !== id);
    if (r.dividerId === id) r.dividerId = r.items.find((m) => m.id > id)?.id ?? null;
    patchQuotes(r, id, { excerpt: '', deleted: true });
  }
  const replying = state.replyTo.get(roomId);
  if (replying?.id === id) state.replyTo.delete(roomId);
  const chat = state.chats.get(roomId);
  if (chat?.last_message?.id === id) {
    patchChat(roomId, { last_message: r?.items[r.items.length - 1] ?? null });
  }
  if (state.editing === id) state.editing = null;
  changed();
}

/** A new message for the chat list: preview, order, unread count and mentions. */
export function noteMessage(message, unread) {
  const chat = state.chats.get(message.room_id);
  if (!chat) return;
  const newer = !chat.last_message || message.id >= chat.last_message.id;
  state.chats.set(chat.id, {
    ...chat,
    last_message: newer ? message : chat.last_message,
    unread_count: chat.unread_count + (unread ? 1 : 0),
    unread_mentions: (chat.unread_mentions || 0) + (unread && mentionsMe(message) ? 1 : 0),
  });
  changed();
}

// ---- replying ----

export function setReplyTo(roomId, message) {
  if (message) state.replyTo.set(roomId, message);
  else state.replyTo.delete(roomId);
  changed();
}

// ---- files attached in the composer, per chat ----

const NO_UPLOADS = Object.freeze([]);

/** The files attached in a chat's composer, oldest first: {key, name, size, progress (0…1),
 * preview (an object URL, images only), attachment (once uploaded), error, abort()}. */
export const uploadsIn = (roomId) => state.uploads.get(roomId) ?? NO_UPLOADS;

/** Uploaded, or failed: nothing on its way. */
export const uploadSettled = (upload) => Boolean(upload.attachment || upload.error);

export function addUpload(roomId, upload) {
  state.uploads.set(roomId, [...uploadsIn(roomId), upload]);
  changed();
}

/** Progress, the attachment or the error of one upload; nothing if it was removed meanwhile. */
export function patchUpload(roomId, key, patch) {
  const list = uploadsIn(roomId);
  if (!list.some((u) => u.key === key)) return;
  state.uploads.set(roomId, list.map((u) => (u.key === key ? { ...u, ...patch } : u)));
  changed();
}

export function removeUploads(roomId, keys) {
  const list = uploadsIn(roomId).filter((u) => !keys.includes(u.key));
  if (list.length) state.uploads.set(roomId, list);
  else state.uploads.delete(roomId);
  changed();
}

// ---- pending sends (the outbox) ----

const outboxKey = () => `natter.outbox.${state.session?.user.id}`;

function loadOutbox(userId) {
  const saved = storage.get(`natter.outbox.${userId}`, []);
  state.outbox = (Array.isArray(saved) ? saved : [])
    .filter((e) => e && e.client_id && e.room_id)
    .map((e) => ({ ...e, status: e.status === 'failed' ? 'failed' : 'queued' }));
}

function saveOutbox() {
  storage.set(outboxKey(), state.outbox.map(({ client_id, room_id, content, attachment, reply_to, created_at, status, error, reply_gone }) =>
    ({ client_id, room_id, content, attachment, reply_to, created_at, status, error, reply_gone })));
}

export function addPending(entry) {
  state.outbox = [...state.outbox, entry];
  saveOutbox();
  changed();
}

export function patchPending(clientId, patch) {
  state.outbox = state.outbox.map((e) => (e.client_id === clientId ? { ...e, ...patch } : e));
  saveOutbox();
  changed();
}

export function removePending(clientId) {
  const before = state.outbox.length;
  state.outbox = state.outbox.filter((e) => e.client_id !== clientId);
  if (state.outbox.length !== before) {
    saveOutbox();
    changed();
  }
}

/** A stored message that carries one of our client_ids settles that pending send. */
function settle(message) {
  if (message.client_id && message.sender?.id === me()?.id) removePending(message.client_id);
}

// ---- typing ----

export function setTyping(roomId, userId, username, on) {
  let users = state.typing.get(roomId);
  if (!users) state.typing.set(roomId, (users = new Map()));
  if (on) users.set(userId, { username, until: Date.now() + 6000 });
  else if (!users.delete(userId)) return;
  changed();
}

/** Who is typing in a room now (entries expire: a `typing: false` can get lost). */
export function typingNames(roomId) {
  const users = state.typing.get(roomId);
  if (!users) return [];
  const now = Date.now();
  return [...users.values()].filter((u) => u.until > now).map((u) => u.username);
}

export function pruneTyping() {
  const now = Date.now();
  let any = false;
  for (const users of state.typing.values()) {
    for (const [id, u] of users) if (u.until <= now) { users.delete(id); any = true; }
  }
  if (any) changed();
}

// ---- drafts (per user and chat; kept across reloads, not rendered from the store) ----

const draftsKey = () => `natter.drafts.${state.session?.user.id}`;
let drafts = null;
let draftTimer = 0;

export function draft(roomId) {
  drafts ??= storage.get(draftsKey(), {});
  return drafts[roomId] ?? '';
}

/** Keystrokes are saved after a pause; an emptied draft (sent, or cleared) at once, so that a
 * reload cannot bring back a message that was already sent. */
export function saveDraft(roomId, text) {
  drafts ??= storage.get(draftsKey(), {});
  if (text) drafts[roomId] = text;
  else delete drafts[roomId];
  clearTimeout(draftTimer);
  if (text) draftTimer = setTimeout(flushDrafts, 300);
  else flushDrafts();
}

export function flushDrafts() {
  clearTimeout(draftTimer);
  if (drafts && state.session) storage.set(draftsKey(), drafts);
}

export function forgetDrafts() {
  clearTimeout(draftTimer);
  storage.remove(draftsKey());
  drafts = null;
}

// ---- state no view renders ----
// These decide behaviour, but no view draws them, so changing one schedules no re-render: the
// viewport changes on every scroll, the last search and the typing state on keystrokes.

/** The message list's viewport. `atBottom`: the reader sees the newest message; `stick`:
 * scroll to the bottom after the next render (set by a send, so your own message comes into
 * view even if you had scrolled up). */
export const viewport = { atBottom: true, stick: false };

export function setAtBottom(atBottom) {
  viewport.atBottom = atBottom;
}

export function stickToBottom() {
  viewport.stick = true;
}

/** Whether this render scrolls to the bottom (a send asked for it); asking clears it. */
export function takeStick() {
  const stick = viewport.stick;
  viewport.stick = false;
  return stick;
}

/** The last search, so that coming back to the dialog shows it again. */
export const lastSearch = { text: '', here: true };

export function rememberSearch(text, here) {
  Object.assign(lastSearch, { text, here });
}

/** Where we last told the server we are typing (`room`, null when nowhere) and when. */
export const typingSent = { room: null, at: 0 };

export function noteTypingSent(room) {
  Object.assign(typingSent, { room, at: room == null ? 0 : Date.now() });
}

/** Rooms we asked to leave: their `room_removed` is expected, not news. */
const leaving = new Set();

export function startLeaving(roomId) {
  leaving.add(roomId);
}

/** The leave of `roomId` is over (done or failed); whether it was one we asked for. */
export function endLeaving(roomId) {
  return leaving.delete(roomId);
}

// ---- dialogs and toasts ----

export function openDialog(type, props = {}) {
  state.dialog = { type, ...props };
  changed();
}

export function closeDialog() {
  state.dialog = null;
  changed();
}

let toastId = 0;
export function toast(text, kind = 'error') {
  const id = ++toastId;
  state.toasts = [...state.toasts, { id, text, kind }];
  changed();
  setTimeout(() => dismissToast(id), 8000);
}

export function dismissToast(id) {
  state.toasts = state.toasts.filter((t) => t.id !== id);
  changed();
}
