// The app's dialogs, opened with store.openDialog(type, props). Other features add theirs with
// registerDialog (the administration panel, for instance).
import { html, useEffect, useMemo, useRef, useState } from '../lib.js';
import { url } from '../api.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { Avatar } from './avatar.js';
import { FieldError, Modal } from './dialog.js';
import { UserSuggest } from './user-suggest.js';
import { describeError, describeUserError, useSubmit } from './forms.js';

const registry = {};

export function registerDialog(type, component) {
  registry[type] = component;
}

export function Dialogs() {
  const dialog = store.state.dialog;
  const Component = dialog && registry[dialog.type];
  return Component ? html`<${Component} key=${dialog.type} ...${dialog} onClose=${store.closeDialog} />` : null;
}

function NewRoomDialog({ onClose }) {
  const [name, setName] = useState('');
  const [members, setMembers] = useState('');
  const [open, setOpen] = useState(false);
  const { busy, error, run } = useSubmit();
  const submit = (event) => {
    event.preventDefault();
    const usernames = members.split(/[\s,]+/).filter(Boolean);
    run(async () => {
      await actions.createRoom(name.trim(), usernames, { visibility: open ? 'open' : 'private' });
      onClose();
    });
  };
  return html`<${Modal} title="New room" onClose=${onClose}>
    <form class="modal-body stack" onSubmit=${submit} novalidate>
      <div class="field">
        <label for="room-name">Room name</label>
        <input id="room-name" type="text" autocomplete="off" maxlength="100" dir="auto" value=${name} autofocus
          aria-invalid=${error?.fields?.name ? 'true' : undefined} aria-describedby="room-name-error"
          onInput=${(e) => setName(e.currentTarget.value)} />
        <${FieldError} error=${error} field="name" id="room-name-error" />
      </div>
      <div class="field">
        <label for="room-members">Members</label>
        <${UserSuggest} id="room-members" multi value=${members} onChange=${setMembers}
          invalid=${Boolean(error?.fields?.members)} describedBy="room-members-hint room-members-error" />
        <p class="hint" id="room-members-hint">Usernames, separated by commas or spaces. You can add people later.</p>
        <${FieldError} error=${error} field="members" id="room-members-error" />
      </div>
      <label class="check">
        <input type="checkbox" checked=${open} onChange=${(e) => setOpen(e.currentTarget.checked)} />
        Open to everyone on this server
      </label>
      ${error ? html`<p class="form-error" role="alert">${describeError(error)}</p>` : null}
      <div class="modal-actions">
        <button type="button" class="btn" onClick=${onClose}>Cancel</button>
        <button type="submit" class="btn primary" disabled=${busy || !name.trim()}>Create</button>
      </div>
    </form>
  <//>`;
}

function NewPrivateChatDialog({ onClose }) {
  const [username, setUsername] = useState('');
  const [asked, setAsked] = useState('');
  const { busy, error, run, setError } = useSubmit();
  const start = (name) => {
    setAsked(name);
    run(async () => {
      await actions.startPrivateChat(name);
      onClose();
    });
  };
  const submit = (event) => {
    event.preventDefault();
    start(username.trim());
  };
  // A new name makes the last answer about another one: it goes.
  const change = (value) => {
    setUsername(value);
    if (error) setError(null);
  };
  return html`<${Modal} title="New private chat" onClose=${onClose}>
    <form class="modal-body stack" onSubmit=${submit} novalidate>
      <div class="field">
        <label for="dm-username">Username</label>
        <${UserSuggest} id="dm-username" value=${username} onChange=${change} onPick=${start}
          invalid=${Boolean(error)} describedBy="dm-username-hint" />
        <p class="hint" id="dm-username-hint">Start typing to see who is here.</p>
      </div>
      ${error ? html`<p class="form-error" role="alert">${describeUserError(error, asked)}</p>` : null}
      <div class="modal-actions">
        <button type="button" class="btn" onClick=${onClose}>Cancel</button>
        <button type="submit" class="btn primary" disabled=${busy || !username.trim()}>Start</button>
      </div>
    </form>
  <//>`;
}

/** Ctrl/Cmd+K: type to filter the chats, ↑/↓ to choose, Enter to open. */
function SwitcherDialog({ onClose }) {
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  const input = useRef(null);
  const matches = useMemo(() => {
    const q = query.trim().toLowerCase();
    const all = store.chatOrder();
    if (!q) return all;
    const hits = all.filter((c) => c.name.toLowerCase().includes(q));
    return [...hits.filter((c) => c.name.toLowerCase().startsWith(q)), ...hits.filter((c) => !c.name.toLowerCase().startsWith(q))];
  }, [query, store.state.chats]);
  useEffect(() => setActive(0), [query]);
  const choose = (chat) => {
    onClose();
    actions.go(chat.id);
  };
  const onKeyDown = (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const n = matches.length;
      if (n) setActive((a) => (a + (event.key === 'ArrowDown' ? 1 : -1) + n) % n);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      if (matches[active]) choose(matches[active]);
    }
  };
  const activeId = matches[active] ? `switch-${matches[active].id}` : undefined;
  useEffect(() => {
    if (activeId) document.getElementById(activeId)?.scrollIntoView({ block: 'nearest' });
  }, [activeId]);
  return html`<${Modal} title="Jump to a chat" onClose=${onClose} class="switcher">
    <div class="modal-body">
      <label class="visually-hidden" for="switcher-input">Find a chat</label>
      <input id="switcher-input" ref=${input} type="text" role="combobox" autocomplete="off" autofocus
        aria-expanded="true" aria-controls="switcher-list" aria-autocomplete="list" aria-activedescendant=${activeId}
        placeholder="Find a chat…" value=${query} onInput=${(e) => setQuery(e.currentTarget.value)} onKeyDown=${onKeyDown} />
      <ul id="switcher-list" role="listbox" aria-label="Matching chats" class="switcher-list">
        ${matches.map((chat, i) => html`<li key=${chat.id} id=${`switch-${chat.id}`} role="option" aria-selected=${i === active ? 'true' : 'false'}
          class="switcher-item" onClick=${() => choose(chat)} onMouseMove=${() => setActive(i)}>
          <${Avatar} name=${chat.name} size="sm" room=${!chat.is_private} online=${chat.is_private ? store.isOnline(chat.peer) : undefined} />
          <span class="switcher-name" dir="auto">${chat.name}</span>
          ${chat.unread_count ? html`<span class="badge">${chat.unread_count}</span>` : null}
        </li>`)}
        ${matches.length ? null : html`<li class="switcher-empty" role="presentation">No chat matches “${query}”.</li>`}
      </ul>
      <p class="hint switcher-hint" aria-hidden="true"><kbd>↑</kbd> <kbd>↓</kbd> to choose · <kbd>Enter</kbd> to open · <kbd>Esc</kbd> to close</p>
    </div>
  <//>`;
}

