// A person's or room's avatar: initials on a colour picked from the name, with an optional
// presence dot. Decorative: the name is always written next to it.
import { html, cls } from '../lib.js';
import { colorIndex, initials } from '../format.js';
import { Icon } from './icons.js';

// The initials are drawn by CSS from data-initials, so they are not text: they stay out of
// copied text and of the names of the links and messages around them.
export function Avatar({ name, size = 'md', online, room }) {
  return html`<span class=${cls('avatar', `avatar-${size}`, room ? 'avatar-room' : `av-${colorIndex(name)}`)} aria-hidden="true"
    data-initials=${room ? undefined : initials(name)}>
    ${room ? html`<${Icon} name="hash" />` : null}
    ${online === undefined ? null : html`<span class=${cls('presence', online && 'online')} />`}
  </span>`;
}
