// The administration panel (SPEC §6), for administrators only: a button "Administration" in the
// sidebar's footer opens a dialog with the accounts ("Disable" / "Enable" for each) and the
// invites ("Create invite", which shows the link to copy or share and its QR code, and "Revoke"
// for each). It plugs into the sidebar (sidebarTools) and the dialogs (registerDialog); its
// state is its own, fetched when it opens.
import { html, useEffect, useState } from '../lib.js';
import * as api from '../api.js';
import * as store from '../store.js';
import { fullTime } from '../format.js';
import { Modal } from './dialog.js';
import { ShareLink } from './share.js';
import { registerDialog } from './dialogs.js';
import { Icon } from './icons.js';
import { Avatar } from './avatar.js';
import { sidebarTools } from './sidebar.js';
import { describeError, useSubmit } from './forms.js';

function AdminButton() {
  if (!store.me()?.is_admin) return null;
  return html`<button type="button" class="icon-btn" aria-label="Administration" title="Administration"
    onClick=${() => store.openDialog('admin')}><${Icon} name="shield" /></button>`;
}

/** A destructive button that asks first, in place (the Administration panel is itself a
 * dialog): "Disable" becomes the question with "Cancel" and the action again. `label` names
 * both buttons for screen readers ("Disable bob"); without it they are named by `action`. */
function Confirmed({ label, question, action, busy, describedBy, onConfirm }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return html`<button type="button" class="btn small danger-outline" aria-label=${label} aria-describedby=${describedBy}
      disabled=${busy} onClick=${() => setAsking(true)}>${action}</button>`;
  }
  return html`<span class="confirm-inline" role="group" aria-label=${question}>
    <span class="confirm-question">${question}</span>
    <button type="button" class="btn small" autofocus onClick=${() => setAsking(false)}>Cancel</button>
    <button type="button" class="btn small danger" aria-label=${label} disabled=${busy}
      onClick=${() => { setAsking(false); onConfirm(); }}>${action}</button>
  </span>`;
}

function Users() {
  const [users, setUsers] = useState(null);
  const { busy, error, run } = useSubmit();
  const me = store.me();
  useEffect(() => { run(async () => setUsers(await api.adminUsers()), 'load'); }, []);
  const toggle = (user) => run(async () => {
    const changed = await api.setUserDisabled(user.id, !user.disabled);
    setUsers((list) => list.map((u) => (u.id === changed.id ? changed : u)));
  }, user.id);
  return html`<section class="admin-section" aria-labelledby="admin-users">
    <h3 id="admin-users" class="admin-heading">Users ${users ? html`<span class="count">${users.length}</span>` : null}</h3>
    ${error ? html`<p class="form-error" role="alert">${describeError(error)}</p>` : null}
    ${users === null ? html`<p class="hint">${busy ? 'Loading…' : ''}</p>` : html`<ul class="admin-list">
      ${users.map((u) => html`<li key=${u.id} class=${u.disabled ? 'admin-row is-disabled' : 'admin-row'}>
        <${Avatar} user=${u} size="sm" />
        <span class="admin-row-text" id=${`admin-user-${u.id}`}>
          <span class="admin-row-name" dir="auto">${u.display_name ? html`${u.display_name} <span class="username">@${u.username}</span>` : u.username}${u.id === me.id ? html` <span class="you">(you)</span>` : null}</span>
          <span class="admin-row-note">${[u.email, u.is_admin ? 'administrator' : null, u.disabled ? 'disabled' : null]
            .filter(Boolean).join(' · ')}</span>
        </span>
        ${u.id === me.id ? null : u.disabled
          ? html`<button type="button" class="btn small" aria-label=${`Enable ${u.username}`}
              disabled=${busy === u.id} onClick=${() => toggle(u)}>Enable</button>`
          : html`<${Confirmed} label=${`Disable ${u.username}`} action="Disable" busy=${busy === u.id}
              question=${`Disable ${u.username}? They are signed out at once and cannot log in until enabled.`}
              onConfirm=${() => toggle(u)} />`}
      </li>`)}
    </ul>`}
  </section>`;
}

/** The link of a new invite: to copy, to share, and as a QR code to scan. */
function NewInvite({ invite }) {
  const uses = invite.uses_left === 1 ? 'It signs up one account' : `It signs up ${invite.uses_left} accounts`;
  return html`<div class="admin-new-invite">
    <${ShareLink} id="invite-link" label="Invite link" url=${invite.url} title="Join natter"
      hint=${`Send this link to the person you invite, or let them scan the code. ${uses} until ${fullTime(invite.expires_at)}.`} />
  </div>`;
}

const VALIDITY = [['1d', '1 day'], ['7d', '7 days'], ['30d', '30 days']];

function Invites() {
  const [invites, setInvites] = useState(null);
  const [created, setCreated] = useState(null);
  const [uses, setUses] = useState('1');
  const [valid, setValid] = useState('7d');
  const { busy, error, run } = useSubmit();
  const load = async () => setInvites(await api.adminInvites());
  useEffect(() => { run(load, 'load'); }, []);
  const create = (event) => {
    event.preventDefault();
    run(async () => {
      setCreated(await api.createInvite(Number(uses), valid));
      await load();
    }, 'create');
  };
  const revoke = (invite) => run(async () => {
    await api.revokeInvite(invite.code);
    if (created?.code === invite.code) setCreated(null);
    await load();
  }, invite.code);
  return html`<section class="admin-section" aria-labelledby="admin-invites">
    <h3 id="admin-invites" class="admin-heading">Invites ${invites ? html`<span class="count">${invites.length}</span>` : null}</h3>
    <form class="admin-invite-form" onSubmit=${create}>
      <div class="field">
        <label for="invite-uses">Uses</label>
        <input id="invite-uses" type="number" min="1" max="10000" inputmode="numeric" value=${uses}
          aria-invalid=${error?.fields?.uses ? 'true' : undefined} onInput=${(e) => setUses(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="invite-valid">Valid for</label>
        <select id="invite-valid" value=${valid} onChange=${(e) => setValid(e.currentTarget.value)}>
          ${VALIDITY.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select>
      </div>
      <button type="submit" class="btn primary" disabled=${busy === 'create'}><${Icon} name="plus" />Create invite</button>
    </form>
    ${error ? html`<p class="form-error" role="alert">${describeError(error)}</p>` : null}
    ${created ? html`<${NewInvite} invite=${created} />` : null}
    ${invites?.length ? html`<ul class="admin-list">
      ${invites.map((i) => html`<li key=${i.code} class="admin-row">
        <span class="admin-row-text" id=${`admin-invite-${i.code}`}>
          <span class="admin-row-name"><code>${i.code.slice(0, 8)}…</code></span>
          <span class="admin-row-note">${i.uses_left === 1 ? '1 use left' : `${i.uses_left} uses left`} · until ${fullTime(i.expires_at)}</span>
        </span>
        <${Confirmed} action="Revoke" busy=${busy === i.code} describedBy=${`admin-invite-${i.code}`}
          question="Revoke this invite? Its link stops working at once." onConfirm=${() => revoke(i)} />
      </li>`)}
    </ul>` : invites ? html`<p class="hint">No usable invites.</p>` : null}
  </section>`;
}

function AdminDialog({ onClose }) {
  return html`<${Modal} title="Administration" onClose=${onClose} class="admin">
    <div class="modal-body admin-body">
      <${Users} />
      <${Invites} />
    </div>
  <//>`;
}

sidebarTools.push(AdminButton);
registerDialog('admin', AdminDialog);
