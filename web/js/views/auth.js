// The sign-up / log-in screen: one form with a mode toggle. Shows the server's error message.

import { api } from '../api.js';
import { h, replace, icon } from '../dom.js';

/**
 * Renders the auth screen into `root`.
 * @param {HTMLElement} root
 * @param {(me: object) => void} onAuthed  called with the `Me` after success
 */
export function renderAuth(root, onAuthed) {
  let mode = 'login';

  const error = h('p.auth-error', { role: 'alert', testid: 'auth-error', hidden: true });
  const username = field('Username', h('input', {
    name: 'username', autocomplete: 'username', required: true, minlength: 3, maxlength: 32,
    autocapitalize: 'none', spellcheck: 'false', testid: 'auth-username',
  }));
  const password = field('Password', h('input', {
    name: 'password', type: 'password', autocomplete: 'current-password', required: true,
    minlength: 8, maxlength: 256, testid: 'auth-password',
  }));
  const displayName = field('Display name (optional)', h('input', {
    name: 'display_name', autocomplete: 'nickname', maxlength: 64, testid: 'auth-display-name',
  }));
  const email = field('Email (optional)', h('input', {
    name: 'email', type: 'email', autocomplete: 'email', testid: 'auth-email',
  }));
  const submit = h('button.btn.primary.wide', { type: 'submit', testid: 'auth-submit' });
  const tabLogin = h('button.tab', { type: 'button', role: 'tab', testid: 'auth-tab-login', text: 'Log in' });
  const tabSignup = h('button.tab', { type: 'button', role: 'tab', testid: 'auth-tab-signup', text: 'Sign up' });

  const form = h('form.auth-card.glass', { testid: 'auth-form', novalidate: true },
    h('div.brand.brand-lg', null, h('img', { src: '/icon.svg', alt: '', width: 44, height: 44 }), h('span', { text: 'Banter' })),
    h('p.tagline', { text: 'Conversations, in real time.' }),
    h('div.tabs', { role: 'tablist' }, tabLogin, tabSignup),
    username.wrap, password.wrap, displayName.wrap, email.wrap,
    error, submit);

  function setMode(next) {
    mode = next;
    const signup = mode === 'signup';
    tabLogin.setAttribute('aria-selected', String(!signup));
    tabSignup.setAttribute('aria-selected', String(signup));
    displayName.wrap.hidden = !signup;
    email.wrap.hidden = !signup;
    password.input.autocomplete = signup ? 'new-password' : 'current-password';
    submit.textContent = signup ? 'Create account' : 'Log in';
    form.dataset.mode = mode;
    showError('');
  }

  function showError(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  tabLogin.addEventListener('click', () => setMode('login'));
  tabSignup.addEventListener('click', () => setMode('signup'));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const u = username.input.value.trim();
    const p = password.input.value;
    if (!u || !p) {
      showError('Enter a username and a password.');
      return;
    }
    submit.disabled = true;
    showError('');
    try {
      let res;
      if (mode === 'signup') {
        const body = { username: u, password: p };
        const dn = displayName.input.value.trim();
        const em = email.input.value.trim();
        if (dn) body.display_name = dn;
        if (em) body.email = em;
        res = await api.register(body);
      } else {
        res = await api.login(u, p);
      }
      password.input.value = '';
      onAuthed(res.user);
    } catch (e) {
      showError(e.message || 'Something went wrong.');
    } finally {
      submit.disabled = false;
    }
  });

  setMode('login');
  replace(root, h('div.auth-wrap', null, form,
    h('p.auth-foot', null, icon('lock'), ' Your session stays in a secure, HTTP-only cookie.')));
  username.input.focus();
}

function field(label, input) {
  const id = `f-${input.name}`;
  input.id = id;
  input.classList.add('input');
  const wrap = h('div.field', null, h('label', { for: id, text: label }), input);
  return { wrap, input };
}
