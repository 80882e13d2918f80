// Text helpers: dates and times in the reader's locale, character counts, and safe links.

import { h } from './dom.js';

const URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });

export function time(iso) {
  return timeFmt.format(new Date(iso));
}

export function full(iso) {
  return fullFmt.format(new Date(iso));
}

/** A key that is equal for two instants on the same local calendar day. */
export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday", "Monday, March 3" or "March 3, 2024". */
export function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const start = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((start(today) - start(d)) / 86400000);
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Yesterday';
  if (d.getFullYear() === today.getFullYear()) return dayFmt.format(d);
  return dayYearFmt.format(d);
}

/** Minutes between two ISO instants. */
export function minutesBetween(a, b) {
  return Math.abs(new Date(b) - new Date(a)) / 60000;
}

/** Length in Unicode scalar values, as the server counts `max_body_chars`. */
export function charCount(s) {
  let n = 0;
  for (const _ of s) n++; // eslint-disable-line no-unused-vars
  return n;
}

/** Splits text into text nodes and http(s) links; everything stays text, never markup. */
export function linkify(body) {
  const out = [];
  let last = 0;
  for (const match of body.matchAll(URL_RE)) {
    if (match.index > last) out.push(body.slice(last, match.index));
    out.push(h('a', { href: match[0], target: '_blank', rel: 'noopener noreferrer nofollow', text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < body.length) out.push(body.slice(last));
  return out;
}

const relFmt = typeof Intl.RelativeTimeFormat === 'function' ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null;

/** "last seen 5 minutes ago", "last seen yesterday at 14:02", or "offline" when unknown. */
export function lastSeen(iso) {
  if (!iso) return 'offline';
  const then = new Date(iso);
  const mins = Math.max(0, Math.round((Date.now() - then) / 60000));
  if (mins < 1) return 'last seen just now';
  if (mins < 60 && relFmt) return `last seen ${relFmt.format(-mins, 'minute')}`;
  const day = dayLabel(iso);
  if (day === 'Today') return `last seen today at ${time(iso)}`;
  if (day === 'Yesterday') return `last seen yesterday at ${time(iso)}`;
  return `last seen ${day}`;
}
