// Message search: "Search messages" in the chat's header, or Ctrl/Cmd+F anywhere in the app.
// Words match as prefixes, case and accents ignored, and "a quoted phrase" as a phrase (the
// server's rules); results come newest first, from every chat or only the open one, and a
// result opens its chat at that message. ↓ from the box moves into the results, ↑/↓ between
// them; "Older results" pages back.
import { h, html, useEffect, useRef, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as api from '../api.js';
import * as store from '../store.js';
import { time, dayLabel, dayKey } from '../format.js';
import { chatHeaderTools } from './chat.js';
import { registerDialog } from './dialogs.js';
import { FieldError, Modal } from './dialog.js';
import { Icon } from './icons.js';

const PAGE = 20;
const DEBOUNCE_MS = 250;
const CONTEXT = 120;

/** Lower case without accents: "Crème" → "creme", as the server's index folds words. */
const fold = (text) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

/** The words of the search text, folded (quoted phrases give their words too). */
const terms = (text) => fold(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean);

/** `text` around its first match, with every word that starts with a term marked. */
function marked(text, words) {
  const flat = text.replace(/\s+/g, ' ').trim();
  const parts = flat.split(/([\p{L}\p{N}]+)/u);
  const hit = (part) => part && words.some((w) => fold(part).startsWith(w));
  let start = 0;
  let at = 0;
  for (const part of parts) {
    if (hit(part)) {
      start = at;
      break;
    }
    at += part.length;
  }
  const from = flat.length > CONTEXT * 2 && start > CONTEXT / 2 ? start - CONTEXT / 2 : 0;
  let shown = 0;
  const out = from ? ['…'] : [];
  at = 0;
  for (const part of parts) {
    const end = at + part.length;
    if (end > from && shown < CONTEXT * 2) {
      const piece = part.slice(Math.max(0, from - at));
      out.push(hit(part) ? h('mark', null, piece) : piece);
      shown += piece.length;
    }
    at = end;
  }
  if (shown >= CONTEXT * 2 && at > from + shown) out.push('…');
  return out;
}

function when(iso) {
  return dayKey(iso) === dayKey(new Date().toISOString()) ? time(iso) : `${dayLabel(iso)}, ${time(iso)}`;
}

function SearchDialog({ onClose, roomId }) {
  const chat = roomId ? store.state.chats.get(roomId) : null;
  const [text, setText] = useState(store.lastSearch.text);
  const [here, setHere] = useState(Boolean(chat) && store.lastSearch.here);
  const [found, setFound] = useState({ query: null, results: [], more: false, busy: false, error: null });
  const list = useRef(null);
  const run = useRef(0);

  const search = async (more) => {
    const q = text.trim();
    const n = ++run.current;
    if (!q) {
      setFound({ query: null, results: [], more: false, busy: false, error: null });
      return;
    }
    const before = more ? found.results[found.results.length - 1]?.id : undefined;
    setFound((f) => ({ ...f, busy: true, error: null }));
    try {
      const page = await api.search({ text: q, room_id: here && chat ? chat.id : undefined, before, limit: PAGE });
      if (n !== run.current) return;
      setFound((f) => ({ query: q, results: more ? [...f.results, ...page] : page, more: page.length === PAGE, busy: false, error: null }));
    } catch (error) {
      if (n === run.current) setFound((f) => ({ ...f, busy: false, error }));
    }
  };

  useEffect(() => {
    store.rememberSearch(text, here);
    const timer = setTimeout(() => search(false), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, here]);

  const open = (message) => {
    onClose();
    actions.jumpTo(message.room_id, message.id);
  };
  const buttons = () => [...(list.current?.querySelectorAll('.search-result') ?? [])];
  const onInputKey = (event) => {
    if (event.key === 'ArrowDown' && found.results.length) {
      event.preventDefault();
      buttons()[0]?.focus();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      search(false);
    }
  };
  const onListKey = (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    const all = buttons();
    const next = all.indexOf(document.activeElement) + (event.key === 'ArrowDown' ? 1 : -1);
    if (next < 0) document.getElementById('search-input')?.focus();
    else all[Math.min(next, all.length - 1)]?.focus();
  };

  const words = terms(found.query ?? '');
  const count = found.results.length;
  let status = '';
  if (found.busy) status = 'Searching…';
  else if (found.query && !count) status = `No messages match “${found.query}”${here && chat ? ` in ${chat.name}` : ''}.`;
  else if (found.query) status = `${count}${found.more ? '+' : ''} message${count === 1 ? '' : 's'} found.`;
  return html`<${Modal} title="Search messages" onClose=${onClose} class="search-dialog">
    <div class="modal-body search-body">
      <form class="search-form" role="search" onSubmit=${(e) => { e.preventDefault(); search(false); }}>
        <label class="visually-hidden" for="search-input">Search messages</label>
        <input id="search-input" type="text" autocomplete="off" autofocus maxlength="200" enterkeyhint="search" dir="auto"
          placeholder="Words, or “an exact phrase”" value=${text} aria-describedby="search-status"
          aria-invalid=${found.error?.fields?.q ? 'true' : undefined}
          onInput=${(e) => setText(e.currentTarget.value)} onKeyDown=${onInputKey} />
        ${chat ? html`<label class="search-scope">
          <input type="checkbox" checked=${here} onChange=${(e) => setHere(e.currentTarget.checked)} />
          Only in ${chat.is_private ? chat.name : `#${chat.name}`}
        </label>` : null}
      </form>
      <${FieldError} error=${found.error} field="q" id="search-error" />
      ${found.error && !found.error.fields?.q ? html`<p class="form-error" role="alert">${found.error.message}</p>` : null}
      <p id="search-status" class="search-status" role="status">${status}</p>
      ${count ? html`<ul class="search-results" ref=${list} aria-label="Search results" onKeyDown=${onListKey}>
        ${found.results.map((m) => {
          const where = store.state.chats.get(m.room_id);
          return html`<li key=${m.id}><button type="button" class="search-result" onClick=${() => open(m)}>
            <span class="search-result-head">
              <bdi class="search-result-room">${where ? (where.is_private ? where.name : `#${where.name}`) : 'a chat'}</bdi>
              <bdi class="search-result-sender">${m.sender.username}</bdi>
              <time datetime=${m.created_at}>${when(m.created_at)}</time>
            </span>
            <span class="search-result-text" dir="auto">${m.content ? marked(m.content, words) : m.attachment ? `📎 ${m.attachment.filename}` : ''}</span>
          </button></li>`;
        })}
      </ul>` : null}
      ${found.more ? html`<button type="button" class="btn wide search-more" disabled=${found.busy}
        onClick=${() => search(true)}>Older results</button>` : null}
    </div>
  <//>`;
}

function SearchButton({ chat }) {
  return html`<button type="button" class="icon-btn" aria-label="Search messages" title="Search messages (Ctrl+F)"
    aria-keyshortcuts="Control+F Meta+F" onClick=${() => store.openDialog('search', { roomId: chat.id })}>
    <${Icon} name="search" /></button>`;
}

registerDialog('search', SearchDialog);
chatHeaderTools.push(SearchButton);
