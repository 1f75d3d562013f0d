// A textbox with username suggestions as you type (GET /auth/users/?q=). It stays a plain
// textbox for screen readers and tests; the suggestions are buttons below it: ↓ moves into
// them, ↑/↓ between them, Enter or a click picks one, Esc goes back to the textbox. With
// `multi`, the text is a list of usernames and the suggestion completes the last one; with
// `onPick`, picking a suggestion also does what the form is for (one Enter, not two).
import { html, useEffect, useRef, useState } from '../lib.js';
import * as api from '../api.js';
import { state } from '../store.js';
import { Avatar } from './avatar.js';

const SEPARATOR = /[\s,]+/;

export function UserSuggest({ id, value, onChange, onPick, multi, describedBy, invalid, placeholder, exclude = [] }) {
  const [found, setFound] = useState([]);
  const [open, setOpen] = useState(false);
  const list = useRef(null);
  const input = useRef(null);
  const parts = value.split(SEPARATOR);
  const current = multi ? parts[parts.length - 1] : value.trim();
  const chosen = new Set([...(multi ? parts.slice(0, -1) : []), ...exclude].map((u) => u.toLowerCase()));

  useEffect(() => {
    if (!current) {
      setFound([]);
      return undefined;
    }
    let live = true;
    const timer = setTimeout(() => {
      api.searchUsers(current).then((users) => { if (live) setFound(users); }, () => {});
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [current]);

  const mine = state.session?.user.username.toLowerCase();
  const shown = found.filter((u) => u.username.toLowerCase() !== mine && !chosen.has(u.username.toLowerCase())).slice(0, 6);
  const exact = shown.length === 1 && shown[0].username.toLowerCase() === current.toLowerCase();
  const visible = open && current && shown.length > 0 && !exact;

  const pick = (username) => {
    if (multi) {
      const head = value.slice(0, value.length - current.length);
      onChange(`${head}${username}, `);
    } else onChange(username);
    setOpen(false);
    input.current?.focus();
    if (!multi && onPick) onPick(username);
  };

  const buttons = () => [...(list.current?.querySelectorAll('button') ?? [])];
  const onInputKey = (event) => {
    if (event.key === 'ArrowDown' && visible) {
      event.preventDefault();
      buttons()[0]?.focus();
    } else if (event.key === 'Escape' && visible) {
      event.preventDefault();
      event.stopPropagation();
      setOpen(false);
    }
  };
  const onListKey = (event) => {
    const all = buttons();
    const i = all.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = i + (event.key === 'ArrowDown' ? 1 : -1);
      if (next < 0) input.current?.focus();
      else all[Math.min(next, all.length - 1)]?.focus();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      setOpen(false);
      input.current?.focus();
    }
  };

  return html`<div class="suggest">
    <input id=${id} ref=${input} type="text" autocomplete="off" autocapitalize="none" spellcheck="false"
      value=${value} placeholder=${placeholder} aria-describedby=${describedBy} aria-invalid=${invalid ? 'true' : undefined}
      onInput=${(e) => { onChange(e.currentTarget.value); setOpen(true); }} onKeyDown=${onInputKey} onFocus=${() => setOpen(true)} />
    ${visible ? html`<ul class="suggestions" ref=${list} aria-label="Suggestions" onKeyDown=${onListKey}>
      ${shown.map((u) => html`<li key=${u.id}><button type="button" class="suggestion" onClick=${() => pick(u.username)}>
        <${Avatar} user=${u} size="xs" online=${Boolean(u.online)} />
        <bdi>${u.display_name || u.username}</bdi>${u.display_name && u.display_name !== u.username ? html` <span class="username">@${u.username}</span>` : null}${u.online ? html`<span class="suggestion-note">online</span>` : null}
      </button></li>`)}
    </ul>` : null}
    <p class="visually-hidden" aria-live="polite">${visible ? `${shown.length} suggestion${shown.length === 1 ? '' : 's'}; press the down arrow to choose.` : ''}</p>
  </div>`;
}
