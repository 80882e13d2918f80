// Tiny DOM helpers. Every string child becomes a Text node, so user data is never parsed as
// HTML. There is deliberately no way to set innerHTML through these helpers.

/**
 * Builds an element.
 * @param {string} tag  tag name, optionally with `.class` suffixes: `button.btn.primary`
 * @param {object|null} props  `class`, `text`, `dataset`, `on` (event map), `testid`,
 *   `hidden`, `disabled`, `value`, `checked`; any other key is set as an attribute.
 * @param {...(Node|string|number|null|false|Array)} children
 */
export function h(tag, props, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name);
  if (classes.length) el.classList.add(...classes);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    switch (key) {
      case 'class':
        for (const c of String(value).split(/\s+/)) if (c) el.classList.add(c);
        break;
      case 'text':
        el.textContent = String(value);
        break;
      case 'dataset':
        Object.assign(el.dataset, value);
        break;
      case 'testid':
        el.dataset.testid = value;
        break;
      case 'on':
        for (const [evt, fn] of Object.entries(value)) el.addEventListener(evt, fn);
        break;
      case 'hidden':
      case 'disabled':
      case 'checked':
      case 'required':
      case 'autofocus':
        el[key] = Boolean(value);
        break;
      case 'value':
        el.value = value;
        break;
      default:
        if (/^on/i.test(key) || key === 'style') {
          throw new Error(`refusing to set ${key} as an attribute`);
        }
        el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings as text, arrays flattened; null/false skipped). */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces all children of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Shorthand for document.querySelector. */
export const $ = (sel, root = document) => root.querySelector(sel);

/** An inline SVG icon drawn from a fixed path set (no user data involved). */
const ICONS = {
  menu: 'M4 6h16M4 12h16M4 18h16',
  plus: 'M12 5v14M5 12h14',
  hash: 'M5 9h14M5 15h14M10 4l-2 16M16 4l-2 16',
  lock: 'M7 11V8a5 5 0 0 1 10 0v3M6 11h12v9H6z',
  send: 'M4 12l16-8-6 16-2-7z',
  search: 'M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14M20 20l-4-4',
  user: 'M12 12a4 4 0 1 0 0-8a4 4 0 1 0 0 8M4 20c1-4 4-6 8-6s7 2 8 6',
  userPlus: 'M10 12a4 4 0 1 0 0-8a4 4 0 1 0 0 8M3 20c1-4 3.5-6 7-6s6 2 7 6M19 8v6M16 11h6',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  close: 'M6 6l12 12M18 6L6 18',
  compass: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M15 9l-2 5-4 1 2-5z',
  chat: 'M4 5h16v11H9l-5 4z',
  arrowDown: 'M12 5v14M6 13l6 6 6-6',
  clock: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M12 7.5V12l3 2',
  check: 'M5 12.5l4.5 4.5L19 7.5',
  alert: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M12 7.5v5.5M12 16.5v.01',
  checks: 'M1.5 12.5l4.5 4.5L15.5 7.5M11 16.5l.5.5L22 7.5',
  reply: 'M10 8L5 12.5l5 4.5M5.5 12.5H14a5 5 0 0 1 5 5V19',
  edit: 'M15.5 5.5l3 3M4 20l1-4L16 5l3 3L8 19z',
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
  smile: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M8.5 14.5a4.5 4.5 0 0 0 7 0M9 9.5v.01M15 9.5v.01',
  more: 'M5 12h.01M12 12h.01M19 12h.01',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
};

export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.classList.add('icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name] || '');
  svg.append(path);
  return svg;
}

/** Initials for an avatar bubble. */
export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : (parts[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

/** A stable hue (0–359) for a user id, used for avatar colours via a class. */
export function hueClass(id) {
  let n = 0;
  for (const ch of String(id)) n = (n * 31 + ch.charCodeAt(0)) >>> 0;
  return `hue-${n % 8}`;
}