/** "Are you sure?" with a named action; `run` may fail, and then says why. */
function ConfirmDialog({ onClose, title, body, confirm, run }) {
  const { busy, error, run: go } = useSubmit();
  const submit = (event) => {
    event.preventDefault();
    go(async () => {
      await run();
      onClose();
    });
  };
  return html`<${Modal} title=${title} onClose=${onClose}>
    <form class="modal-body stack" onSubmit=${submit}>
      ${body ? html`<p class="modal-text">${body}</p>` : null}
      ${error ? html`<p class="form-error" role="alert">${describeError(error)}</p>` : null}
      <div class="modal-actions">
        <button type="button" class="btn" onClick=${onClose} autofocus>Cancel</button>
        <button type="submit" class="btn danger" disabled=${busy}>${confirm}</button>
      </div>
    </form>
  <//>`;
}

function ImageDialog({ onClose, src, filename }) {
  return html`<${Modal} title=${filename} onClose=${onClose} class="lightbox" wide>
    <div class="lightbox-body">
      <img src=${src} alt=${filename} />
      <a class="btn" href=${src} target="_blank" rel="noopener noreferrer">Open original</a>
    </div>
  <//>`;
}

/** "Profile": my display name and picture ("Change picture", "Remove picture"). */
function ProfileDialog({ onClose }) {
  const user = store.me();
  const [name, setName] = useState(user.display_name ?? '');
  // undefined: unchanged; null: removed; a number: the upload that becomes the picture.
  const [avatarId, setAvatarId] = useState(undefined);
  const [preview, setPreview] = useState(user.avatar_url ? url(user.avatar_url.replace(/^\//, '')) : null);
  const [uploading, setUploading] = useState(false);
  const { busy, error, run } = useSubmit();
  useEffect(() => () => { if (preview?.startsWith('blob:')) URL.revokeObjectURL(preview); }, [preview]);
  const choose = (event) => {
    const file = event.currentTarget.files?.[0];
    event.currentTarget.value = '';
    if (!file) return;
    setUploading(true);
    run(async () => {
      try {
        const attachment = await actions.uploadFile(file);
        setAvatarId(attachment.id);
        setPreview(URL.createObjectURL(file));
      } finally {
        setUploading(false);
      }
    });
  };
  const remove = () => { setAvatarId(null); setPreview(null); };
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      const change = { display_name: name.trim() || null };
      if (avatarId !== undefined) change.avatar_attachment_id = avatarId;
      await actions.updateProfile(change);
      onClose();
    });
  };
  return html`<${Modal} title="Profile" onClose=${onClose}>
    <form class="modal-body stack" onSubmit=${submit} novalidate>
      <div class="profile-picture">
        ${preview
          ? html`<span class="avatar avatar-lg has-picture" aria-hidden="true"><img class="avatar-picture" src=${preview} alt="" /></span>`
          : html`<${Avatar} name=${name.trim() || user.username} size="lg" />`}
        <label class="btn">
          <input type="file" accept="image/png,image/jpeg,image/gif,image/webp" class="visually-hidden"
            aria-label="Change picture" onChange=${choose} />
          ${uploading ? 'Uploading…' : 'Change picture'}
        </label>
        ${preview ? html`<button type="button" class="btn" onClick=${remove}>Remove picture</button>` : null}
      </div>
      <${FieldError} error=${error} field="avatar_attachment_id" id="profile-picture-error" />
      <div class="field">
        <label for="profile-name">Display name</label>
        <input id="profile-name" type="text" autocomplete="name" maxlength="64" dir="auto" value=${name}
          placeholder=${user.username}
          aria-invalid=${error?.fields?.display_name ? 'true' : undefined} aria-describedby="profile-name-hint profile-name-error"
          onInput=${(e) => setName(e.currentTarget.value)} />
        <p class="hint" id="profile-name-hint">Shown instead of your username (@${user.username}), which stays the same for mentions and signing in.</p>
        <${FieldError} error=${error} field="display_name" id="profile-name-error" />
      </div>
      ${error && !error.fields ? html`<p class="form-error" role="alert">${describeError(error)}</p>` : null}
      <div class="modal-actions">
        <button type="button" class="btn" onClick=${onClose}>Cancel</button>
        <button type="submit" class="btn primary" disabled=${busy || uploading}>Save</button>
      </div>
    </form>
  <//>`;
}

registerDialog('profile', ProfileDialog);
registerDialog('new-room', NewRoomDialog);
registerDialog('new-private-chat', NewPrivateChatDialog);
registerDialog('switcher', SwitcherDialog);
registerDialog('confirm', ConfirmDialog);
registerDialog('image', ImageDialog);
