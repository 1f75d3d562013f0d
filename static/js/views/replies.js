// Replies: "Reply" on every message, the quote above a reply (a button that jumps to the
// original, loading the history around it when it is not loaded), and the "Replying to …" bar
// above the composer.
import { html } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { preview } from '../format.js';
import { Icon } from './icons.js';
import { focusComposer, messageParts } from './messages.js';

/** One line of a quoted message (code blocks and line breaks folded). */
const excerpt = (text) => preview({ content: text }) || 'an attachment';

function ReplyQuote({ message }) {
  const ref = message.reply_to;
  if (!ref) return null;
  if (ref.deleted) {
    return html`<p class="reply-quote reply-deleted"><${Icon} name="reply" />
      <span>In reply to <bdi>${ref.sender.username}</bdi>: the message was deleted</span></p>`;
  }
  const text = excerpt(ref.excerpt);
  // Named by its text, "In reply to bob: …" (the first and last words are for screen readers).
  return html`<button type="button" class="reply-quote" title="Show the original message"
    onClick=${() => message.id != null && actions.jumpTo(message.room_id, ref.id)}>
    <${Icon} name="reply" /><span class="visually-hidden">In reply to </span><bdi class="reply-sender">${ref.sender.username}</bdi><span class="visually-hidden">: </span><bdi class="reply-text">${text}</bdi>
  </button>`;
}

function ReplyButton({ message }) {
  const reply = () => {
    store.set({ editing: null });
    store.setReplyTo(message.room_id, message);
    focusComposer();
  };
  return html`<button type="button" class="icon-btn small" aria-label="Reply" title="Reply" onClick=${reply}>
    <${Icon} name="reply" /></button>`;
}

/** Above the composer while it answers a message; Esc in the composer or "Cancel reply" ends it. */
export function ReplyBar({ chat }) {
  const target = store.state.replyTo.get(chat.id);
  if (!target) return null;
  const cancel = () => {
    store.setReplyTo(chat.id, null);
    focusComposer();
  };
  return html`<div class="reply-bar">
    <${Icon} name="reply" />
    <p class="reply-bar-text" id="reply-bar-text">
      Replying to <strong>${target.sender.username}</strong><span class="visually-hidden">:</span>
      <span class="reply-bar-excerpt">${excerpt(target.content)}</span>
    </p>
    <button type="button" class="icon-btn small" aria-label="Cancel reply" title="Cancel reply (Esc)" onClick=${cancel}>
      <${Icon} name="close" /></button>
  </div>`;
}

messageParts.above.push(ReplyQuote);
messageParts.actions.push(ReplyButton);
