// The composer: Enter sends, Shift+Enter adds a newline; enforces `limits.max_body_chars`
// (counted in Unicode scalar values, like the server) and shows a counter near the limit.
// Above the input, a context bar shows the message being replied to or edited, with ✕ (or
// Escape) to cancel. Typing is reported while the input has text (see live.js).

import { h, replace, icon } from '../dom.js';
import { state, on, channelTitle } from '../state.js';
import { charCount } from '../format.js';

/**
 * @param {HTMLFormElement} form
 * @param {object} actions  { send(body, replyTo), edit(message, body), typing(channelId, text),
 *   stopTyping() }
 */
export function mountComposer(form, actions) {
  const input = h('textarea.composer-input', {
    rows: 1, testid: 'composer-input', 'aria-label': 'Message', enterkeyhint: 'send',
    autocomplete: 'off', placeholder: 'Message',
  });
  const counter = h('span.counter', { testid: 'composer-counter', 'aria-live': 'polite', hidden: true });
  const send = h('button.send-btn', { type: 'submit', 'aria-label': 'Send', title: 'Send (Enter)', testid: 'send-button', disabled: true }, icon('send'));
  const ctxIcon = h('span.ctx-icon');
  const ctxTitle = h('b.ctx-title', { testid: 'composer-context-title' });
  const ctxQuote = h('span.ctx-quote', { testid: 'composer-context-quote' });
  const context = h('div.composer-context', { testid: 'composer-context', hidden: true },
    ctxIcon, h('div.ctx-text', null, ctxTitle, ctxQuote),
    h('button.icon-btn.ctx-cancel', {
      type: 'button', testid: 'composer-context-cancel', 'aria-label': 'Cancel', title: 'Cancel (Esc)',
      on: { click: () => cancelContext(true) },
    }, icon('close')));
  replace(form, context, h('div.composer-box', null, input, counter, send));
  /** Unsent text per channel, so switching conversations keeps what was typed. */
  const drafts = new Map();
  let channelId = null;
  /** { kind: 'reply' | 'edit', message, draft (the text put aside while editing) } */
  let ctx = null;
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

  function showContext() {
    context.hidden = !ctx;
    form.classList.toggle('editing', Boolean(ctx && ctx.kind === 'edit'));
    if (!ctx) {
      send.setAttribute('aria-label', 'Send');
      send.title = 'Send (Enter)';
      replace(send, icon('send'));
      return;
    }
    const m = ctx.message;
    context.dataset.kind = ctx.kind;
    replace(ctxIcon, icon(ctx.kind === 'edit' ? 'edit' : 'reply'));
    if (ctx.kind === 'edit') {
      ctxTitle.textContent = 'Editing message';
      send.setAttribute('aria-label', 'Save');
      send.title = 'Save (Enter)';
      replace(send, icon('check'));
    } else {
      ctxTitle.textContent = `Replying to ${m.sender.display_name}`;
    }
    ctxQuote.textContent = m.body;
  }

  /** Leaves reply/edit mode; editing gives back the draft that was put aside. */
  function cancelContext(focus = false) {
    if (!ctx) return;
    if (ctx.kind === 'edit') {
      input.value = ctx.draft;
      update();
    }
    ctx = null;
    showContext();
    if (focus) input.focus();
  }

  function submit() {
    const body = input.value;
    if (body.trim() === '' || charCount(body) > state.limits.max_body_chars) {
      update();
      return;
    }
    if (ctx && ctx.kind === 'edit') {
      const m = ctx.message;
      const draft = ctx.draft;
      ctx = null;
      showContext();
      if (body !== m.body) actions.edit(m, body);
      input.value = draft;
    } else {
      const replyTo = ctx && ctx.kind === 'reply' ? ctx.message : null;
      ctx = null;
      showContext();
      actions.stopTyping();
      actions.send(body, replyTo);
      input.value = '';
    }
    update();
    input.focus();
  }

  input.addEventListener('input', () => {
    update();
    if (channelId && !(ctx && ctx.kind === 'edit')) actions.typing(channelId, input.value);
  });
  input.addEventListener('blur', () => actions.stopTyping());
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    } else if (ev.key === 'Escape' && ctx) {
      ev.preventDefault();
      ev.stopPropagation();
      cancelContext(true);
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
  });
  // The message being answered or edited was deleted: nothing left to do with it.
  on('deleted', ({ messageId }) => {
    if (ctx && ctx.message.id === messageId) cancelContext();
  });

  return {
    /** Points the composer at a channel: its placeholder and its own draft. */
    setChannel(ch) {
      actions.stopTyping();
      cancelContext();
      if (channelId) drafts.set(channelId, input.value);
      channelId = ch ? ch.id : null;
      input.value = (channelId && drafts.get(channelId)) || '';
      input.placeholder = ch ? `Message ${ch.kind === 'dm' ? '' : '#'}${channelTitle(ch)}` : 'Message';
      form.hidden = !ch;
      update();
    },
    /** Answers `m`: its quote shows above the input until sent or cancelled. */
    reply(m) {
      if (ctx && ctx.kind === 'edit') cancelContext();
      ctx = { kind: 'reply', message: m };
      showContext();
      input.focus();
    },
    /** Edits my message `m` in the composer (the current draft is put aside meanwhile). */
    edit(m) {
      const draft = ctx && ctx.kind === 'edit' ? ctx.draft : input.value;
      ctx = { kind: 'edit', message: m, draft };
      showContext();
      input.value = m.body;
      update();
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    },
    /** Forgets every draft (log-out). */
    reset() {
      drafts.clear();
      channelId = null;
      ctx = null;
      showContext();
      input.value = '';
      update();
    },
    focus() {
      input.focus({ preventScroll: true });
    },
    update,
  };
}
