// Message text into vnodes, never markup: every piece of user text ends up as a string child
// (a text node). Supported: ```code blocks```, `inline code`, links (http, https and mailto
// only, checked with new URL(); Slack's `<url|text>` and `<url>` from bots' hooks too), **strong**, *emphasis* and _emphasis_, and the @mentions the
// server found (highlighted). Plus time, day and size formatting.

import { h } from './lib.js';

const FENCE = /```([^\n`]*)\n?([\s\S]*?)```/g;
const CODE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g;
const SLACK_LINK = /<((?:https?:\/\/|mailto:)[^\s<>|]+)(?:\|([^<>\n]*))?>/gi;
const LINK = /\b(?:https?:\/\/|mailto:)[^\s<>"'`]+/gi;
const EMPHASIS =
  /(?<![\p{L}\p{N}*])\*\*(?=\S)([^*]+?)(?<=\S)\*\*(?![\p{L}\p{N}*])|(?<![\p{L}\p{N}*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\p{L}\p{N}*])|(?<![\p{L}\p{N}_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\p{L}\p{N}_])/gu;
const ALLOWED_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** Split `text` by `re`: matches through `make`, the text between through `rest`. */
function splitBy(text, re, make, rest) {
  const out = [];
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(...rest(text.slice(last, m.index)));
    out.push(...make(m));
    last = re.lastIndex;
  }
  if (last < text.length) out.push(...rest(text.slice(last)));
  return out;
}

// Each step below takes `plain`, the last one: what becomes of text that is nothing else (its
// @mentions highlighted, see plainText). It depends on the message, so it is passed down.

const emphasis = (text, plain) =>
  splitBy(text, EMPHASIS, (m) => [m[1] != null ? h('strong', null, m[1]) : h('em', null, m[2] ?? m[3])], plain);

/** A link only when URL parsing agrees it is http, https or mailto; trailing punctuation (and
 * an unbalanced closing bracket) stays outside the link. */
function link(m, plain) {
  let text = m[0];
  let tail = '';
  for (;;) {
    const c = text[text.length - 1];
    if ('.,;:!?\'"*_'.includes(c) || (c === ')' && count(text, '(') < count(text, ')'))
        || (c === ']' && count(text, '[') < count(text, ']'))) {
      tail = c + tail;
      text = text.slice(0, -1);
    } else break;
  }
  let url = null;
  try { url = new URL(text); } catch { url = null; }
  if (!url || !ALLOWED_PROTOCOLS.has(url.protocol) || text.length <= url.protocol.length + 2) {
    return [...emphasis(text + tail, plain)];
  }
  const a = h('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer' }, text);
  return tail ? [a, ...emphasis(tail, plain)] : [a];
}

/** Slack's link markup, as tools written for Slack and Mattermost send it to a bot's hook:
 * `<url|text>` shows `text`, `<url>` the address; the same protocols as any link, else the
 * markup stays as it was typed. */
function slackLink(m, plain) {
  let url = null;
  try { url = new URL(m[1]); } catch { url = null; }
  if (!url || !ALLOWED_PROTOCOLS.has(url.protocol)) return [...emphasis(m[0], plain)];
  return [h('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer' }, m[2]?.trim() || m[1])];
}

const count = (text, c) => text.split(c).length - 1;
const bareLinks = (text, plain) => splitBy(text, LINK, (m) => link(m, plain), (t) => emphasis(t, plain));
const links = (text, plain) => splitBy(text, SLACK_LINK, (m) => slackLink(m, plain), (t) => bareLinks(t, plain));
const inline = (text, plain) => splitBy(text, CODE, (m) => [h('code', null, m[2])], (t) => links(t, plain));

const escapeRe = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `@name` of each of `names` (the usernames a message mentions), not inside a longer name or
 * an address. */
