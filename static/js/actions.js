// The use cases the views call: sign in and out, open a chat and page its history, jump to a
// message (a window of history around it), attach files (uploads with progress), send (with the
// outbox that never loses or duplicates a message, replies included), edit, delete, react,
// rooms and members, typing, read markers, notifications. They talk to api.js and socket.js and
// change state only through store.js.

import * as api from './api.js';
import * as socket from './socket.js';
import * as store from './store.js';
import { preview } from './format.js';
import { randomId, storage } from './lib.js';

const { state } = store;
const PAGE = 50;

// ---- session ----

export async function login(name, password) {
  begin(await api.login(name, password));
}

export async function signup({ username, email, password, invite }) {
  const body = { username, email, password };
  if (invite) body.invite = invite;
  await api.signup(body);
  begin(await api.login(email, password));
  landInFirstRoom();
}

function begin(token) {
  storage.set('natter.lastLogin', token.user.username);
  store.setSession({ token: token.access_token, user: token.user, expiresAt: Date.now() + token.expires_in * 1000 });
  resume();
}

/** A new account is a member of the server's first room (when it has one) and of nothing else:
 * open it, so the newcomer lands where everyone else already is. */
async function landInFirstRoom() {
  try {
    await socket.refreshChats();
  } catch {
    return; // The list comes with the connection; the welcome pane will do.
  }
  const rooms = store.chatOrder().filter((c) => !c.is_private);
  if (!state.currentId && rooms.length === 1) go(rooms[0].id);
}

// A timer handle, not state: state.session.expiresAt says when; this only rings then.
let expiryTimer = 0;

/** Start (or restart after a reload) the signed-in session in state.session. */
export function resume() {
  const { token, expiresAt } = state.session;
  if (expiresAt && expiresAt <= Date.now()) return expire();
  clearTimeout(expiryTimer);
  const left = expiresAt - Date.now();
  if (left < 2 ** 31 - 1) expiryTimer = setTimeout(expire, left);
  socket.start(token);
  socket.refreshChats().catch(() => {});
  api.me().then((user) => { if (state.session?.token === token) store.setSession({ ...state.session, user }); }, () => {});
  route();
}

/** The token no longer works: back to the sign-in screen, saying why (an administrator
 * disabled the account, or the session simply ran out). */
export function expire(error) {
  if (!state.session) return;
  const disabled = /disabled/i.test(error?.message ?? '');
  end(disabled ? 'This account has been disabled by an administrator of this server.' : 'Your session has expired. Please log in again.');
}

export async function logout() {
  // This device stops getting pushes for the account (before the token is forgotten).
  await Promise.race([disablePush().catch(() => {}), new Promise((resolve) => { setTimeout(resolve, 2000); })]);
  store.forgetDrafts();
  storage.remove(`natter.outbox.${state.session?.user.id}`);
  end(null);
}

function end(notice) {
  clearTimeout(expiryTimer);
  socket.stop();
  for (const roomId of [...state.uploads.keys()]) discardUploads(roomId);
  store.setSession(null, notice);
  if (location.hash.startsWith('#/')) history.replaceState(null, '', location.pathname + location.search);
}

api.setUnauthorizedHandler(expire);

// ---- the server itself ----

/** What `GET /healthz` says about this server now (first run, who may sign up); null when it
 * cannot be asked. Not cached: the first sign-up ends the first run. */
export const serverInfo = () => api.health().catch(() => null);

/** Ask the server, as the page loads without a session, so that sign-in renders once, in the
 * right mode (sign-up on a first run); if it does not answer within `waitMs`, sign-in opens as
 * usual. */
export async function askServerAtStart(waitMs = 2000) {
  const late = new Promise((resolve) => { setTimeout(resolve, waitMs, null); });
  store.set({ serverAtStart: await Promise.race([serverInfo(), late]) });
}

// ---- which chat is open (the address's #/chat/<id>) ----

