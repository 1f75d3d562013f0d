// The REST client: one fetch wrapper that adds the token and turns the SPEC's error body
// {"detail","code","fields"?} into an ApiError. Paths are relative to the page, so natter also
// works behind a reverse proxy under a sub-path.

import { state } from './store.js';

const base = new URL('./', document.baseURI);
/** The signed-in session's token, sent with every request. */
const token = () => state.session?.token ?? null;
// A callback, not state: how a 401 reaches the use cases (actions.js) without this module
// importing them.
let onUnauthorized = () => {};

/** An API failure: `status` (0 = the server could not be reached), `code`, `fields`. */
export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && typeof body.detail === 'string' ? body.detail : null;
    super(detail || (status ? `The server answered ${status}.` : 'Cannot reach the server. Check your connection.'));
    this.name = 'ApiError';
    this.status = status;
    this.code = (body && body.code) || (status ? 'http_' + status : 'network');
    this.fields = (body && body.fields) || {};
  }
}

/** Called with the error when a request that carried a token gets 401 (expired, revoked). */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }
export const url = (path) => new URL(path, base).href;

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  const sentToken = token();
  if (sentToken) headers.Authorization = `Bearer ${sentToken}`;
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path), init);
  } catch {
    throw new ApiError(0, null);
  }
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && sentToken && sentToken === token()) onUnauthorized(error);
    throw error;
  }
  return data;
}

const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null) s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : '';
};

// The server: healthy, first run (no account yet), who may sign up.
export const health = () => request('GET', 'healthz');

// Authentication
export const login = (email, password) => request('POST', 'auth/login', { email, password });
export const signup = (fields) => request('POST', 'auth/signup', fields);
export const me = () => request('GET', 'auth/users/me');
/** Change the caller's `display_name` and/or `avatar_attachment_id` (null clears either). */
export const updateProfile = (change) => request('PATCH', 'auth/users/me', change);
export const searchUsers = (prefix) => request('GET', `auth/users/${q({ q: prefix })}`);

// Chats
export const listRooms = () => request('GET', 'chat/chat_rooms/');
export const listPrivateChats = () => request('GET', 'chat/private_chats/');
export const getRoom = (id) => request('GET', `chat/chat_rooms/${id}`);
export const createRoom = (name, members, extra = {}) => request('POST', 'chat/chat_rooms/', { name, members, ...extra });
/** Change a group room's `name`, `topic` (null clears it) or `visibility` (owners, admins). */
export const updateRoom = (id, change) => request('PATCH', `chat/chat_rooms/${id}`, change);
/** Every open room on the server (`q`: part of its name), most recent activity first. */
export const directory = (text) => request('GET', `chat/directory${q({ q: text || undefined })}`);
export const setNotify = (roomId, level) => request('PUT', `chat/chat_rooms/${roomId}/notifications`, { level });
export const pushKey = () => request('GET', 'push/key');
export const subscribePush = (subscription) => request('POST', 'push/subscriptions', subscription);
export const unsubscribePush = (endpoint) => request('DELETE', 'push/subscriptions', { endpoint });
export const testPush = () => request('POST', 'push/test');
export const joinRoom = (id) => request('POST', `chat/chat_rooms/${id}/join`);
export const openPrivateChat = (username) => request('POST', 'chat/private_chats/', { username });
export const addMember = (roomId, username) => request('POST', `chat/chat_rooms/${roomId}/members`, { username });
export const removeMember = (roomId, userId) => request('DELETE', `chat/chat_rooms/${roomId}/members/${userId}`);

// Messages
/** One page, oldest first: no cursor = the newest; `before` pages back; `after` catches up. */
export const history = (roomId, { before, after, limit = 50 } = {}) =>
  request('GET', `chat/chat_rooms/${roomId}/messages${q({ limit, before, after })}`);
export const postMessage = (roomId, body) => request('POST', `chat/chat_rooms/${roomId}/messages`, body);
export const editMessage = (id, content) => request('PATCH', `chat/messages/${id}`, { content });
export const deleteMessage = (id) => request('DELETE', `chat/messages/${id}`);
export const markRead = (roomId, messageId) => request('POST', `chat/chat_rooms/${roomId}/read`, { message_id: messageId });
/** Put the caller's reaction on a message (`on`) or take it off; the Message back. */
export const react = (id, emoji, on) =>
  request(on ? 'PUT' : 'DELETE', `chat/messages/${id}/reactions/${encodeURIComponent(emoji)}`);
/** Messages of the caller's rooms (or of `room_id`) matching `q`, newest first. */
export const search = ({ text, room_id, before, limit = 20 }) =>
  request('GET', `chat/search${q({ q: text, room_id, before, limit })}`);

/**
 * Upload one file (multipart field `file`) with progress, via XMLHttpRequest because fetch
 * cannot report upload progress. Returns {promise (→ Attachment), abort()}.
 */
export function upload(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const sentToken = token();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', url('chat/upload_media/'));
    xhr.setRequestHeader('Accept', 'application/json');
    if (sentToken) xhr.setRequestHeader('Authorization', `Bearer ${sentToken}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve(xhr.response);
      const error = new ApiError(xhr.status, xhr.response);
      if (xhr.status === 401 && sentToken && sentToken === token()) onUnauthorized(error);
      reject(error);
    };
    xhr.onerror = () => reject(new ApiError(0, null));
    xhr.onabort = () => reject(Object.assign(new ApiError(0, null), { code: 'aborted' }));
    const form = new FormData();
    form.append('file', file, file.name || 'file');
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

// Administration (administrators only; anyone else gets 403)
export const adminUsers = () => request('GET', 'admin/users');
export const setUserDisabled = (id, disabled) => request('PATCH', `admin/users/${id}`, { disabled });
export const adminInvites = () => request('GET', 'admin/invites');
/** A new invite for `uses` signups, valid for `expiresIn` (`7d`, or seconds); its `url` is the link. */
export const createInvite = (uses, expiresIn) => request('POST', 'admin/invites', { uses, expires_in: expiresIn });
export const adminBots = () => request('GET', 'admin/bots');
export const createBot = (name, webhookUrl) => request('POST', 'admin/bots', { name, webhook_url: webhookUrl || null });
export const rotateBotToken = (id) => request('POST', `admin/bots/${id}/token`);
export const deleteBot = (id) => request('DELETE', `admin/bots/${id}`);
export const revokeInvite = (code) => request('DELETE', `admin/invites/${encodeURIComponent(code)}`);
