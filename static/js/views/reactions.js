// Reactions: the bar under a message (each emoji with its count; a click toggles yours; who
// reacted shows on hover, and on a long press on touch screens), and "Add reaction" among a
// message's actions, which offers a few quick emoji.
import { html, cls, useEffect, useRef, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { Icon } from './icons.js';
import { messageParts } from './messages.js';

export const QUICK = ['👍', '❤️', '😂', '😮', '😢', '🎉'];
const LONG_PRESS_MS = 500;

/** "alice, bob and you" for the users of a reaction. */
function who(chat, userIds) {
  const mine = store.me()?.id;
  const names = userIds.filter((id) => id !== mine).map((id) => store.memberName(chat, id) ?? 'someone who left');
  if (userIds.includes(mine)) names.push('you');
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names[0] ?? '';
}

function ReactionBar({ message }) {
  const [shown, setShown] = useState(null);
  const press = useRef({ timer: 0, long: false });
  useEffect(() => () => clearTimeout(press.current.timer), []);
  const reactions = message.reactions ?? [];
  if (!reactions.length || message.id == null) return null;
  const chat = store.state.chats.get(message.room_id);
  const mine = store.me()?.id;
  // A long press shows who reacted instead of toggling (touch screens have no hover).
  const down = (event, text) => {
    if (event.pointerType !== 'touch') return;
    press.current.long = false;
    clearTimeout(press.current.timer);
    press.current.timer = setTimeout(() => {
      press.current.long = true;
      setShown(text);
      setTimeout(() => setShown(null), 4000);
    }, LONG_PRESS_MS);
  };
  const up = () => clearTimeout(press.current.timer);
  const click = (emoji) => {
    if (press.current.long) {
      press.current.long = false;
      return;
    }
    actions.react(message, emoji);
  };
  return html`<div class="reactions" role="group" aria-label="Reactions">
    ${reactions.map((r) => {
      const pressed = r.user_ids.includes(mine);
      const text = `${who(chat, r.user_ids)} reacted with ${r.emoji}`;
      return html`<button type="button" key=${r.emoji} class=${cls('reaction', pressed && 'mine')}
        aria-pressed=${pressed ? 'true' : 'false'} aria-label=${`${r.emoji} ${r.count}: ${text}`} title=${text}
        onPointerDown=${(e) => down(e, text)} onPointerUp=${up} onPointerLeave=${up} onPointerCancel=${up}
        onContextMenu=${(e) => e.pointerType !== 'mouse' && e.preventDefault()} onClick=${() => click(r.emoji)}>
        <span class="reaction-emoji" aria-hidden="true">${r.emoji}</span><span class="reaction-count" aria-hidden="true">${r.count}</span>
      </button>`;
    })}
    ${shown ? html`<p class="reaction-who" role="status">${shown}</p>` : null}
  </div>`;
}

/** "Add reaction": a small row of quick emoji; Esc or a click elsewhere closes it. */
function ReactButton({ message }) {
  const [open, setOpen] = useState(false);
  const toggle = useRef(null);
  const picker = useRef(null);
  const id = `react-${message.id}`;
  useEffect(() => {
    if (open) picker.current?.querySelector('button')?.focus();
  }, [open]);
  const close = (refocus) => {
    setOpen(false);
    if (refocus) toggle.current?.focus();
  };
  const pick = (emoji) => {
    close(true);
    actions.react(message, emoji);
  };
  const onKeyDown = (event) => {
    const all = [...picker.current.querySelectorAll('button')];
    const i = all.indexOf(document.activeElement);
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      event.preventDefault();
      all[(i + (event.key === 'ArrowRight' ? 1 : -1) + all.length) % all.length]?.focus();
    }
  };
  const onFocusOut = (event) => {
    if (!event.currentTarget.contains(event.relatedTarget)) setOpen(false);
  };
  return html`<span class="react-wrap" onFocusOut=${onFocusOut}>
    <button type="button" ref=${toggle} class="icon-btn small" aria-label="Add reaction" title="Add reaction"
      aria-expanded=${open ? 'true' : 'false'} aria-controls=${open ? id : undefined} onClick=${() => setOpen(!open)}>
      <${Icon} name="smile" /></button>
    ${open ? html`<div class="react-picker" id=${id} ref=${picker} role="group" aria-label="Quick reactions" onKeyDown=${onKeyDown}>
      ${QUICK.map((emoji) => html`<button type="button" class="react-choice" aria-label=${`React with ${emoji}`}
        title=${emoji} onClick=${() => pick(emoji)}>${emoji}</button>`)}
    </div>` : null}
  </span>`;
}

messageParts.below.push(ReactionBar);
messageParts.actions.unshift(ReactButton);
