// A person's or room's avatar: their picture when they have one, else initials on a colour
// picked from the name, with an optional presence dot. Decorative: the name is always written
// next to it.
import { html, cls } from '../lib.js';
import { colorIndex, initials } from '../format.js';
import { url } from '../api.js';
import { avatarOf, nameOf } from '../store.js';
import { Icon } from './icons.js';

// The initials are drawn by CSS from data-initials, so they are not text: they stay out of
// copied text and of the names of the links and messages around them. `user` (a UserPublic, a
// sender, a member) gives the name and the picture, newest known first.
export function Avatar({ name, user, size = 'md', online, room }) {
  const shown = user ? nameOf(user) : name;
  const picture = !room && user ? avatarOf(user) : null;
  return html`<span class=${cls('avatar', `avatar-${size}`, room ? 'avatar-room' : `av-${colorIndex(user?.username ?? shown)}`, picture && 'has-picture')} aria-hidden="true"
    data-initials=${room || picture ? undefined : initials(shown)}>
    ${room ? html`<${Icon} name="hash" />` : null}
    ${picture ? html`<img class="avatar-picture" src=${url(picture.replace(/^\//, ''))} alt="" decoding="async" />` : null}
    ${online === undefined ? null : html`<span class=${cls('presence', online && 'online')} />`}
  </span>`;
}