export const chatHref = (id) => `#/chat/${id}`;

export function route() {
  const m = /^#\/chat\/(\d+)$/.exec(location.hash);
  const id = m ? Number(m[1]) : null;
  if (id === state.currentId) return;
  store.set({ currentId: id, panel: false, editing: null });
  if (id) openRoom(id);
}

export function go(id) {
  location.hash = id ? chatHref(id) : '#/';
}

/** Alt+↑ / Alt+↓: the previous or next chat in the sidebar's order. */
export function step(delta) {
  const order = store.chatOrder();
  if (!order.length) return;
  const i = order.findIndex((c) => c.id === state.currentId);
  const next = i < 0 ? (delta > 0 ? 0 : order.length - 1) : (i + delta + order.length) % order.length;
  go(order[next].id);
}

// ---- history ----

/** Open a chat: its newest page, and older ones until the first unread message is in (at most
 * UNREAD_REACH messages back), so that "New messages" can be drawn where the reader left off. */
async function openRoom(id) {
  const r = store.room(id);
  // The marker as it is now, before reading this chat moves it.
  const readAtOpen = store.myReadMarker(id);
  if (r.loaded) placeDivider(id, readAtOpen);
  else if (!r.loading) {
    store.patchRoom(id, { loading: true, error: null });
    try {
      const page = await api.history(id, { limit: PAGE });
      store.addMessages(id, page);
      let hasOlder = page.length === PAGE;
      while (hasOlder && r.items.length < UNREAD_REACH && !reachesUnread(id, readAtOpen)) {
        const older = await api.history(id, { before: r.items[0].id, limit: BIG_PAGE });
        store.addMessages(id, older);
        hasOlder = older.length === BIG_PAGE;
      }
      store.patchRoom(id, { loaded: true, loading: false, hasOlder });
      placeDivider(id, readAtOpen);
    } catch (error) {
      store.patchRoom(id, { loading: false, error: error.status === 404 ? 'This chat does not exist, or you are not in it.' : error.message });
    }
  }
  refreshRoom(id);
}

/** Try a chat whose history could not be loaded again (Retry, or the connection is back). */
export function retryRoom(id) {
  const r = store.room(id);
  if (r.loading) return;
  store.patchRoom(id, { error: null });
  openRoom(id);
}

/** Messages the first view may load to reach the first unread one. */
const UNREAD_REACH = 1000;
const BIG_PAGE = 200;

/** Whether the loaded history starts at or before the first message the reader has not read. */
function reachesUnread(id, lastRead) {
  const r = store.room(id);
  if (!r.items.length) return true;
  if (lastRead != null) return r.items[0].id <= lastRead;
  // Nothing read yet: the server's count of unread messages (not ours) says how far back to go.
  const mine = store.me()?.id;
  const unread = state.chats.get(id)?.unread_count ?? 0;
  return r.items.filter((m) => m.sender?.id !== mine).length >= unread;
}

/** The "New messages" line goes above the first message from someone else past the reader's
 * marker as it was when the chat opened. */
function placeDivider(id, lastRead) {
  const r = store.room(id);
  const chat = state.chats.get(id);
  const mine = store.me()?.id;
  let dividerId = null;
  if (lastRead != null) {
    dividerId = r.items.find((m) => m.id > lastRead && m.sender?.id !== mine)?.id ?? null;
  } else if (chat?.unread_count > 0) {
    let left = chat.unread_count;
    for (let i = r.items.length - 1; i >= 0 && left > 0; i--) {
      if (r.items[i].sender?.id !== mine) {
        left--;
        if (left === 0) dividerId = r.items[i].id;
      }
    }
    if (left > 0) dividerId = r.items.find((m) => m.sender?.id !== mine)?.id ?? null;
  }
  store.patchRoom(id, { dividerId });
}

