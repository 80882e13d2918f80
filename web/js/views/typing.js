// "Ana is typing…" under the message list of the open channel (from `typing:indicator`).

import { h, replace } from '../dom.js';
import { state, on } from '../state.js';
import { typingText } from '../live.js';

/** @param {HTMLElement} root */
export function mountTyping(root) {
  const text = h('span.typing-text', { testid: 'typing-text' });
  const dots = h('span.typing-dots', { 'aria-hidden': 'true' }, h('i'), h('i'), h('i'));

  function render() {
    const t = state.activeId ? typingText(state.activeId) : '';
    root.dataset.active = t ? 'true' : 'false';
    if (text.textContent !== t) text.textContent = t;
    if (t && !root.firstChild) replace(root, dots, text);
    if (!t && root.firstChild) replace(root);
  }

  const offs = [
    on('typing', (id) => { if (!id || id === state.activeId) render(); }),
    on('active', render),
    on('users', render),
  ];
  render();
  return () => offs.forEach((off) => off());
}
