// Inline SVG icons (drawn for natter, 24×24, stroke in currentColor). Always decorative: the
// button or link around an icon carries the accessible name.
import { html, cls } from '../lib.js';

const paths = {
  plus: 'M12 5v14M5 12h14',
  hash: 'M5 9h15M4 15h15M10 4 8 20M16 4l-2 16',
  users: 'M9 11.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7ZM2.5 20a6.5 6.5 0 0 1 13 0M16 4.8a3.5 3.5 0 0 1 0 6.4M18 14.2a6.5 6.5 0 0 1 3.5 5.8',
  send: 'M4 12 3 4l18 8-18 8 1-8Zm0 0h8',
  clip: 'm20 11.5-8.3 8.3a5.1 5.1 0 0 1-7.2-7.2l8.7-8.7a3.4 3.4 0 0 1 4.8 4.8l-8.7 8.7a1.7 1.7 0 0 1-2.4-2.4l8-8',
  back: 'M19 12H5m6 6-6-6 6-6',
  close: 'M6 6l12 12M18 6 6 18',
  edit: 'M4 20h4L19 9a2.8 2.8 0 0 0-4-4L4 16v4Zm9.5-13.5 4 4',
  trash: 'M4 7h16M10 11v6m4-6v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V5a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2',
  logout: 'M10 4H6a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h4m5-12 4 4-4 4m4-4H9',
  bell: 'M6 16v-5a6 6 0 1 1 12 0v5l1.5 2h-15L6 16Zm4 4a2 2 0 0 0 4 0',
  'bell-off': 'M6 16v-5a6 6 0 1 1 12 0v5l1.5 2h-15L6 16Zm4 4a2 2 0 0 0 4 0M4 4l16 16',
  search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14Zm9 2-4-4',
  down: 'M12 5v14m-6-6 6 6 6-6',
  file: 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8l-5-5Zm0 0v5h5',
  download: 'M12 4v11m-5-5 5 5 5-5M5 20h14',
  retry: 'M4 12a8 8 0 1 0 2.4-5.7M4 4v5h5',
  chat: 'M5 5h14a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1h-8l-5 4v-4H5a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1Z',
  userPlus: 'M10 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8ZM3 21a7 7 0 0 1 11.5-5.4M19 14v6m-3-3h6',
  leave: 'M14 4h4a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-4M9 8l-4 4 4 4m-4-4h11',
  shield: 'M12 3 5 6v5c0 4.6 3 8.4 7 10 4-1.6 7-5.4 7-10V6l-7-3Zm-3 9 2 2 4-4',
  external: 'M14 4h6v6m0-6-9 9M18 14v4a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h4',
  reply: 'M10 9 5 13.5l5 4.5M5 13.5h9a5 5 0 0 0 5-5V5',
  smile: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Zm-3.5-7a4.2 4.2 0 0 0 7 0M9 9.5v.5m6-.5v.5',
  settings: 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm7.4-1.5 1.6 1.2-2 3.4-1.9-.7a7.6 7.6 0 0 1-2.1 1.2L14.7 21h-4l-.4-2a7.6 7.6 0 0 1-2-1.2l-2 .7-2-3.4 1.6-1.3a7.7 7.7 0 0 1 0-2.4L4.3 10.1l2-3.4 2 .7a7.6 7.6 0 0 1 2-1.2l.4-2.2h4l.3 2.2a7.6 7.6 0 0 1 2.1 1.2l1.9-.7 2 3.4-1.6 1.3a7.7 7.7 0 0 1 0 2.1Z',
  user: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8Zm-7 8a7 7 0 0 1 14 0',
  mic: 'M12 15a3 3 0 0 0 3-3V6a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3Zm-6-3a6 6 0 0 0 12 0m-6 6v3',
  stop: 'M7 7h10v10H7z',
  compass: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Zm4.2-13.2-2.6 5.8-5.8 2.6 2.6-5.8 5.8-2.6Z',
};

export function Icon({ name, class: extra }) {
  return html`<svg class=${cls('icon', extra)} viewBox="0 0 24 24" aria-hidden="true" focusable="false"
    fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
    <path d=${paths[name]} /></svg>`;
}

/** The natter mark: a speech bubble on an indigo tile (the same drawing as icons/icon.svg). */
export function Logo({ size = 32 }) {
  return html`<svg class="logo" width=${size} height=${size} viewBox="0 0 64 64" aria-hidden="true" focusable="false">
    <rect width="64" height="64" rx="16" class="logo-tile" />
    <path d="M17 18h30a5 5 0 0 1 5 5v15a5 5 0 0 1-5 5H30l-10 8v-8h-3a5 5 0 0 1-5-5V23a5 5 0 0 1 5-5Z" class="logo-bubble" />
    <circle cx="24" cy="30.5" r="3" class="logo-dot" /><circle cx="32" cy="30.5" r="3" class="logo-dot" /><circle cx="40" cy="30.5" r="3" class="logo-dot" />
  </svg>`;
}