export async function loadOlder(id) {
  const r = store.room(id);
  if (!r.loaded || r.loading || !r.hasOlder || !r.items.length) return;
  store.patchRoom(id, { loading: true });
  try {
    const page = await api.history(id, { before: r.items[0].id, limit: PAGE });
    store.addMessages(id, page);
    store.patchRoom(id, { loading: false, hasOlder: page.length === PAGE });
  } catch (error) {
    store.patchRoom(id, { loading: false });
    store.toast(`Could not load older messages: ${error.message}`);
  }
}

/** Fresh members and presence for one chat (the list's copy may be older). */
export async function refreshRoom(id) {
  try {
    store.upsertChat(await api.getRoom(id));
  } catch { /* the list's copy will do */ }
}

// ---- a window around one message (search results, quotes) ----

const WINDOW = 25;

/** Open `roomId` at message `messageId`: scrolled to it and highlighted. A message outside the
 * loaded history brings a window of history around it (older and newer pages then load as the
 * reader scrolls, until the window meets the newest messages again). */
export async function jumpTo(roomId, messageId) {
  const r = store.room(roomId);
  if (r.items.some((m) => m.id === messageId)) {
    store.patchRoom(roomId, { focusId: messageId });
    go(roomId);
    return;
  }
  // Loading: openRoom (run by go) leaves the room alone and live messages wait for the window.
  store.patchRoom(roomId, { loading: true, error: null });
  go(roomId);
  try {
    const [older, newer] = await Promise.all([
      api.history(roomId, { before: messageId + 1, limit: WINDOW }),
      api.history(roomId, { after: messageId, limit: WINDOW }),
    ]);
    if (!older.some((m) => m.id === messageId)) {
      store.toast('That message has been deleted.', 'info');
      store.patchRoom(roomId, { loading: false });
      if (!r.loaded) openRoom(roomId);
      return;
    }
    r.items = [];
    store.patchRoom(roomId, {
      loaded: true, loading: false, hasOlder: older.length === WINDOW, hasNewer: newer.length === WINDOW,
      focusId: messageId, dividerId: null,
    });
    store.addMessages(roomId, [...older, ...newer]);
    if (newer.length < WINDOW) await socket.catchUp(roomId);
  } catch (error) {
    store.patchRoom(roomId, { loading: false });
    store.toast(`Could not open that message: ${error.message}`);
  }
}

/** The reader reached the bottom of a window: the next newer page. */
export async function loadNewer(id) {
  const r = store.room(id);
  if (!r.hasNewer || r.loading || !r.items.length) return;
  store.patchRoom(id, { loading: true });
  try {
    const page = await api.history(id, { after: r.items[r.items.length - 1].id, limit: PAGE });
    store.addMessages(id, page);
    const caughtUp = page.length < PAGE;
    store.patchRoom(id, { loading: false, hasNewer: !caughtUp });
    // Live messages flow again; one more look catches any that came during the last page.
    if (caughtUp) await socket.catchUp(id);
  } catch (error) {
    store.patchRoom(id, { loading: false });
    store.toast(`Could not load newer messages: ${error.message}`);
  }
}

/** Leave a window for the newest messages. */
export function jumpToLatest(id) {
  const r = store.room(id);
  if (!r.hasNewer) return;
  Object.assign(r, { items: [], loaded: false, loading: false, hasOlder: true, hasNewer: false, focusId: null });
  store.stickToBottom();
  openRoom(id);
}

/** Tell the server we have seen everything up to the newest message of the open chat. */
export function markRead(id) {
  const r = state.rooms.get(id);
  const chat = state.chats.get(id);
  if (!r?.items.length || !chat || r.hasNewer) return;
  if (chat.unread_count || chat.unread_mentions) store.patchChat(id, { unread_count: 0, unread_mentions: 0 });
  const newest = r.items[r.items.length - 1].id;
  if (newest <= r.lastRead) return;
  r.lastRead = newest;
  store.setMyRead(id, newest);
  if (socket.connected()) socket.emit('mark_read', { room_id: id, message_id: newest });
  else api.markRead(id, newest).catch(() => { r.lastRead = 0; });
}

