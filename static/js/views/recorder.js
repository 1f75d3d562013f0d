// "Record voice message": where the browser offers a microphone (a secure context with
// MediaRecorder), records Opus audio (WebM, else Ogg: both on the server's allow-list), shows
// the elapsed time with "Stop" (sends it) and "Cancel" (drops it), and sends it as an attachment
// that plays inline. Elsewhere the button is absent.
import { html, useEffect, useRef, useState } from '../lib.js';
import * as actions from '../actions.js';
import * as store from '../store.js';
import { Icon } from './icons.js';

const TYPES = [['audio/webm;codecs=opus', 'webm'], ['audio/ogg;codecs=opus', 'ogg'], ['audio/webm', 'webm']];

export const canRecord = () => Boolean(window.isSecureContext && navigator.mediaDevices?.getUserMedia && window.MediaRecorder);

const clock = (ms) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export function VoiceRecorder({ chat }) {
  const [recording, setRecording] = useState(null); // {recorder, stream, started, chunks, ext, keep}
  const [now, setNow] = useState(0);
  const stopButton = useRef(null);
  useEffect(() => {
    if (!recording) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 250);
    stopButton.current?.focus();
    return () => clearInterval(timer);
  }, [recording]);
  useEffect(() => () => recording?.stream.getTracks().forEach((t) => t.stop()), [recording]);
  if (!canRecord()) return null;

  const start = async () => {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      store.toast('The microphone is not available.');
      return;
    }
    const [mimeType, ext] = TYPES.find(([type]) => MediaRecorder.isTypeSupported(type)) ?? ['', 'webm'];
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    const session = { recorder, stream, started: Date.now(), chunks: [], ext, keep: false };
    recorder.ondataavailable = (e) => { if (e.data.size) session.chunks.push(e.data); };
    recorder.onstop = async () => {
      stream.getTracks().forEach((t) => t.stop());
      setRecording(null);
      if (!session.keep || !session.chunks.length) return;
      const type = (recorder.mimeType || mimeType || `audio/${ext}`).split(';')[0];
      const file = new File(session.chunks, `voice-message.${ext}`, { type });
      try {
        const attachment = await actions.uploadFile(file);
        actions.send(chat.id, '', attachment, store.state.replyTo.get(chat.id) ?? null);
      } catch (error) {
        store.toast(`The voice message could not be sent: ${error.message || 'upload failed'}`);
      }
      document.getElementById('composer-input')?.focus();
    };
    recorder.start(1000);
    setNow(Date.now());
    setRecording(session);
  };
  const finish = (keep) => {
    if (!recording) return;
    recording.keep = keep;
    recording.recorder.stop();
  };

  if (!recording) {
    return html`<button type="button" class="icon-btn" aria-label="Record voice message" title="Record voice message"
      onClick=${start}><${Icon} name="mic" /></button>`;
  }
  const elapsed = clock(Math.max(0, now - recording.started));
  return html`<div class="recorder" role="group" aria-label="Recording a voice message">
    <span class="recorder-dot" aria-hidden="true"></span>
    <span class="recorder-time" role="timer" aria-label=${`Recording, ${elapsed}`}>${elapsed}</span>
    <button type="button" class="btn primary" ref=${stopButton} onClick=${() => finish(true)}><${Icon} name="stop" />Stop</button>
    <button type="button" class="btn" onClick=${() => finish(false)}>Cancel</button>
  </div>`;
}
