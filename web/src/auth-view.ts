/** Sign in, sign up, or enter as a guest. */
import type { GoChatClient } from '../../sdk/index.js';
import { el, replaceChildren } from './dom.js';
import { describeError } from './format.js';

type Mode = 'login' | 'register' | 'guest';

const TITLES: Record<Mode, string> = { login: 'Sign in', register: 'Create account', guest: 'Enter as guest' };

export function renderAuth(root: HTMLElement, client: GoChatClient, notice: string | undefined, onAuthed: (client: GoChatClient) => void): void {
  let mode: Mode = 'login';
  const error = el('p', { class: 'form-error', testid: 'auth-error', attrs: { role: 'alert' } });
  const username = el('input', { testid: 'auth-username', attrs: { name: 'username', autocomplete: 'username', required: '', minlength: '2', maxlength: '32', 'aria-label': 'Username' } });
  const password = el('input', {
    testid: 'auth-password',
    attrs: { name: 'password', type: 'password', autocomplete: 'current-password', required: '', minlength: '8', maxlength: '128', 'aria-label': 'Password' },
  });
  const guestName = el('input', { testid: 'auth-guest-name', attrs: { name: 'guestName', maxlength: '32', placeholder: 'optional', 'aria-label': 'Guest name' } });
  const submit = el('button', { testid: 'auth-submit', attrs: { type: 'submit' } });
  const usernameRow = el('label', {}, 'Username', username);
  const passwordRow = el('label', {}, 'Password', password);
  const guestRow = el('label', {}, 'Name (optional)', guestName);
  const tabs = (Object.keys(TITLES) as Mode[]).map((m) =>
    el('button', { class: 'tab', testid: `auth-tab-${m}`, attrs: { type: 'button', role: 'tab' }, on: { click: () => setMode(m) } }, TITLES[m]),
  );

  function setMode(next: Mode): void {
    mode = next;
    tabs.forEach((tab, i) => tab.setAttribute('aria-selected', String(Object.keys(TITLES)[i] === mode)));
    usernameRow.hidden = passwordRow.hidden = mode === 'guest';
    guestRow.hidden = mode !== 'guest';
    username.required = password.required = mode !== 'guest';
    password.autocomplete = mode === 'register' ? 'new-password' : 'current-password';
    submit.textContent = TITLES[mode];
    error.textContent = '';
  }

  const form = el(
    'form',
    {
      class: 'auth-form',
      testid: 'auth-form',
      on: {
        submit: (event) => {
          event.preventDefault();
          void run();
        },
      },
    },
    el('div', { class: 'tabs', attrs: { role: 'tablist' } }, ...tabs),
    usernameRow,
    passwordRow,
    guestRow,
    error,
    submit,
  );

  async function run(): Promise<void> {
    submit.disabled = true;
    error.textContent = '';
    try {
      if (mode === 'guest') await client.guest(guestName.value.trim() || undefined);
      else {
        if (mode === 'register') await client.register(username.value.trim(), password.value);
        await client.login(username.value.trim(), password.value);
      }
      onAuthed(client);
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      submit.disabled = false;
    }
  }

  replaceChildren(
    root,
    el(
      'main',
      { class: 'auth-view', testid: 'auth-view' },
      el('h1', { class: 'brand' }, 'GoChat'),
      el('p', { class: 'tagline' }, 'Chat with anyone on this server.'),
      notice ? el('p', { class: 'notice' }, notice) : null,
      form,
    ),
  );
  setMode(mode);
  username.focus();
}