function mentionRegExp(names) {
  if (!names.length) return null;
  const alternatives = [...names].sort((a, b) => b.length - a.length).map(escapeRe).join('|');
  return new RegExp(`(?<![A-Za-z0-9_.\\-@])@(${alternatives})(?![A-Za-z0-9_]|[.-][A-Za-z0-9_])`, 'gi');
}

/** Plain text with the `mentions` (usernames) highlighted, `me` (the reader's) more. */
function plainText(mentions, me) {
  const pattern = mentionRegExp(mentions);
  if (!pattern) return (text) => [text];
  const myName = me.toLowerCase();
  const mention = (m) => [h('span', { class: m[1].toLowerCase() === myName ? 'mention mention-me' : 'mention' }, m[0])];
  return (text) => splitBy(text, pattern, mention, (t) => [t]);
}

/** The content of a message as an array of vnodes (strings and elements); `mentions` are the
 * usernames it mentions, and `me` the reader's (highlighted more). */
export function formatText(text, mentions = [], me = '') {
  const plain = plainText(mentions, me);
  const out = [];
  let last = 0;
  FENCE.lastIndex = 0;
  for (let m = FENCE.exec(text); m; m = FENCE.exec(text)) {
    // The line breaks around a fence belong to the block, not to the text beside it.
    out.push(...inline(text.slice(last, m.index).replace(/\n$/, ''), plain));
    out.push(h('pre', { class: 'code-block' }, h('code', null, m[2].replace(/\n$/, ''))));
    last = FENCE.lastIndex;
    if (text[last] === '\n') last++;
  }
  out.push(...inline(text.slice(last), plain));
  return out.filter((part) => part !== '');
}

/** A message of one to three emoji and nothing else is shown large. */
export function isJumboEmoji(text) {
  const t = text.trim();
  if (!t || t.length > 32) return false;
  if (!/^(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}|[\u200d\ufe0f\u20e3\s])+$/u.test(t)) return false;
  const pictographs = t.match(/\p{Extended_Pictographic}|\p{Regional_Indicator}{2}/gu) ?? [];
  return pictographs.length > 0 && pictographs.length <= 3;
}

/** A one-line preview for the chat list and notifications. */
export function preview(message) {
  if (!message) return '';
  const text = (message.content || '').replace(/```[\s\S]*?```/g, '[code]').replace(/\s+/g, ' ').trim();
  if (text) return text;
  if (message.attachment) return `📎 ${message.attachment.filename}`;
  return '';
}

// ---- time ----

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dayYearFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
const shortDayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export const time = (iso) => timeFormat.format(new Date(iso));
export const fullTime = (iso) => fullFormat.format(new Date(iso));
export const dayKey = (iso) => new Date(iso).toDateString();

const startOfDay = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();

/** "Today", "Yesterday", "Monday, November 24" (with the year when it is not this year). */
export function dayLabel(iso) {
  const d = new Date(iso);
  const now = new Date();
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return (d.getFullYear() === now.getFullYear() ? dayFormat : dayYearFormat).format(d);
}

/** Chat list time: the time today, "Yesterday", else a short date. */
export function listTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const days = Math.round((startOfDay(new Date()) - startOfDay(d)) / 86400000);
  if (days === 0) return timeFormat.format(d);
  if (days === 1) return 'Yesterday';
  return shortDayFormat.format(d);
}

/** "5 minutes ago", "yesterday". */
export function ago(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return 'just now';
}

export function fileSize(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function initials(name) {
  const parts = String(name || '?').split(/[\s._-]+/).filter(Boolean);
  const first = parts[0] ?? '?';
  const letters = parts.length > 1 ? [first, parts[1]].map((p) => [...p][0]) : [...first].slice(0, 2);
  return letters.join('').toUpperCase();
}

/** One of the avatar colours (app.css: .av-0 … .av-7), stable per name. */
export function colorIndex(name) {
  let hash = 0;
  for (const c of String(name)) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return hash % 8;
}
