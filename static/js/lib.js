// The view library in one place: Preact + hooks + htm (tagged templates instead of JSX, so no
// build step). htm turns every interpolated value into a text node or a property, never into
// markup, so user content stays text.
import { h, render, Fragment, Component } from '../vendor/preact.mjs';
import {
  useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useReducer, useId,
} from '../vendor/hooks.mjs';
import htm from '../vendor/htm.mjs';

export const html = htm.bind(h);
export {
  h, render, Fragment, Component,
  useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useReducer, useId,
};

/** A component that re-renders only when one of its props changed identity (React's memo). */
export function memo(fn) {
  class Memo extends Component {
    shouldComponentUpdate(next) {
      for (const k in next) if (next[k] !== this.props[k]) return true;
      for (const k in this.props) if (!(k in next)) return true;
      return false;
    }
    render(props) { return h(fn, props); }
  }
  Memo.displayName = `memo(${fn.name})`;
  return Memo;
}

/** `a b c` from truthy entries: cls('msg', own && 'own'). */
export const cls = (...names) => names.filter(Boolean).join(' ');

/** A random id: crypto.randomUUID where the browser gives it (secure contexts only), else
 * 122 random bits from getRandomValues, else Math.random (very old browsers). */
export function randomId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** localStorage that never throws (private modes, full quota, disabled storage). */
export const storage = {
  get(key, fallback = null) {
    try { const v = localStorage.getItem(key); return v == null ? fallback : JSON.parse(v); } catch { return fallback; }
  },
  set(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* full or disabled: keep going */ }
  },
  remove(key) {
    try { localStorage.removeItem(key); } catch { /* disabled */ }
  },
};

/** Phones and tablets: no hover, coarse pointer (no auto-focus that would pop the keyboard). */
export const isTouch = () => matchMedia('(hover: none) and (pointer: coarse)').matches;