// ---- live messages ----

socket.onIncoming((message) => {
  const mine = message.sender?.id === store.me()?.id;
  const open = message.room_id === state.currentId;
  const seen = open && state.visible && store.viewport.atBottom;
  store.noteMessage(message, !mine && !seen);
  if (!mine && open && !seen) {
    const r = store.room(message.room_id);
    if (r.dividerId == null) store.patchRoom(message.room_id, { dividerId: message.id });
  }
  if (!mine) notify(message);
});

socket.onRemoved((chat) => {
  if (!store.endLeaving(chat.id)) store.toast(`You are no longer a member of ${chat.name}.`, 'info');
  if (location.hash === chatHref(chat.id)) go(null);
});

// ---- notifications ----

export async function enableNotifications() {
  if (!('Notification' in window)) return;
  try {
    store.set({ notifications: await Notification.requestPermission() });
  } catch {
    store.set({ notifications: 'denied' });
  }
}

/** Whether the caller's level for `chat` lets `message` notify (SPEC §3: `mentions` takes
 * messages that mention them, and every message of a private chat). */
export function admits(chat, message) {
  const level = chat?.notify ?? 'all';
  if (level === 'none') return false;
  return level === 'all' || Boolean(chat?.is_private) || store.mentionsMe(message);
}

/** Set the caller's level for a chat; the answer (the Room) says what it is now. */
export async function setNotify(roomId, level) {
  const room = await api.setNotify(roomId, level);
  store.patchChat(roomId, { notify: room.notify });
}

/** Learn the caller's level for a chat (a private chat's listing does not carry it). */
export async function loadNotify(roomId) {
  try {
    const room = await api.getRoom(roomId);
    if (state.chats.has(roomId)) store.patchChat(roomId, { notify: room.notify ?? 'all' });
  } catch { /* the dialog shows what is known */ }
}

// ---- Web Push: this device ----

/** Browsers offer push only to secure contexts (https, localhost) with a service worker. */
export const pushOffered = () => Boolean(window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window);

async function registration() {
  return navigator.serviceWorker.ready;
}

/** Whether this device has a push subscription now. */
export async function pushEnabled() {
  if (!pushOffered()) return false;
  return Boolean(await (await registration()).pushManager.getSubscription());
}

const keyBytes = (text) => {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
};

/** Ask for permission, subscribe with the server's key, and give the server the subscription. */
export async function enablePush() {
  const permission = await Notification.requestPermission();
  store.set({ notifications: permission });
  if (permission !== 'granted') throw new Error('Notifications are blocked for this site: allow them in the browser\'s site settings.');
  const { public_key: key } = await api.pushKey();
  const reg = await registration();
  let subscription = await reg.pushManager.getSubscription();
  if (subscription) {
    // Made with another server key (the server's key file was replaced): start over.
    const current = subscription.options?.applicationServerKey;
    if (current && btoa(String.fromCharCode(...new Uint8Array(current))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') !== key) {
      await subscription.unsubscribe();
      subscription = null;
    }
  }
  // A browser that cannot reach its push service (no internet, headless) may never answer.
  const late = new Promise((_, reject) => {
    setTimeout(() => reject(new Error('The browser\'s push service did not answer: is this device offline?')), 10000);
  });
  subscription ??= await Promise.race([
    reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }),
    late,
  ]);
  await api.subscribePush(subscription.toJSON());
}

/** Forget this device's subscription, here and on the server. */
export async function disablePush() {
  if (!pushOffered() || !state.session) return;
  const subscription = await (await registration()).pushManager.getSubscription();
  if (!subscription) return;
  await api.unsubscribePush(subscription.endpoint).catch(() => {});
  await subscription.unsubscribe();
}

