// The message log: role "log" named "Messages", oldest at the top, grouped by sender within
// five minutes, with day separators and the "New messages" line. It keeps the reader's place:
// the first view opens at the first unread message (else the bottom), older pages load as you
// near the top without moving what you see, and new messages scroll into view only if you were
// already at the bottom (otherwise "Jump to latest" counts them). After a jump to an older
// message (a search result, a quote) it shows a window of history around that message, loads
// newer pages as you scroll down, and "Jump to latest" goes back to the newest messages.
// "Seen by …" under the last message follows the other members' read markers; "… joined" lines
// say who arrived. The log is one Tab stop: Tab reaches the current message, ↑/↓ (Home/End,
// Page Up/Down) move between messages, Enter or → goes into the focused message's controls
// (its actions, links, reactions), ←/→ between them, and Esc back to the message.
import { html, cls, memo, useEffect, useLayoutEffect, useRef, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { dayKey, dayLabel, fullTime, formatText, isJumboEmoji, time, fileSize } from '../format.js';
import { url } from '../api.js';
import { Avatar } from './avatar.js';
import { useSubmit } from './forms.js';
import { Icon } from './icons.js';

const GROUP_MS = 5 * 60 * 1000;
const NEAR_BOTTOM = 48;
const NEAR_TOP = 400;

/** Put the caret in the composer's message box (an edit ended, a reply was chosen, a file was
 * dropped on the chat). */
export const focusComposer = () => document.getElementById('composer-input')?.focus();

/**
 * Where other features plug into a message (replies, reactions, …): components given
 * { message, mine } and rendered above the text, below it, or as extra toolbar buttons.
 */
export const messageParts = { above: [], below: [], actions: [] };
const parts = (list, message, mine) => list.map((Part) => html`<${Part} message=${message} mine=${mine} />`);

/** A thumbnail's size: the picture's, its longer side at most 640 px (as the server makes it). */
export function thumbnailSize(width, height) {
  const longer = Math.max(width, height);
  if (longer <= 640) return [width, height];
  return [Math.max(1, Math.round(width * 640 / longer)), Math.max(1, Math.round(height * 640 / longer))];
}

/** Voice messages are recorded as WebM or Ogg audio; a WebM "video" of that name is one. */
const isVoice = (a) => /^voice-message/.test(a.filename || '') && /^(audio|video)\/(webm|ogg)/.test(a.content_type || '');

function VoiceMessage({ src, attachment: a }) {
  const [duration, setDuration] = useState(null);
  // MediaRecorder's WebM has no duration in its header: seeking far past the end makes the
  // browser find it.
  const loaded = (e) => {
    const audio = e.currentTarget;
    if (Number.isFinite(audio.duration)) return setDuration(audio.duration);
    audio.currentTime = 1e7;
    audio.addEventListener('durationchange', () => {
      if (Number.isFinite(audio.duration)) { setDuration(audio.duration); audio.currentTime = 0; }
    }, { once: true });
  };
  const label = duration == null ? 'Voice message' : `Voice message, ${clock(duration)}`;
  return html`<div class="attachment-voice">
    <audio class="attachment-audio" controls preload="metadata" src=${src} aria-label=${label} onLoadedMetadata=${loaded}></audio>
    ${duration == null ? null : html`<span class="voice-duration" aria-hidden="true">${clock(duration)}</span>`}
  </div>`;
}

/** Seconds as m:ss. */
export const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`;

function Attachment({ attachment: a }) {
  const type = a.content_type || '';
  const src = url(String(a.url || a.file_url).replace(/^\//, ''));
  if (type.startsWith('image/')) {
    // Drawn at the thumbnail's size from the start (no jump as it loads); the original opens on
    // click. A thumbnail not made yet (just uploaded) falls back to the original.
    const size = a.width && a.height ? thumbnailSize(a.width, a.height) : null;
    const thumb = a.thumbnail_url ? url(String(a.thumbnail_url).replace(/^\//, '')) : src;
    const fallback = (e) => { if (e.currentTarget.src !== src) e.currentTarget.src = src; };
    return html`<button type="button" class="attachment-image" aria-label=${`View image ${a.filename} larger`}
      onClick=${() => store.openDialog('image', { src, filename: a.filename })}>
      <img src=${thumb} alt=${a.filename} loading="lazy" decoding="async" width=${size?.[0]} height=${size?.[1]}
        data-original=${src} onError=${fallback} />
    </button>`;
  }
  if (isVoice(a)) return html`<${VoiceMessage} src=${src} attachment=${a} />`;
  if (type.startsWith('video/')) {
    return html`<video class="attachment-media" controls preload="metadata" src=${src} aria-label=${a.filename}></video>`;
  }
  if (type.startsWith('audio/')) {
    return html`<audio class="attachment-audio" controls preload="metadata" src=${src} aria-label=${a.filename}></audio>`;
  }
  return html`<a class="attachment-file" href=${src} download=${a.filename} target="_blank" rel="noopener noreferrer">
    <span class="file-icon"><${Icon} name="file" /></span>
    <span class="file-text"><span class="file-name">${a.filename}</span><span class="file-size">${fileSize(a.size)}</span></span>
    <${Icon} name="download" class="file-download" />
  </a>`;
}

function EditBox({ message }) {
  const [text, setText] = useState(message.content);
  const { busy, run } = useSubmit();
  const ref = useRef(null);
  useEffect(() => {
    const el = ref.current;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  const cancel = () => {
    store.set({ editing: null });
    focusComposer();
  };
  const save = () => {
    if (busy) return;
    if (text === message.content) return cancel();
    if (!text.trim() && !message.attachment) return;
    // A failed edit says so in a toast, and the box stays open.
    run(async () => { if (await actions.edit(message, text)) focusComposer(); });
  };
  const onKeyDown = (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      save();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      cancel();
    }
  };
  return html`<div class="edit-box">
    <textarea ref=${ref} class="edit-input" aria-label="Edit message" rows="1" dir="auto" value=${text}
      onInput=${(e) => setText(e.currentTarget.value)} onKeyDown=${onKeyDown}></textarea>
    <div class="edit-actions">
      <span class="hint">Enter to save · Esc to cancel</span>
      <button type="button" class="btn small" onClick=${cancel}>Cancel</button>
      <button type="button" class="btn small primary" onClick=${save} disabled=${busy}>Save</button>
    </div>
  </div>`;
}

function PendingStatus({ entry }) {
  if (entry.status === 'failed') {
    return html`<div class="msg-status failed">
      <span>Not sent${entry.error ? `: ${entry.error}` : '.'}</span>
      ${entry.reply_gone
        ? html`<button type="button" class="btn small" onClick=${() => actions.sendWithoutQuote(entry.client_id)}>Send without the quote</button>`
        : html`<button type="button" class="btn small" onClick=${() => actions.retry(entry.client_id)}><${Icon} name="retry" /> Retry</button>`}
      <button type="button" class="btn small ghost" onClick=${() => actions.discard(entry.client_id)}>Discard</button>
    </div>`;
  }
  return html`<div class=${cls('msg-status', entry.status)}>
    ${entry.status === 'queued' ? 'Waiting for the connection…' : 'Sending…'}
  </div>`;
}

/** The usernames a message mentions (as the reader knows them: the chat's members). */
function mentionNames(m) {
  if (!m.mentions?.length) return [];
  const chat = store.state.chats.get(m.room_id);
  return m.mentions.map((id) => store.memberName(chat, id)).filter(Boolean);
}

function MessageView({ message: m, grouped, mine, canDelete, editing, pending, focused }) {
  const confirmDelete = () => store.openDialog('confirm', {
    title: 'Delete this message?',
    body: 'It will be removed for everyone in the chat. This cannot be undone.',
    confirm: 'Delete',
    run: () => actions.remove(m),
  });
  const content = m.content ?? '';
  const mentionsMe = !mine && store.mentionsMe(m);
  return html`<article class=${cls('msg', grouped && 'grouped', mine && 'mine', pending && `msg-${pending.status}`,
      mentionsMe && 'mentions-me', focused && 'msg-focused')} tabindex="-1"
    data-id=${m.id ?? undefined} data-key=${m.client_id ? `c${m.sender.id}:${m.client_id}` : `m${m.id}`}>
    <div class="msg-gutter">
      ${grouped
        ? html`<time class="msg-hover-time" datetime=${m.created_at} aria-hidden="true">${time(m.created_at)}</time>`
        : html`<${Avatar} user=${m.sender} />`}
    </div>
    <div class="msg-main">
      <div class=${cls('msg-meta', grouped && 'visually-hidden')}>
        <span class="msg-sender" dir="auto">${store.nameOf(m.sender)}</span>${store.hasOwnName(m.sender)
          ? html`<span class="msg-username">@${m.sender.username}</span>` : null}
        ${m.sender.is_bot ? html`<span class="bot-badge" title="A bot: posted by a script or a device">BOT</span>` : null}
        <time datetime=${m.created_at} title=${fullTime(m.created_at)}>${time(m.created_at)}</time>
        ${mentionsMe ? html`<span class="visually-hidden">, mentions you</span>` : null}
      </div>
      ${pending ? null : parts(messageParts.above, m, mine)}
      ${editing
        ? html`<${EditBox} message=${m} />`
        : html`${content ? html`<div class=${cls('msg-text', isJumboEmoji(content) && 'jumbo')} dir="auto">${formatText(content, mentionNames(m), store.me()?.username)}${m.edited_at
              ? html` <span class="edited" title=${`Edited ${fullTime(m.edited_at)}`}>(edited)</span>` : null}</div>` : null}
            ${m.attachment ? html`<${Attachment} attachment=${m.attachment} />` : null}
            ${!content && m.edited_at ? html`<span class="edited">(edited)</span>` : null}`}
      ${pending ? html`<${PendingStatus} entry=${pending} />` : parts(messageParts.below, m, mine)}
    </div>
    ${!pending && !editing && (mine || canDelete || messageParts.actions.length) ? html`<div class="msg-actions">
      ${parts(messageParts.actions, m, mine)}
      ${mine ? html`<button type="button" class="icon-btn small" aria-label="Edit message" title="Edit"
        onClick=${() => store.set({ editing: m.id })}><${Icon} name="edit" /></button>` : null}
      ${mine || canDelete ? html`<button type="button" class="icon-btn small" aria-label="Delete message" title="Delete"
        onClick=${confirmDelete}><${Icon} name="trash" /></button>` : null}
    </div>` : null}
  </article>`;
}

const Message = memo(MessageView);

/** A pending send shown as a message of ours. */
const asMessage = (entry, user) => ({
  id: null, room_id: entry.room_id, sender: { id: user.id, username: user.username }, content: entry.content,
  attachment: entry.attachment, client_id: entry.client_id, created_at: entry.created_at, edited_at: null,
  reply_to: entry.reply_to ?? null, reactions: [], mentions: [],
});

/** "Seen by bob and carol" under the newest message: the other members (neither the reader nor
 * its sender) whose read marker has reached it. Not announced: the log is a live region, and a
 * receipt is no news to read out. */
function SeenBy({ chat, message }) {
  const mine = store.me()?.id;
  const seen = (chat.members ?? [])
    .filter((m) => m.id !== mine && m.id !== message.sender.id && m.last_read_id >= message.id)
    .map((m) => m.username);
  if (!seen.length) return null;
  const others = (chat.members ?? []).filter((m) => m.id !== mine && m.id !== message.sender.id).length;
  const names = (list) => list.map((n, i) => html`${i ? ', ' : ''}<bdi>${n}</bdi>`);
  let text;
  if (chat.is_private) text = 'Seen';
  else if (seen.length === others && others > 3) text = 'Seen by everyone';
  else if (seen.length > 3) text = html`Seen by ${names(seen.slice(0, 3))} and ${seen.length - 3} more`;
  else if (seen.length > 1) text = html`Seen by ${names(seen.slice(0, -1))} and <bdi>${seen[seen.length - 1]}</bdi>`;
  else text = html`Seen by <bdi>${seen[0]}</bdi>`;
  return html`<p class="seen-by" aria-live="off" title=${seen.join(', ')}>${text}</p>`;
}

/** "bob joined": someone arrived in a group room (see store.arrivalsIn). */
function Joined({ arrival }) {
  return html`<p class="joined"><bdi>${arrival.username}</bdi> joined · <time datetime=${arrival.at}>${time(arrival.at)}</time></p>`;
}

function rows(chat, r, pendingEntries) {
  const user = store.me();
  const owner = chat.owner_id != null && chat.owner_id === user.id && !chat.is_private;
  const pendingById = new Map(pendingEntries.map((e) => [e.client_id, e]));
  const all = [...r.items, ...pendingEntries.map((e) => asMessage(e, user))];
  // Arrivals from the time the loaded history starts (older ones would sit at its top).
  const since = r.hasOlder && r.items.length ? r.items[0].created_at : '';
  const arrivals = chat.is_private ? [] : store.arrivalsIn(chat.id).filter((a) => a.at >= since);
  let nextArrival = 0;
  const last = r.items[r.items.length - 1];
  const out = [];
  let prev = null;
  let dayShown = null;
  const dayHeader = (iso) => {
    const day = dayKey(iso);
    if (day === dayShown) return false;
    out.push(html`<h2 class="day" key=${`day-${day}`}><span>${dayLabel(iso)}</span></h2>`);
    dayShown = day;
    return true;
  };
  const arrivalsBefore = (at) => {
    while (nextArrival < arrivals.length && (at == null || arrivals[nextArrival].at < at)) {
      const a = arrivals[nextArrival++];
      dayHeader(a.at);
      out.push(html`<${Joined} key=${`joined-${a.id}-${a.at}`} arrival=${a} />`);
      prev = null;
    }
  };
  for (const m of all) {
    arrivalsBefore(m.id == null ? null : m.created_at);
    const newDay = dayHeader(m.created_at);
    const divider = m.id != null && m.id === r.dividerId;
    if (divider) out.push(html`<div class="divider" key="divider" role="separator" aria-label="New messages"><span aria-hidden="true">New messages</span></div>`);
    const grouped = prev && !newDay && !divider && prev.sender.id === m.sender.id
      && Date.parse(m.created_at) - Date.parse(prev.created_at) < GROUP_MS;
    const mine = m.sender.id === user.id;
    const key = m.client_id ? `c${m.sender.id}:${m.client_id}` : `m${m.id}`;
    out.push(html`<${Message} key=${key} message=${m} profile=${store.state.profiles.get(m.sender.id)} grouped=${grouped} mine=${mine} canDelete=${mine || owner}
      editing=${m.id != null && store.state.editing === m.id} pending=${m.id == null ? pendingById.get(m.client_id) : undefined}
      focused=${m.id != null && m.id === r.highlightId} />`);
    // "Seen by" belongs to the newest delivered message, above anything still being sent.
    if (m === last && !r.hasNewer) out.push(html`<${SeenBy} key="seen-by" chat=${chat} message=${last} />`);
    prev = m;
  }
  arrivalsBefore(null);
  return out;
}

/** The top of a chat's history. In an empty group room, written for whoever just arrived:
 * who is here, what the room is for, and that a first message is welcome. */
function Beginning({ chat, empty }) {
  const others = (chat.members ?? []).filter((m) => m.id !== store.me()?.id).length;
  let text;
  if (chat.is_private) text = html`This is the beginning of your private conversation with <bdi>${chat.name}</bdi>.`;
  else if (!empty) text = html`This is the very beginning of <bdi>#${chat.name}</bdi>.`;
  else if (others) text = html`You are here with ${others} other ${others === 1 ? 'person' : 'people'}. Nobody has written yet: say hello!`;
  else text = 'Nobody else is here yet. Invite people, or write the first message for those who will come.';
  return html`<div class="log-start">
    <${Avatar} name=${chat.name} size="lg" room=${!chat.is_private} />
    <h2 class="log-start-title" dir="auto">${chat.is_private ? chat.name : `Welcome to #${chat.name}`}</h2>
    ${chat.topic && !chat.is_private ? html`<p class="log-start-topic" dir="auto">${chat.topic}</p>` : null}
    <p class="log-start-text">${text}</p>
  </div>`;
}

/** Every control inside the log that Tab would otherwise stop at, one per button and link. */
const CONTROLS = 'a[href], button, input, select, textarea, video[controls], audio[controls], [tabindex]:not(article)';

/** The controls of one message: its actions first (what Enter goes to), then the links and
 * buttons in its content (its edit box excepted: that keeps its own Tab order). */
function controlsOf(article) {
  const all = [...article.querySelectorAll(CONTROLS)].filter((el) => !el.closest('.edit-box'));
  const actions = all.filter((el) => el.closest('.msg-actions'));
  return [...actions, ...all.filter((el) => !el.closest('.msg-actions'))];
}

export function MessageList({ chat, r }) {
  const scroller = useRef(null);
  const inner = useRef(null);
  // The message Tab lands on (data-key); the newest one until the reader moves.
  const roving = useRef(null);
  const place = useRef({ positioned: false, firstId: null, height: 0, top: 0, atBottom: true });
  const [atBottom, setAtBottom] = useState(true);
  const pendingEntries = store.state.outbox.filter((e) => e.room_id === chat.id);

  const measure = () => {
    const el = scroller.current;
    if (!el) return;
    // In a window of older history (after a jump) the bottom of the list is not the newest.
    const bottom = !r.hasNewer && el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM;
    store.setAtBottom(bottom);
    place.current.height = el.scrollHeight;
    place.current.top = el.scrollTop;
    if (bottom !== place.current.atBottom) {
      place.current.atBottom = bottom;
      setAtBottom(bottom);
    }
    if (bottom && store.state.visible) actions.markRead(chat.id);
    if (el.scrollTop < NEAR_TOP && place.current.positioned) actions.loadOlder(chat.id);
    if (el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_TOP && place.current.positioned) actions.loadNewer(chat.id);
  };

  const toBottom = (smooth) => {
    const el = scroller.current;
    if (el) el.scrollTo({ top: el.scrollHeight, behavior: smooth ? 'smooth' : 'auto' });
  };

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !r.loaded) return;
    const stick = store.takeStick();
    const p = place.current;
    const first = r.items[0]?.id ?? null;
    const target = r.focusId != null ? el.querySelector(`article[data-id="${r.focusId}"]`) : null;
    if (target) {
      // A jump: the message in the middle of the view, highlighted for a moment, focused (so a
      // screen reader reads it).
      el.scrollTop = target.offsetTop - (el.clientHeight - target.offsetHeight) / 2;
      target.focus({ preventScroll: true });
      const id = r.focusId;
      r.focusId = null;
      store.patchRoom(chat.id, { highlightId: id });
      setTimeout(() => { if (r.highlightId === id) store.patchRoom(chat.id, { highlightId: null }); }, 2500);
      p.positioned = true;
    } else if (!p.positioned) {
      const divider = el.querySelector('.divider');
      el.scrollTop = divider ? divider.offsetTop - el.clientHeight / 3 : el.scrollHeight;
      p.positioned = true;
    } else if (p.firstId != null && first != null && first < p.firstId) {
      el.scrollTop = p.top + (el.scrollHeight - p.height);
    } else if ((store.viewport.atBottom && !r.hasNewer) || stick) {
      el.scrollTop = el.scrollHeight;
    }
    p.firstId = first;
    measure();
    rove();
  });

  /** One Tab stop for the whole log: the current message is tabbable, every other message and
   * every control inside a message is not (they are reached with the arrow keys). */
  const rove = () => {
    const log = scroller.current;
    if (!log) return;
    const articles = [...log.querySelectorAll('article.msg')];
    const current = articles.find((a) => a.dataset.key === roving.current) ?? articles[articles.length - 1];
    for (const a of articles) a.tabIndex = a === current ? 0 : -1;
    for (const el of log.querySelectorAll(CONTROLS)) if (!el.closest('.edit-box')) el.tabIndex = -1;
    // With no message to land on, the log itself is the stop (so it can still be scrolled).
    log.tabIndex = articles.length ? -1 : 0;
  };

  const focusArticle = (article) => {
    if (!article) return;
    roving.current = article.dataset.key;
    rove();
    article.focus();
    article.scrollIntoView({ block: 'nearest' });
  };

  const onKeyDown = (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target.closest('.edit-box') || target.matches('input, textarea, select')) return;
    const article = target.closest('article.msg');
    if (!article) return;
    const articles = [...scroller.current.querySelectorAll('article.msg')];
    const i = articles.indexOf(article);
    if (target === article) {
      const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[event.key];
      if (step) {
        event.preventDefault();
        if (i + step < 0) actions.loadOlder(chat.id);
        focusArticle(articles[Math.max(0, Math.min(articles.length - 1, i + step))]);
      } else if (event.key === 'Home' || event.key === 'End') {
        event.preventDefault();
        focusArticle(event.key === 'Home' ? articles[0] : articles[articles.length - 1]);
      } else if (event.key === 'Enter' || event.key === 'ArrowRight') {
        const controls = controlsOf(article);
        if (controls.length) {
          event.preventDefault();
          controls[0].focus();
        }
      }
      return;
    }
    // Inside a message: ←/→ (and ↑/↓) between its controls, Esc back to the message.
    const controls = controlsOf(article);
    const at = controls.indexOf(target);
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      article.focus();
    } else if (at >= 0 && ['ArrowRight', 'ArrowLeft', 'ArrowDown', 'ArrowUp'].includes(event.key)) {
      event.preventDefault();
      const next = at + (event.key === 'ArrowRight' || event.key === 'ArrowDown' ? 1 : -1);
      if (next < 0) article.focus();
      else controls[Math.min(next, controls.length - 1)].focus();
    }
  };

  const onFocusIn = (event) => {
    const article = event.target.closest?.('article.msg');
    if (article && article.dataset.key !== roving.current) {
      roving.current = article.dataset.key;
      rove();
    }
  };

  // Images and previews change heights after render: stay at the bottom if we were there. (Where
  // the reader is was measured by the first layout: a chat opened at its "New messages" line is
  // not at the bottom, and must not be pulled there.)
  useEffect(() => {
    const observer = new ResizeObserver(() => {
      if (store.viewport.atBottom && !store.state.rooms.get(chat.id)?.hasNewer) toBottom(false);
    });
    observer.observe(inner.current);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (r.loaded && store.state.visible && store.viewport.atBottom) actions.markRead(chat.id);
  }, [r.items, store.state.visible]);

  const unseen = chat.unread_count || 0;
  return html`<div class="log-wrap">
    <div class="log" ref=${scroller} role="log" aria-label="Messages" aria-busy=${r.loading ? 'true' : 'false'}
      aria-describedby="log-keys" tabindex="0" onScroll=${measure} onKeyDown=${onKeyDown} onFocusIn=${onFocusIn}>
      <p id="log-keys" class="visually-hidden">Up and down arrows move between messages; Enter opens a message's actions.</p>
      <div class="log-inner" ref=${inner}>
        ${r.loaded && !r.hasOlder ? html`<${Beginning} chat=${chat} empty=${!r.items.length} />` : null}
        ${r.loading ? html`<div class="log-loading"><span class="spinner" aria-hidden="true"></span>Loading messages…</div>` : null}
        ${r.error ? html`<div class="log-error" role="alert"><p>${r.error}</p>
          <button type="button" class="btn small" onClick=${() => actions.retryRoom(chat.id)}><${Icon} name="retry" />Retry</button></div>` : null}
        ${rows(chat, r, pendingEntries)}
      </div>
    </div>
    ${!atBottom || r.hasNewer ? html`<button type="button" class="jump"
      onClick=${() => (r.hasNewer ? actions.jumpToLatest(chat.id) : toBottom(true))}>
      <${Icon} name="down" />Jump to latest${unseen ? html`<span class="jump-count">${unseen} new</span>` : null}
    </button>` : null}
  </div>`;
}
