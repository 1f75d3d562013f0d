// Notifications: the "Notifications" button of the open chat's header opens a dialog with the
// caller's level for this chat (All messages / Mentions only / Nothing, SPEC §6) and this
// device's Web Push switch. Push needs a secure context (https or localhost): on a plain http://
// address the dialog says so, and natter still notifies while it is open.
import { html, useEffect, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { Modal } from './dialog.js';
import { registerDialog } from './dialogs.js';
import { chatHeaderTools } from './chat.js';
import { describeError } from './forms.js';
import { Icon } from './icons.js';

const LEVELS = [
  ['all', 'All messages', 'Every new message.'],
  ['mentions', 'Mentions only', 'Messages that mention you (in a private chat, every message).'],
  ['none', 'Nothing', 'No notification; unread counts still show.'],
];

function LevelChoice({ chat }) {
  const [busy, setBusy] = useState(false);
  const current = chat.notify ?? 'all';
  const choose = async (level) => {
    if (busy || level === current) return;
    setBusy(true);
    try {
      await actions.setNotify(chat.id, level);
    } catch (error) {
      store.toast(`Could not change the notifications: ${describeError(error)}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<fieldset class="notify-levels" aria-busy=${busy ? 'true' : 'false'}>
    <legend>Notify me about</legend>
    ${LEVELS.map(([level, label, hint]) => html`<label key=${level} class="notify-level">
      <input type="radio" name="notify-level" value=${level} checked=${current === level}
        aria-describedby=${`notify-hint-${level}`} onChange=${() => choose(level)} />
      <span><span class="notify-label">${label}</span>
        <span class="notify-hint" id=${`notify-hint-${level}`}>${hint}</span></span>
    </label>`)}
  </fieldset>`;
}

function DevicePush() {
  const [device, setDevice] = useState({ on: null, busy: false, error: null, sent: false });
  useEffect(() => {
    if (!actions.pushOffered()) return;
    actions.pushEnabled().then((on) => setDevice((d) => ({ ...d, on })), () => setDevice((d) => ({ ...d, on: false })));
  }, []);
  if (!actions.pushOffered()) {
    return html`<section class="notify-device" aria-labelledby="notify-device-title">
      <h3 id="notify-device-title" class="notify-device-title">This device</h3>
      <p class="notify-note">Notifications when natter is closed need HTTPS. This page was opened over
        plain http, so natter can notify you only while it is open.</p>
    </section>`;
  }
  const toggle = async (on) => {
    setDevice((d) => ({ ...d, busy: true, error: null, sent: false }));
    try {
      if (on) await actions.enablePush();
      else await actions.disablePush();
      setDevice((d) => ({ ...d, on, busy: false }));
    } catch (error) {
      setDevice((d) => ({ ...d, busy: false, error: describeError(error) }));
    }
  };
  const test = async () => {
    setDevice((d) => ({ ...d, busy: true, error: null, sent: false }));
    try {
      await actions.testPush();
      setDevice((d) => ({ ...d, busy: false, sent: true }));
    } catch (error) {
      setDevice((d) => ({ ...d, busy: false, error: describeError(error) }));
    }
  };
  return html`<section class="notify-device" aria-labelledby="notify-device-title">
    <h3 id="notify-device-title" class="notify-device-title">This device</h3>
    <label class="notify-switch">
      <input type="checkbox" role="switch" checked=${Boolean(device.on)} disabled=${device.busy || device.on === null}
        onChange=${(e) => toggle(e.currentTarget.checked)} />
      Notify me on this device when natter is closed
    </label>
    <p class="notify-note">The server sends them through this browser's push service, so it needs
      internet access; on a network without it, natter notifies you only while it is open.</p>
    ${device.on ? html`<button type="button" class="btn" disabled=${device.busy} onClick=${test}>Send a test notification</button>` : null}
    <p class="notify-status" role="status">${device.sent ? 'Test notification sent.' : ''}</p>
    ${device.error ? html`<p class="form-error" role="alert">${device.error}</p>` : null}
  </section>`;
}

function NotificationsDialog({ onClose, roomId }) {
  const chat = store.state.chats.get(roomId);
  useEffect(() => { actions.loadNotify(roomId); }, [roomId]);
  if (!chat) return null;
  return html`<${Modal} title="Notifications" onClose=${onClose} class="notifications">
    <div class="modal-body">
      <${LevelChoice} chat=${chat} />
      <${DevicePush} />
    </div>
  <//>`;
}

function NotificationsButton({ chat }) {
  const level = chat.notify ?? 'all';
  const label = LEVELS.find(([l]) => l === level)?.[1] ?? 'All messages';
  return html`<button type="button" class="icon-btn" aria-label="Notifications" title=${`Notifications: ${label}`}
    aria-haspopup="dialog" onClick=${() => store.openDialog('notifications', { roomId: chat.id })}>
    <${Icon} name=${level === 'none' ? 'bell-off' : 'bell'} /></button>`;
}

registerDialog('notifications', NotificationsDialog);
chatHeaderTools.push(NotificationsButton);