export const testPush = () => api.testPush();

/** A notification for a message while the tab is in the background, if the chat's level admits
 * it. A message that mentions you says so and gets its own notification (others of a room
 * replace each other). */
function notify(message) {
  if (state.notifications !== 'granted' || (!document.hidden && document.hasFocus())) return;
  const chat = state.chats.get(message.room_id);
  if (!admits(chat, message)) return;
  const who = (message.sender && store.nameOf(message.sender)) || 'Someone';
  const mention = store.mentionsMe(message);
  const where = !chat || chat.is_private ? '' : ` in ${chat.name}`;
  const title = mention ? `${who} mentioned you${where}` : `${who}${where}`;
  const tag = mention ? `natter-mention-${message.id}` : `natter-room-${message.room_id}`;
  try {
    const n = new Notification(title, { body: preview(message), tag, icon: 'icons/icon-192.png' });
    n.onclick = () => {
      window.focus();
      go(message.room_id);
      n.close();
    };
  } catch { /* e.g. Android Chrome allows notifications only from a service worker */ }
}

// ---- sending: the outbox ----
// Every send gets a client_id and waits in state.outbox (saved in localStorage) until the
// server acknowledges it. One send is in flight at a time, in order. A timeout or a dropped
// connection puts it back in the queue; after the next connect's sync (which settles every
// send whose message did reach the server, by its client_id) the rest go again with the same
// client_id, which the server answers with the stored message instead of a second copy.

/** Queue a message; `replyTo` (a Message) makes it an answer to that one. */
export function send(roomId, content, attachment = null, replyTo = null) {
  const reply_to = replyTo && {
    id: replyTo.id, sender: { id: replyTo.sender.id, username: replyTo.sender.username },
    excerpt: [...(replyTo.content ?? '')].slice(0, 200).join(''), deleted: false,
  };
  store.addPending({
    client_id: randomId(), room_id: roomId, content, attachment, reply_to,
    created_at: new Date().toISOString(), status: 'queued', error: null,
  });
  typing(roomId, false);
  pump();
}

/** Queue a failed send again, with `change` (if any) made to it first. */
export function retry(clientId, change = {}) {
  store.patchPending(clientId, { ...change, status: 'queued', error: null, reply_gone: false });
  pump();
}

/** Send a refused reply as a plain message: its original was deleted. */
export const sendWithoutQuote = (clientId) => retry(clientId, { reply_to: null });

export const discard = (clientId) => store.removePending(clientId);

// The pump's own lock and retry timer, not state: they keep one send in flight at a time, and
// no view or other use case reads them (each entry's status in state.outbox is the state).
let pumping = false;
let pumpTimer = 0;

async function pump() {
  if (pumping) return;
  pumping = true;
  clearTimeout(pumpTimer);
  try {
    while (socket.connected()) {
      const entry = state.outbox.find((e) => e.status === 'queued' || e.status === 'sending');
      if (!entry || !(await deliver(entry))) break;
    }
  } finally {
    pumping = false;
  }
}

const later = (ms) => {
  clearTimeout(pumpTimer);
  pumpTimer = setTimeout(pump, ms);
};

