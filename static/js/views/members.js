// The members panel of a group room: who is in it and online, "Add member" and "Remove" for
// the owner, and "Leave room" for everyone.
import { html, useEffect, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { Avatar } from './avatar.js';
import { Icon } from './icons.js';
import { UserSuggest } from './user-suggest.js';
import { describeUserError, useSubmit } from './forms.js';

export function MembersPanel({ chat }) {
  const me = store.me();
  const owner = chat.owner_id === me.id;
  const [name, setName] = useState('');
  // The name the last "Add" asked for, for its answer.
  const [asked, setAsked] = useState('');
  const { busy, error, run, setError } = useSubmit();
  useEffect(() => { actions.refreshRoom(chat.id); }, [chat.id]);

  const members = [...(chat.members ?? [])].sort((a, b) =>
    (b.role === 'owner') - (a.role === 'owner') || store.isOnline(b) - store.isOnline(a) || a.username.localeCompare(b.username));

  const addNamed = (username) => {
    if (!username || busy) return;
    setAsked(username);
    run(async () => {
      await actions.addMember(chat.id, username);
      setName('');
    });
  };
  const add = (event) => {
    event.preventDefault();
    addNamed(name.trim());
  };
  // Typing another name makes the last answer about the previous one: it goes.
  const change = (value) => {
    setName(value);
    if (error) setError(null);
  };
  const remove = (m) => store.openDialog('confirm', {
    title: `Remove ${m.username}?`,
    body: `${m.username} will no longer see ${chat.name} or its messages.`,
    confirm: 'Remove',
    run: () => actions.removeMember(chat.id, m.id),
  });
  const leave = () => store.openDialog('confirm', {
    title: `Leave ${chat.name}?`,
    body: owner && members.length > 1
      ? 'You own this room: the member who joined earliest becomes its owner.'
      : members.length <= 1 ? 'You are its last member: the room and its messages will be deleted.'
      : 'You will need a member to add you again to come back.',
    confirm: 'Leave room',
    run: () => actions.leave(chat.id),
  });
  const close = () => {
    store.set({ panel: false });
    document.querySelector('.members-toggle')?.focus();
  };

  return html`<aside class="panel" id="members-panel" aria-label="Members">
    <header class="panel-head">
      <h2 class="panel-title">Members <span class="count">${members.length}</span></h2>
      <button type="button" class="icon-btn" aria-label="Close members" onClick=${close}><${Icon} name="close" /></button>
    </header>
    ${owner ? html`<form class="add-member" onSubmit=${add}>
      <label for="add-member">Add member</label>
      <div class="add-member-row">
        <${UserSuggest} id="add-member" value=${name} onChange=${change} onPick=${addNamed} invalid=${Boolean(error)}
          exclude=${members.map((m) => m.username)} placeholder="Username" />
        <button type="submit" class="btn" disabled=${busy || !name.trim()}><${Icon} name="userPlus" />Add</button>
      </div>
      ${error ? html`<p class="form-error" role="alert">${describeUserError(error, asked)}</p>` : null}
    </form>` : null}
    <ul class="member-list">
      ${members.map((m) => {
        const online = store.isOnline(m);
        return html`<li key=${m.id} class="member">
          <${Avatar} user=${m} size="sm" online=${online} />
          <span class="member-text">
            <span class="member-name" dir="auto">${store.nameOf(m)}${m.id === me.id ? html` <span class="you">(you)</span>` : null}</span>
            ${m.is_bot ? html`<span class="bot-badge">BOT</span>` : null}
            <span class="member-note">${store.hasOwnName(m) ? `@${m.username}${m.role === 'owner' || store.state.conn === 'online' ? ' · ' : ''}` : ''}${m.role === 'owner' ? 'Owner' : ''}${store.state.conn !== 'online' ? '' : `${m.role === 'owner' ? ' · ' : ''}${online ? 'online' : 'offline'}`}</span>
          </span>
          ${owner && m.id !== me.id ? html`<button type="button" class="icon-btn small" aria-label=${`Remove ${m.username}`}
            title="Remove from room" onClick=${() => remove(m)}><${Icon} name="close" /></button>` : null}
        </li>`;
      })}
    </ul>
    <footer class="panel-foot">
      <button type="button" class="btn danger-outline wide" onClick=${leave}><${Icon} name="leave" />Leave room</button>
    </footer>
  </aside>`;
}
