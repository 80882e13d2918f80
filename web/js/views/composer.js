// The composer: Enter sends, Shift+Enter adds a newline; enforces `limits.max_body_chars`
// (counted in Unicode scalar values, like the server) and shows a counter near the limit.

import { h, replace, icon } from '../dom.js';
import { state, channelTitle } from '../state.js';
import { charCount } from '../format.js';

/**
 * @param {HTMLFormElement} form
 * @param {(body: string) => void} onSend
 */
export function mountComposer(form, onSend) {
  const input = h('textarea.composer-input', {
    rows: 1, testid: 'composer-input', 'aria-label': 'Message', enterkeyhint: 'send',
    autocomplete: 'off', placeholder: 'Message',
  });
  const counter = h('span.counter', { testid: 'composer-counter', 'aria-live': 'polite', hidden: true });
  const send = h('button.send-btn', { type: 'submit', 'aria-label': 'Send', title: 'Send (Enter)', testid: 'send-button', disabled: true }, icon('send'));
  replace(form, h('div.composer-box', null, input, counter, send));
  /** Unsent text per channel, so switching conversations keeps what was typed. */
  const drafts = new Map();
  let channelId = null;
  form.setAttribute('data-testid', 'composer');

  function update() {
    const max = state.limits.max_body_chars;
    const n = charCount(input.value);
    const over = n > max;
    counter.hidden = n < max * 0.9;
    counter.textContent = over ? `${n - max} over the limit` : `${max - n} left`;
    counter.classList.toggle('over', over);
    send.disabled = over || input.value.trim() === '';
    autosize();
  }

  function autosize() {
    // Fallback for engines without `field-sizing: content`; CSSOM writes are CSP-safe.
    if (CSS.supports && CSS.supports('field-sizing', 'content')) return;
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  function submit() {
    const body = input.value;
    if (body.trim() === '' || charCount(body) > state.limits.max_body_chars) {
      update();
      return;
    }
    onSend(body);
    input.value = '';
    update();
    input.focus();
  }

  input.addEventListener('input', update);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
  });

  return {
    /** Points the composer at a channel: its placeholder and its own draft. */
    setChannel(ch) {
      if (channelId) drafts.set(channelId, input.value);
      channelId = ch ? ch.id : null;
      input.value = (channelId && drafts.get(channelId)) || '';
      input.placeholder = ch ? `Message ${ch.kind === 'dm' ? '' : '#'}${channelTitle(ch)}` : 'Message';
      form.hidden = !ch;
      update();
    },
    /** Forgets every draft (log-out). */
    reset() {
      drafts.clear();
      channelId = null;
      input.value = '';
      update();
    },
    focus() {
      input.focus({ preventScroll: true });
    },
    update,
  };
}