/** Send one entry; true to go on with the next. */
async function deliver(entry) {
  store.patchPending(entry.client_id, { status: 'sending', error: null });
  const payload = { room_id: entry.room_id, content: entry.content, client_id: entry.client_id };
  if (entry.attachment) payload.attachment_id = entry.attachment.id;
  if (entry.reply_to) payload.reply_to = entry.reply_to.id;
  let ack;
  try {
    ack = await socket.request('chat_message', payload, 10000);
  } catch {
    if (state.outbox.some((e) => e.client_id === entry.client_id)) store.patchPending(entry.client_id, { status: 'queued' });
    if (socket.connected()) later(2000);
    return false;
  }
  if (ack?.ok) {
    const message = ack.message;
    store.removePending(entry.client_id);
    const r = state.rooms.get(message.room_id);
    if (r?.loaded && !r.hasNewer) store.addMessages(message.room_id, [message]);
    store.noteMessage(message, false);
    return true;
  }
  const code = ack?.error?.code;
  if (code === 'unauthorized') {
    expire();
    return false;
  }
  if (code === 'rate_limited') {
    store.patchPending(entry.client_id, { status: 'queued' });
    later(1500);
    return false;
  }
  // The UI only answers messages of the same room, so a refused reply_to means the original is
  // gone: sending it again as it is cannot work, so the view offers to send it without the quote.
  const replyGone = Boolean(ack?.error?.fields?.reply_to);
  const error = replyGone ? 'the message it answers was deleted.' : ack?.error?.detail;
  store.patchPending(entry.client_id, { status: 'failed', error: error || 'The message could not be sent.', reply_gone: replyGone });
  return true;
}

socket.onSynced(pump);
// A chat whose history could not be loaded (the server was down) loads once the connection is
// back, instead of showing the old error.
socket.onSynced(() => {
  for (const [id, r] of state.rooms) if (r.error && !r.loaded && state.chats.has(id)) retryRoom(id);
});

// ---- the composer: attached files, and sending what it holds ----
// Each attached file uploads at once (with progress) and waits in state.uploads until it is
// sent, removed, or the composer closes (its chat is left, or we sign out): then an upload
// still on its way is aborted and an image's preview (an object URL) released.

/** Attach `files` to the composer of `roomId`; images get a preview. */
export function attach(roomId, files) {
  for (const file of files) {
    const key = randomId();
    const preview = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
    const upload = api.upload(file, (progress) => store.patchUpload(roomId, key, { progress }));
    store.addUpload(roomId, {
      key, name: file.name || 'file', size: file.size, progress: 0, preview, attachment: null, error: null,
      abort: upload.abort,
    });
    upload.promise.then(
      (attachment) => store.patchUpload(roomId, key, { attachment, progress: 1 }),
      (error) => { if (error.code !== 'aborted') store.patchUpload(roomId, key, { error: error.message }); },
    );
  }
}

/** Forget the uploads of `roomId` that `which` picks: abort those on their way, release previews. */
function forgetUploads(roomId, which) {
  const gone = store.uploadsIn(roomId).filter(which);
  if (!gone.length) return;
  for (const upload of gone) {
    if (!store.uploadSettled(upload)) upload.abort();
    if (upload.preview) URL.revokeObjectURL(upload.preview);
  }
  store.removeUploads(roomId, gone.map((u) => u.key));
}

/** "Remove" on one attached file. */
export const removeUpload = (roomId, key) => forgetUploads(roomId, (u) => u.key === key);

/** The composer of `roomId` closes: its attached files go. */
export const discardUploads = (roomId) => forgetUploads(roomId, () => true);

/** Send what the composer of `roomId` holds: `content`, and each uploaded file as a message of
 * its own (the text goes with the first), answering the message it replies to. Failed files
 * stay attached (the composer sends nothing while a file is on its way). */
export function sendComposed(roomId, content) {
  const replyTo = state.replyTo.get(roomId) ?? null;
  const ready = store.uploadsIn(roomId).filter((u) => u.attachment);
  store.stickToBottom();
  // Sent from a window of older history: the newest messages come back first.
  jumpToLatest(roomId);
  if (ready.length) ready.forEach((u, i) => send(roomId, i === 0 ? content : '', u.attachment, i === 0 ? replyTo : null));
  else send(roomId, content, null, replyTo);
  if (replyTo) store.setReplyTo(roomId, null);
  forgetUploads(roomId, (u) => u.attachment);
  store.saveDraft(roomId, '');
}

// ---- edit and delete ----

export async function edit(message, content) {
  try {
    store.updateMessage(await api.editMessage(message.id, content));
    store.set({ editing: null });
    return true;
  } catch (error) {
    store.toast(`Could not save the edit: ${error.message}`);
    return false;
  }
}

