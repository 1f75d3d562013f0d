// The composer: a multi-line "Message" textbox (Enter sends, Shift+Enter is a new line, ↑ when
// empty edits your last message, `@` suggests members to mention), "Attach file" (also
// drag-and-drop and paste) with upload progress, "Send", and "Replying to …" while it answers a
// message (Esc cancels). The draft is kept per chat, across reloads.
import { html, cls, useEffect, useRef, useState, isTouch } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { fileSize } from '../format.js';
import { Icon } from './icons.js';
import { useMentions } from './mentions.js';
import { ReplyBar } from './replies.js';
import { VoiceRecorder } from './recorder.js';

const autosizeNeeded = !(globalThis.CSS?.supports?.('field-sizing', 'content'));

/** The server's bound on a message (characters after trimming), and where the composer starts
 * counting down towards it. */
const MAX_CHARS = 4000;
const COUNT_FROM = 3500;

function autosize(el) {
  if (!el || !autosizeNeeded) return;
  el.style.height = 'auto';
  el.style.height = `${Math.min(el.scrollHeight, Math.round(innerHeight * 0.4))}px`;
}

export function Composer({ chat }) {
  const [text, setText] = useState(() => store.draft(chat.id));
  const uploads = store.uploadsIn(chat.id);
  const input = useRef(null);
  const replyTo = store.state.replyTo.get(chat.id) ?? null;
  const mentions = useMentions(chat, input, (value, caret) => {
    setText(value);
    store.saveDraft(chat.id, value);
    requestAnimationFrame(() => {
      input.current?.setSelectionRange(caret, caret);
      autosize(input.current);
    });
  });

  const attach = (list) => {
    actions.attach(chat.id, list);
    input.current?.focus();
  };
  const remove = (key) => {
    actions.removeUpload(chat.id, key);
    input.current?.focus();
  };

  useEffect(() => {
    autosize(input.current);
    if (!isTouch()) input.current?.focus();
    return () => {
      actions.discardUploads(chat.id);
      actions.typing(chat.id, false);
    };
  }, []);

  const uploading = !uploads.every(store.uploadSettled);
  const ready = uploads.filter((f) => f.attachment);
  const content = text.replace(/^(?:[ \t]*\n)+/, '').trimEnd();
  // Counted as the server counts: characters (code points) of the trimmed text.
  const length = [...content.trim()].length;
  const tooLong = length > MAX_CHARS;
  const canSend = !uploading && !tooLong && Boolean(content.trim() || ready.length);

  const submit = (event) => {
    event?.preventDefault();
    if (!canSend) return;
    actions.sendComposed(chat.id, content);
    setText('');
    requestAnimationFrame(() => autosize(input.current));
  };

  const onKeyDown = (event) => {
    if (mentions.onKeyDown(event)) return;
    if (event.key === 'Escape' && replyTo) {
      event.preventDefault();
      event.stopPropagation();
      store.setReplyTo(chat.id, null);
    } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    } else if (event.key === 'ArrowUp' && !text && !uploads.length && !event.altKey && !event.ctrlKey && !event.metaKey) {
      if (actions.editLast(chat.id)) event.preventDefault();
    }
  };
  const onInput = (event) => {
    const value = event.currentTarget.value;
    setText(value);
    store.saveDraft(chat.id, value);
    actions.typing(chat.id, value.trim().length > 0);
    autosize(event.currentTarget);
    mentions.update();
  };
  const onPaste = (event) => {
    const pasted = [...(event.clipboardData?.files ?? [])];
    if (pasted.length) {
      event.preventDefault();
      attach(pasted);
    }
  };

  const failed = uploads.filter((f) => f.error);
  const placeholder = chat.is_private ? `Message ${chat.name}` : `Message #${chat.name}`;
  return html`<form class="composer" onSubmit=${submit}>
    <${ReplyBar} chat=${chat} />
    ${mentions.list}
    ${uploads.length ? html`<ul class="uploads" aria-label="Attachments">
      ${uploads.map((f) => html`<li key=${f.key} class=${cls('upload', f.error && 'upload-failed')}>
        ${f.preview ? html`<img class="upload-thumb" src=${f.preview} alt="" />` : html`<span class="upload-thumb"><${Icon} name="file" /></span>`}
        <span class="upload-text">
          <span class="upload-name">${f.name}</span>
          ${f.error ? html`<span class="upload-note">Upload failed</span>`
            : f.attachment ? html`<span class="upload-note">${fileSize(f.size)} · ready</span>`
            : html`<progress class="upload-progress" max="1" value=${f.progress} aria-label=${`Uploading ${f.name}`}></progress>`}
        </span>
        <button type="button" class="icon-btn small" aria-label=${`Remove ${f.name}`} title="Remove" onClick=${() => remove(f.key)}><${Icon} name="close" /></button>
      </li>`)}
    </ul>` : null}
    ${failed.length ? html`<p class="form-error composer-error" role="alert">
      ${failed.map((f) => `${f.name}: ${f.error}`).join(' ')}
    </p>` : null}
    ${length > COUNT_FROM ? html`<p id="composer-count" class=${tooLong ? 'composer-count over' : 'composer-count'} aria-live="polite">
      ${tooLong ? `${(length - MAX_CHARS).toLocaleString()} characters too many: shorten the message to send it.`
        : `${(MAX_CHARS - length).toLocaleString()} characters left.`}</p>` : null}
    <div class="composer-row">
      <label class="icon-btn attach" title="Attach file">
        <input type="file" multiple class="visually-hidden" aria-label="Attach file"
          onChange=${(e) => { attach([...e.currentTarget.files]); e.currentTarget.value = ''; }} />
        <${Icon} name="clip" />
      </label>
      <${VoiceRecorder} chat=${chat} />
      <textarea id="composer-input" ref=${input} class="composer-input" aria-label="Message" rows="1" dir="auto"
        placeholder=${placeholder} enterkeyhint="send" value=${text} ...${mentions.inputProps}
        aria-describedby=${[replyTo ? 'reply-bar-text' : null, length > COUNT_FROM ? 'composer-count' : null].filter(Boolean).join(' ') || undefined}
        aria-invalid=${tooLong ? 'true' : undefined}
        onInput=${onInput} onKeyDown=${onKeyDown} onKeyUp=${mentions.update} onClick=${mentions.update} onPaste=${onPaste}></textarea>
      <button type="submit" class="send" aria-label="Send" title="Send (Enter)" disabled=${!canSend}><${Icon} name="send" /></button>
    </div>
  </form>`;
}
