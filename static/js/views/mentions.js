// @mentions in the composer: typing `@` and the start of a name lists the chat's members that
// match; ↑/↓ choose, Enter or Tab insert `@username `, Esc closes, a click inserts too. The
// textbox stays a textbox (screen readers hear the list through aria-activedescendant and a
// polite count); the server decides what is a mention when the message is sent.
import { html, cls, useState } from '../lib.js';
import * as store from '../store.js';
import { Avatar } from './avatar.js';

const MAX_SHOWN = 6;
/** `@` and a partial username right before the caret, not inside a word or an address. */
const AT_NAME = /(?:^|[^A-Za-z0-9_.\-@])@([A-Za-z0-9_.-]{0,32})$/;

/** Where the name being typed starts (at its `@`) and what of it is typed, or null. */
function typedName(el) {
  if (!el || el.selectionStart !== el.selectionEnd) return null;
  const caret = el.selectionStart;
  const m = AT_NAME.exec(el.value.slice(0, caret));
  return m ? { start: caret - m[1].length - 1, end: caret, prefix: m[1] } : null;
}

/** The members of `chat` other than the reader whose name starts with `prefix` (any case). */
function matching(chat, prefix) {
  const mine = store.me()?.id;
  const people = chat.members ?? (chat.peer ? [chat.peer] : []);
  const p = prefix.toLowerCase();
  return people
    .filter((m) => m.id !== mine && m.username.toLowerCase().startsWith(p))
    .sort((a, b) => store.isOnline(b) - store.isOnline(a) || a.username.localeCompare(b.username))
    .slice(0, MAX_SHOWN);
}

/**
 * The composer's mention suggestions. `input` is the textbox's ref; `insert(text, caret)`
 * replaces the composer's text. Call `update()` whenever the text or the caret moves, and give
 * `onKeyDown` the textbox's keys first (it says whether it used the key).
 */
export function useMentions(chat, input, insert) {
  const [typed, setTyped] = useState(null);
  const [active, setActive] = useState(0);
  const [closedAt, setClosedAt] = useState(null);
  const found = typed ? matching(chat, typed.prefix) : [];
  const open = found.length > 0 && closedAt !== typed?.start
    && !(found.length === 1 && found[0].username.toLowerCase() === typed.prefix.toLowerCase());
  const current = Math.min(active, found.length - 1);

  const update = () => {
    const next = typedName(input.current);
    if (next?.start !== typed?.start || next?.prefix !== typed?.prefix) setActive(0);
    if (next?.start !== closedAt) setClosedAt(null);
    setTyped(next);
  };
  const pick = (user) => {
    const el = input.current;
    const text = `${el.value.slice(0, typed.start)}@${user.username} ${el.value.slice(typed.end)}`;
    insert(text, typed.start + user.username.length + 2);
    setTyped(null);
  };
  const onKeyDown = (event) => {
    if (!open) return false;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      setActive((current + (event.key === 'ArrowDown' ? 1 : -1) + found.length) % found.length);
    } else if ((event.key === 'Enter' || event.key === 'Tab') && !event.shiftKey && !event.isComposing) {
      pick(found[current]);
    } else if (event.key === 'Escape') {
      setClosedAt(typed.start);
      event.stopPropagation();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  };

  const optionId = (user) => `mention-option-${user.id}`;
  const inputProps = {
    'aria-autocomplete': 'list',
    'aria-controls': open ? 'mention-list' : undefined,
    'aria-activedescendant': open ? optionId(found[current]) : undefined,
  };
  const list = html`
    ${open ? html`<ul class="mention-list" id="mention-list" role="listbox" aria-label="People to mention">
      ${found.map((user, i) => html`<li key=${user.id} id=${optionId(user)} role="option"
        aria-selected=${i === current ? 'true' : 'false'} class=${cls('mention-option', i === current && 'active')}
        onMouseDown=${(e) => e.preventDefault()} onClick=${() => pick(user)} onMouseMove=${() => setActive(i)}>
        <${Avatar} user=${user} size="xs" online=${store.isOnline(user)} /><span dir="auto">${store.nameOf(user)}</span>${store.hasOwnName(user) ? html` <span class="username">@${user.username}</span>` : null}
      </li>`)}
    </ul>` : null}
    <p class="visually-hidden" aria-live="polite">${open
      ? `${found.length} ${found.length === 1 ? 'person matches' : 'people match'}; up and down to choose, Enter to insert.` : ''}</p>`;
  return { list, update, onKeyDown, inputProps };
}
