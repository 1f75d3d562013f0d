// The Socket.IO connection: its state (for the status line), the live events into the store,
// and after every connect — the first one and each reconnect — a sync: refresh the chat list,
// catch up every loaded room with `after=<last id>` paging until [], reconcile recent edits and
// deletions, then let the outbox resend what is still unacknowledged (same client_id, so the
// server stores each message once).

import { io } from '../vendor/socket.io.esm.min.js';
import * as api from './api.js';
import * as store from './store.js';

const { state } = store;
// Handles, not state (state.conn is what views see): the live connection, the number of the
// current sync (an older sync still running stops when it sees a newer one), and the use
// cases' callbacks, registered once as actions.js loads.
let socket = null;
let syncRun = 0;
const hooks = { synced: new Set(), incoming: new Set(), removed: new Set() };

/** After each sync (the outbox flushes then). */
export const onSynced = (fn) => hooks.synced.add(fn);
/** Each new message, after the store has it: fn(message). */
export const onIncoming = (fn) => hooks.incoming.add(fn);
/** A room the user was removed from: fn(chat). */
export const onRemoved = (fn) => hooks.removed.add(fn);

export const connected = () => Boolean(socket?.connected);

export function start(token) {
  stop();
  store.set({ conn: navigator.onLine === false ? 'offline' : 'connecting' });
  const path = new URL('socket.io/', document.baseURI).pathname;
  const s = io({ path, auth: { token }, reconnectionDelay: 500, reconnectionDelayMax: 5000 });
  socket = s;
  const lost = () => store.set({ conn: navigator.onLine === false ? 'offline' : 'reconnecting' });

  s.on('connect', () => {
    store.set({ conn: 'online' });
    sync();
  });
  s.on('disconnect', (reason) => {
    lost();
    // The server closed this socket on purpose (token expired, account disabled, password
    // changed) and the client will not retry by itself: ask the API whether the session still
    // holds (a 401 there signs out) and reconnect if it does.
    if (reason === 'io server disconnect') api.me().then(() => s === socket && s.connect(), () => {});
  });
  s.on('connect_error', (err) => {
    if (err?.message === 'unauthorized') {
      api.me().then(() => setTimeout(() => s === socket && s.connect(), 2000), () => {});
      return;
    }
    lost();
  });

  s.on('chat_response', (message) => {
    if (!state.chats.has(message.room_id)) refreshChats().catch(() => {});
    const r = state.rooms.get(message.room_id);
    // Rooms whose newest page is loaded, or on its way, take live messages (the page and the
    // live ones meet without a gap); a lone message in an unloaded room, or after a window of
    // older history (a jump), would hide the gap before it, so those only settle our own
    // pending sends.
    if ((r?.loaded || r?.loading) && !r.hasNewer) store.addMessages(message.room_id, [message]);
    else if (message.client_id && message.sender?.id === store.me()?.id) store.removePending(message.client_id);
    store.setTyping(message.room_id, message.sender?.id, message.sender?.username, false);
    for (const fn of hooks.incoming) fn(message);
  });
  s.on('message_updated', (message) => store.updateMessage(message));
  s.on('message_deleted', ({ id, room_id }) => store.deleteMessage(id, room_id));
  s.on('read', ({ room_id, user_id, message_id }) => store.setMemberRead(room_id, user_id, message_id));
  s.on('user_status', ({ user_id, online, last_seen }) => store.setPresence(user_id, online, last_seen));
  s.on('user_updated', ({ user }) => store.applyUserUpdate(user));
  s.on('typing', ({ room_id, user_id, username, typing }) => {
    if (user_id !== store.me()?.id) store.setTyping(room_id, user_id, username, typing !== false);
  });
  s.on('room_added', (roomObj) => store.upsertChat(roomObj));
  s.on('room_updated', (roomObj) => store.upsertChat(roomObj));
  s.on('room_removed', ({ room_id }) => {
    const chat = state.chats.get(room_id);
    store.removeChat(room_id);
    if (chat) for (const fn of hooks.removed) fn(chat);
  });
}

export function stop() {
  syncRun++;
  if (!socket) return;
  const s = socket;
  socket = null;
  s.off();
  s.disconnect();
}

/** Emit and wait for the ack (rejects on timeout or when not connected). */
export function request(event, payload, timeout = 10000) {
  if (!socket?.connected) return Promise.reject(new Error('not connected'));
  return socket.timeout(timeout).emitWithAck(event, payload);
}

/** Fire and forget (typing, read markers): dropped when not connected. */
export function emit(event, payload) {
  if (socket?.connected) socket.emit(event, payload);
}

/** Reconnect now instead of waiting for the back-off (the browser says it is online again). */
export function nudge() {
  if (socket && !socket.connected && !socket.io._reconnecting) socket.connect();
}

export async function refreshChats() {
  const [rooms, privateChats] = await Promise.all([api.listRooms(), api.listPrivateChats()]);
  store.setChats(rooms, privateChats);
}

async function sync() {
  const run = ++syncRun;
  try {
    await refreshChats();
    for (const [id, r] of [...state.rooms]) {
      if (run !== syncRun) return;
      // A window of older history (a jump) catches up as the reader scrolls down.
      if (r.loaded && !r.hasNewer) await catchUp(id);
    }
    if (run !== syncRun) return;
    for (const fn of hooks.synced) fn();
  } catch (error) {
    if (error?.status === 401) return; // signed out by the API's handler
    // A failed request while still connected: try again shortly (a reconnect syncs anyway).
    setTimeout(() => run === syncRun && connected() && sync(), 3000);
  }
}

/** Fetch what a loaded room missed: `after=<last id>` until [], then the newest page again to
 * pick up edits and deletions made while we were away. */
export async function catchUp(roomId) {
  const r = store.room(roomId);
  let after = r.items.length ? r.items[r.items.length - 1].id : null;
  if (after != null) {
    for (;;) {
      const page = await api.history(roomId, { after, limit: 200 });
      if (!page.length) break;
      store.addMessages(roomId, page);
      after = page[page.length - 1].id;
    }
  }
  const limit = 50;
  const knownBefore = r.items.length ? r.items[r.items.length - 1].id : 0;
  const newest = await api.history(roomId, { limit });
  reconcile(roomId, newest, newest.length < limit, knownBefore);
}

/** Make the loaded messages that `page` (the room's newest, asked for when the newest we had was
 * `knownBefore`) covers match it: edits replace, absences are deletions, also of messages we had
 * that are newer than the page's last (the newest message was deleted while we were away). Only
 * messages newer than `knownBefore` (live ones that raced the request) are left alone. */
function reconcile(roomId, page, wholeRoom, knownBefore) {
  const r = store.room(roomId);
  if (!page.length && !wholeRoom) return;
  const from = wholeRoom || !page.length ? 0 : page[0].id;
  const to = Math.max(knownBefore, page.length ? page[page.length - 1].id : 0);
  const fresh = new Map(page.map((m) => [m.id, m]));
  for (const m of r.items) {
    if (m.id < from || m.id > to) continue;
    const now = fresh.get(m.id);
    if (!now) store.deleteMessage(m.id, roomId);
    else if (now.edited_at !== m.edited_at || now.content !== m.content) store.updateMessage(now);
  }
  store.addMessages(roomId, page);
}