export async function remove(message) {
  try {
    await api.deleteMessage(message.id);
    store.deleteMessage(message.id, message.room_id);
  } catch (error) {
    if (error.status === 404) store.deleteMessage(message.id, message.room_id);
    else store.toast(`Could not delete the message: ${error.message}`);
  }
}

// ---- reactions ----

/** Add the caller's `emoji` to a message, or take it off when it is there already. */
export async function react(message, emoji) {
  const mine = store.me()?.id;
  const on = !message.reactions?.some((r) => r.emoji === emoji && r.user_ids.includes(mine));
  try {
    store.updateMessage(await api.react(message.id, emoji, on));
  } catch (error) {
    if (error.status === 404) store.deleteMessage(message.id, message.room_id);
    else store.toast(`Could not ${on ? 'add' : 'remove'} the reaction: ${error.message}`);
  }
}

/** ↑ in an empty composer: edit your newest message in the open chat. */
export function editLast(roomId) {
  const mine = store.me()?.id;
  const items = state.rooms.get(roomId)?.items ?? [];
  for (let i = items.length - 1; i >= 0; i--) {
    if (items[i].sender?.id === mine) {
      store.set({ editing: items[i].id });
      return true;
    }
  }
  return false;
}

// ---- rooms, private chats, members (errors go to the dialog that asked) ----

export async function createRoom(name, members, extra) {
  const chat = store.upsertChat(await api.createRoom(name, members, extra));
  go(chat.id);
}

/** Join an open room from the directory, and open it. */
export async function joinRoom(id) {
  const chat = store.upsertChat(await api.joinRoom(id));
  go(chat.id);
}

/** Rename a room, set its topic, open or close it (owners and administrators). */
export async function updateRoom(id, change) {
  store.upsertChat(await api.updateRoom(id, change));
}

export async function startPrivateChat(username) {
  const chat = store.upsertChat(await api.openPrivateChat(username));
  go(chat.id);
}

export async function addMember(roomId, username) {
  store.upsertChat(await api.addMember(roomId, username));
}

export async function removeMember(roomId, userId) {
  await api.removeMember(roomId, userId);
  await refreshRoom(roomId);
}

export async function leave(roomId) {
  store.startLeaving(roomId);
  try {
    await api.removeMember(roomId, store.me().id);
  } catch (error) {
    store.endLeaving(roomId);
    throw error;
  }
  store.removeChat(roomId);
  go(null);
}

// ---- typing ----

// A timer handle, not state (store.typingSent is): it ends the typing after a pause.
let typingPause = 0;

/** Called on every keystroke (active) and on send or leaving (inactive); sends at most one
 * `typing: true` every 3 s and a `typing: false` after 4 s without keystrokes. */
export function typing(roomId, active) {
  const sent = store.typingSent;
  if (active) {
    if (sent.room !== roomId || Date.now() - sent.at > 3000) {
      if (sent.room && sent.room !== roomId) typing(sent.room, false);
      socket.emit('typing', { room_id: roomId, typing: true });
      store.noteTypingSent(roomId);
    }
    clearTimeout(typingPause);
    typingPause = setTimeout(() => typing(roomId, false), 4000);
  } else if (sent.room === roomId) {
    clearTimeout(typingPause);
    socket.emit('typing', { room_id: roomId, typing: false });
    store.noteTypingSent(null);
  }
}

// ---- profile ----

/** Change my display name and/or picture; everyone who shares a room with me sees it live
 * (user_updated), and so does this tab at once. */
export async function updateProfile(change) {
  const user = await api.updateProfile(change);
  store.applyUserUpdate(user);
  return user;
}

/** Upload `file` (a picture for my profile, a voice message): the Attachment. */
export const uploadFile = (file) => api.upload(file, () => {}).promise;
