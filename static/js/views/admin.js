// The administration panel (SPEC §6), for administrators only: a button "Administration" in the
// sidebar's footer opens a dialog with the accounts ("Disable" / "Enable" for each), the
// invites ("Create invite", which shows the link to copy or share and its QR code, and "Revoke"
// for each) and the bots ("Create bot", which shows the hook URL with a ready curl line, and
// "New token" / "Delete" for each, both asked first). It plugs into the sidebar (sidebarTools) and the dialogs (registerDialog); its
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

/** A ready command line that posts as the bot: what a script or a cron job runs. Single quotes
 * around the JSON, so a shell takes it as it is. */
const curlLine = (bot) =>
  `curl -X POST -H 'Content-Type: application/json' -d '{"text": "Hello from ${bot.username}"${bot.room_id ? '' : ', "channel": "general"'}}' ${bot.hook_url}`;

/** The hook URL and curl line of a bot just created or given a new token. */
function BotHook({ bot }) {
  return html`<div class="admin-new-bot">
    <div class="field">
      <label for="bot-hook-url">Hook URL of ${bot.username}</label>
      <input id="bot-hook-url" class="mono" readonly value=${bot.hook_url} onFocus=${(e) => e.currentTarget.select()} />
    </div>
    <div class="field">
      <label for="bot-curl">Try it with curl</label>
      <textarea id="bot-curl" class="mono" readonly rows="3" onFocus=${(e) => e.currentTarget.select()}>${curlLine(bot)}</textarea>
    </div>
    <p class="hint">Add ${bot.username} to a room like anyone, then post to the URL: JSON <code>{"text", "channel"}</code> as Slack and
      Mattermost take it. Keep the URL secret: it is the bot's password.</p>
  </div>`;
}

function Bots() {
  const [bots, setBots] = useState(null);
  const [shown, setShown] = useState(null);
  const [name, setName] = useState('');
  const [webhook, setWebhook] = useState('');
  const { busy, error, run } = useSubmit();
  const load = async () => setBots(await api.adminBots());
  useEffect(() => { run(load, 'load'); }, []);
  const create = (event) => {
    event.preventDefault();
    run(async () => {
      setShown(await api.createBot(name.trim(), webhook.trim()));
      setName('');
      setWebhook('');
      await load();
    }, 'create');
  };
  const rotate = (bot) => run(async () => {
    setShown(await api.rotateBotToken(bot.id));
    await load();
  }, bot.id);
  const remove = (bot) => run(async () => {
    await api.deleteBot(bot.id);
    if (shown?.id === bot.id) setShown(null);
    await load();
  }, bot.id);
  return html`<section class="admin-section" aria-labelledby="admin-bots">
    <h3 id="admin-bots" class="admin-heading">Bots ${bots ? html`<span class="count">${bots.length}</span>` : null}</h3>
    <form class="admin-invite-form" onSubmit=${create}>
      <div class="field">
        <label for="bot-name">Bot name</label>
        <input id="bot-name" required minlength="3" maxlength="32" pattern="[A-Za-z0-9_.\-]+" autocomplete="off"
          value=${name} aria-invalid=${error?.fields?.name ? 'true' : undefined} onInput=${(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="bot-webhook">Webhook URL (optional)</label>
        <input id="bot-webhook" type="url" placeholder="http://192.168.1.20:8123/natter" autocomplete="off" value=${webhook}
          aria-invalid=${error?.fields?.webhook_url ? 'true' : undefined} onInput=${(e) => setWebhook(e.currentTarget.value)} />
      </div>
      <button type="submit" class="btn primary" disabled=${busy === 'create'}><${Icon} name="plus" />Create bot</button>
    </form>
    ${error ? html`<p class="form-error" role="alert">${describeError(error)}</p>` : null}
    ${shown ? html`<${BotHook} bot=${shown} />` : null}
    ${bots?.length ? html`<ul class="admin-list">
      ${bots.map((b) => html`<li key=${b.id} class="admin-row">
        <span class="admin-row-text" id=${`admin-bot-${b.id}`}>
          <span class="admin-row-name" dir="auto">${b.username} <span class="bot-badge">BOT</span></span>
          <span class="admin-row-note" dir="auto">${b.webhook_url ? `calls ${b.webhook_url}` : 'no webhook'}</span>
        </span>
        <button type="button" class="btn small" aria-label=${`Show hook URL of ${b.username}`}
          onClick=${() => setShown(b)}>Hook URL</button>
        <${Confirmed} label=${`New token for ${b.username}`} action="New token" busy=${busy === b.id}
          question=${`Give ${b.username} a new token? Its current hook URL stops working at once.`} onConfirm=${() => rotate(b)} />
        <${Confirmed} label=${`Delete ${b.username}`} action="Delete" busy=${busy === b.id}
          question=${`Delete ${b.username}? Its hook URL stops working; its messages stay.`} onConfirm=${() => remove(b)} />
      </li>`)}
    </ul>` : bots ? html`<p class="hint">No bots yet.</p>` : null}
  </section>`;
}

function AdminDialog({ onClose }) {
  return html`<${Modal} title="Administration" onClose=${onClose} class="admin">
    <div class="modal-body admin-body">
      <${Users} />
      <${Invites} />
      <${Bots} />
    </div>
  <//>`;
}

sidebarTools.push(AdminButton);
registerDialog('admin', AdminDialog);
