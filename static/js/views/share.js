// Sharing a link with people in the same room: the link to copy, Share where the browser has
// it (phones), and a QR code to scan. The QR code is drawn here as SVG from the
// module matrix of lean-qr (vendored), so it needs no canvas, no inline style and no server.
// Also the "Invite people" dialog of the empty state: this server's address, or for
// administrators on an invite-only server, the Administration panel's invites.
import { html, useEffect, useMemo, useRef, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { generate } from '../../vendor/lean-qr.mjs';
import { Modal } from './dialog.js';
import { registerDialog } from './dialogs.js';

/** Modules of light margin around the code (the standard's quiet zone). */
const QUIET = 4;

/** `text` as a QR code: black modules on white whatever the theme (cameras need the contrast). */
export function QrCode({ text, label }) {
  const drawing = useMemo(() => {
    try {
      const code = generate(text);
      let d = '';
      for (let y = 0; y < code.size; y++) {
        for (let x = 0; x < code.size; x++) if (code.get(x, y)) d += `M${x + QUIET} ${y + QUIET}h1v1h-1z`;
      }
      return { d, size: code.size + 2 * QUIET };
    } catch {
      return null; // Too long for a QR code: the link alone will do.
    }
  }, [text]);
  if (!drawing) return null;
  const { d, size } = drawing;
  return html`<svg class="qr" viewBox=${`0 0 ${size} ${size}`} role="img" aria-label=${label}
    shape-rendering="crispEdges" data-modules=${size - 2 * QUIET}>
    <rect width=${size} height=${size} fill="#fff" />
    <path d=${d} fill="#000" />
  </svg>`;
}

/** Copy `text`: the Clipboard API where the browser gives it (secure contexts), else the
 * selected field and the older copy command, which plain-http LAN addresses still allow. */
async function copyText(text, field) {
  field?.select();
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

/** A link to hand over: read-only field, "Copy link", "Share" (where navigator.share exists)
 * and its QR code. `hint` says what the link does. */
export function ShareLink({ id, label, url, hint, title }) {
  const field = useRef(null);
  const [said, setSaid] = useState(null);
  const copy = async () => setSaid(await copyText(url, field.current) ? 'Copied.' : 'The link is selected: press Ctrl+C (⌘C) to copy it.');
  const share = async () => {
    try {
      await navigator.share({ title, url });
    } catch {
      // Cancelled, or nothing to share to: the other ways are right there.
    }
  };
  return html`<div class="share-link">
    <div class="field">
      <label for=${id}>${label}</label>
      <div class="share-row">
        <input id=${id} ref=${field} type="text" readonly value=${url} aria-describedby=${`${id}-hint`}
          onFocus=${(e) => e.currentTarget.select()} />
        <button type="button" class="btn" onClick=${copy}>Copy link</button>
        ${typeof navigator.share === 'function' ? html`<button type="button" class="btn" onClick=${share}>Share</button>` : null}
      </div>
      <p class="hint" id=${`${id}-hint`} role="status">${said ?? hint}</p>
    </div>
    <figure class="share-qr">
      <${QrCode} text=${url} label=${`QR code of ${url}`} />
      <figcaption class="hint">Scan with a phone's camera to open the link.</figcaption>
    </figure>
  </div>`;
}

/** Who may sign up on this server (`open`, `invite`, `closed`), once known. */
export function useRegistration() {
  const [registration, setRegistration] = useState(null);
  useEffect(() => {
    let live = true;
    actions.serverInfo().then((info) => { if (live && info) setRegistration(info.registration); });
    return () => { live = false; };
  }, []);
  return registration;
}

/** Whether this page was opened at an address only this machine can open (localhost). */
const onLoopback = () => /^(localhost|.*\.localhost|127(\.\d+){3}|\[::1\])$/i.test(location.hostname);

/** The address people open to join: where this page came from, without the chat in the hash;
 * on a loopback address (no phone can open it), the address natter printed at start (its
 * `--public-url` or LAN address, from /healthz), or null when only this machine can reach it. */
export function serverAddress(info) {
  const here = `${location.origin}${location.pathname}`;
  if (!onLoopback()) return here;
  return info?.share_url ? `${info.share_url.replace(/\/$/, '')}/` : null;
}

function InvitePeopleDialog({ onClose }) {
  const [info, setInfo] = useState(undefined);
  useEffect(() => { actions.serverInfo().then(setInfo); }, []);
  const address = info === undefined && onLoopback() ? undefined : serverAddress(info);
  return html`<${Modal} title="Invite people" onClose=${onClose}>
    <div class="modal-body">
      ${address === undefined ? html`<p class="hint">Looking up this server's address…</p>`
        : address ? html`<${ShareLink} id="server-address" label="Address of this server" url=${address} title="natter"
            hint=${onLoopback()
              ? 'The address natter printed when it started: anyone on your network who opens it can create an account and join.'
              : 'Anyone on your network who opens this address can create an account and join.'} />`
        : html`<p class="notice" role="status">Only this computer can open natter now: it is bound to a loopback
            address, or this machine is on no network. Start it with <code>--bind 0.0.0.0:8000</code> (or give
            <code>--public-url</code>) and open the address it prints, then invite people from there.</p>`}
    </div>
  <//>`;
}

/** What "Invite people" does here: null when this user cannot invite anyone (sign-up closed,
 * or invite-only and not an administrator). */
export function inviteAction(registration) {
  const admin = store.me()?.is_admin;
  if (registration === 'open') return () => store.openDialog('invite-people');
  if (registration === 'invite' && admin) return () => store.openDialog('admin');
  return null;
}

/** Whether the one-pane (phone) layout is on: app.css's breakpoint. */
const PHONE = '(max-width: 760px)';
function usePhoneLayout() {
  const [phone, setPhone] = useState(() => matchMedia(PHONE).matches);
  useEffect(() => {
    const query = matchMedia(PHONE);
    const update = () => setPhone(query.matches);
    query.addEventListener('change', update);
    return () => query.removeEventListener('change', update);
  }, []);
  return phone;
}

/** The empty state of a phone's chat list (one pane at a time, so the Welcome pane is not
 * there): the same first steps. Not rendered on wider screens, where the Welcome pane has them. */
export function FirstSteps() {
  const phone = usePhoneLayout();
  const invite = inviteAction(useRegistration());
  if (!phone) return null;
  const admin = Boolean(store.me()?.is_admin);
  return html`<div class="first-steps">
    <p>${admin ? 'No chats yet. Create a room for your people, then invite them.'
      : 'You are not in any chat yet. See which rooms are open on this server, or start a private chat.'}</p>
    <div class="first-steps-actions">
      ${admin ? null : html`<button type="button" class="btn primary" onClick=${() => store.openDialog('browse-rooms')}>Browse rooms</button>`}
      <button type="button" class=${admin ? 'btn primary' : 'btn'} onClick=${() => store.openDialog('new-room')}>Create a room</button>
      ${invite ? html`<button type="button" class="btn" onClick=${invite}>Invite people</button>` : null}
    </div>
  </div>`;
}

registerDialog('invite-people', InvitePeopleDialog);
