// Open rooms: "Browse rooms" (the dialog "Rooms": every open room on the server with its topic
// and member count, a "Find a room" searchbox, "Join" or "Open"), and "Room settings" for a
// room's owner and administrators (name, topic, "Open to everyone on this server").
import { html, useEffect, useRef, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as api from '../api.js';
import * as store from '../store.js';
import { Avatar } from './avatar.js';
import { FieldError, Modal } from './dialog.js';
import { registerDialog } from './dialogs.js';
import { Icon } from './icons.js';
import { describeError, useSubmit } from './forms.js';

const DEBOUNCE_MS = 200;
const MAX_TOPIC = 250;

function BrowseRoomsDialog({ onClose }) {
  const [text, setText] = useState('');
  const [found, setFound] = useState({ rooms: null, error: null, busy: true });
  const [joining, setJoining] = useState(null);
  const run = useRef(0);

  useEffect(() => {
    const n = ++run.current;
    setFound((f) => ({ ...f, busy: true }));
    const timer = setTimeout(() => {
      api.directory(text.trim()).then(
        (rooms) => { if (n === run.current) setFound({ rooms, error: null, busy: false }); },
        (error) => { if (n === run.current) setFound((f) => ({ ...f, error, busy: false })); },
      );
    }, text ? DEBOUNCE_MS : 0);
    return () => clearTimeout(timer);
  }, [text]);

  const open = (room) => {
    onClose();
    actions.go(room.id);
  };
  const join = async (room) => {
    if (joining) return;
    setJoining(room.id);
    try {
      onClose();
      await actions.joinRoom(room.id);
    } catch (error) {
      store.toast(`Could not join ${room.name}: ${describeError(error)}`);
    } finally {
      setJoining(null);
    }
  };

  const rooms = found.rooms ?? [];
  let status = '';
  if (found.rooms === null) status = 'Loading the rooms…';
  else if (!rooms.length) status = text.trim() ? `No open room is called anything like “${text.trim()}”.` : 'No room is open to everyone on this server yet.';
  else status = `${rooms.length} open room${rooms.length === 1 ? '' : 's'}.`;
  return html`<${Modal} title="Rooms" onClose=${onClose} class="browse-rooms">
    <div class="modal-body browse-body">
      <form role="search" class="browse-form" onSubmit=${(e) => e.preventDefault()}>
        <label class="visually-hidden" for="browse-input">Find a room</label>
        <input id="browse-input" type="search" autocomplete="off" autofocus maxlength="100" enterkeyhint="search"
          placeholder="Find a room…" value=${text} aria-describedby="browse-status"
          onInput=${(e) => setText(e.currentTarget.value)} />
      </form>
      <p id="browse-status" class="search-status" role="status">${status}</p>
      ${found.error ? html`<p class="form-error" role="alert">${describeError(found.error)}</p>` : null}
      ${rooms.length ? html`<ul class="room-directory" aria-label="Open rooms">
        ${rooms.map((room) => html`<li key=${room.id} class="directory-room">
          <${Avatar} name=${room.name} room size="sm" />
          <span class="directory-text" id=${`directory-${room.id}`}>
            <span class="directory-name" dir="auto">${room.name}</span>
            ${room.topic ? html`<span class="directory-topic" dir="auto">${room.topic}</span>` : null}
            <span class="directory-count">${room.member_count} member${room.member_count === 1 ? '' : 's'}</span>
          </span>
          ${room.joined
            ? html`<button type="button" class="btn small" aria-describedby=${`directory-${room.id}`} onClick=${() => open(room)}>Open</button>`
            : html`<button type="button" class="btn small primary" aria-describedby=${`directory-${room.id}`}
                disabled=${joining === room.id} onClick=${() => join(room)}>Join</button>`}
        </li>`)}
      </ul>` : null}
      <div class="modal-actions browse-actions">
        <button type="button" class="btn" onClick=${() => store.openDialog('new-room')}><${Icon} name="plus" />Create a room</button>
      </div>
    </div>
  <//>`;
}

function RoomSettingsDialog({ onClose, roomId }) {
  const chat = store.state.chats.get(roomId);
  const [name, setName] = useState(chat?.name ?? '');
  const [topic, setTopic] = useState(chat?.topic ?? '');
  const [open, setOpen] = useState(chat?.visibility === 'open');
  const { busy, error, run } = useSubmit();
  if (!chat) return null;
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      await actions.updateRoom(roomId, { name: name.trim(), topic: topic.trim() || null, visibility: open ? 'open' : 'private' });
      onClose();
    });
  };
  const left = MAX_TOPIC - [...topic].length;
  return html`<${Modal} title="Room settings" onClose=${onClose}>
    <form class="modal-body stack" onSubmit=${submit} novalidate>
      <div class="field">
        <label for="settings-name">Name</label>
        <input id="settings-name" type="text" autocomplete="off" maxlength="100" dir="auto" value=${name} autofocus
          aria-invalid=${error?.fields?.name ? 'true' : undefined} aria-describedby="settings-name-error"
          onInput=${(e) => setName(e.currentTarget.value)} />
        <${FieldError} error=${error} field="name" id="settings-name-error" />
      </div>
      <div class="field">
        <label for="settings-topic">Topic</label>
        <textarea id="settings-topic" rows="2" maxlength=${MAX_TOPIC} dir="auto" value=${topic}
          aria-invalid=${error?.fields?.topic ? 'true' : undefined} aria-describedby="settings-topic-hint settings-topic-error"
          onInput=${(e) => setTopic(e.currentTarget.value)}></textarea>
        <p class="hint" id="settings-topic-hint">Shown under the room's name. ${left < 50 ? `${left} characters left.` : 'Optional.'}</p>
        <${FieldError} error=${error} field="topic" id="settings-topic-error" />
      </div>
      <label class="check">
        <input type="checkbox" checked=${open} aria-describedby="settings-open-hint" onChange=${(e) => setOpen(e.currentTarget.checked)} />
        Open to everyone on this server
      </label>
      <p class="hint" id="settings-open-hint">${open
        ? 'Anyone with an account here can find this room in Browse rooms and join it.'
        : 'Only people the members add can see this room.'}</p>
      ${error && !Object.keys(error.fields ?? {}).length ? html`<p class="form-error" role="alert">${describeError(error)}</p>` : null}
      <div class="modal-actions">
        <button type="button" class="btn" onClick=${onClose}>Cancel</button>
        <button type="submit" class="btn primary" disabled=${busy || !name.trim()}>Save</button>
      </div>
    </form>
  <//>`;
}

registerDialog('browse-rooms', BrowseRoomsDialog);
registerDialog('room-settings', RoomSettingsDialog);
