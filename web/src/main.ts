/** Entry point: resume a stored session or show the sign-in screen. */
import './styles.css';
import { GoChatClient, GoChatError } from '../../sdk/index.js';
import { renderAuth } from './auth-view.js';
import { ChatApp } from './chat-app.js';
import { el, replaceChildren } from './dom.js';

const TOKEN_KEY = 'gochat.token';
const root = document.getElementById('app')!;

function newClient(token?: string): GoChatClient {
  // Same origin: the server that served this page. A send not acked in 20 s is shown as failed, with retry.
  // Kept conversations: after a reconnect the SDK reads each one's change feed and reports every
  // message recalled, edited or reacted to while away ('message-changed', source 'catch-up').
  return new GoChatClient({ baseUrl: window.location.origin, sendTimeoutMs: 20_000, keepConversations: true, ...(token ? { token } : {}) });
}

function showAuth(notice?: string): void {
  localStorage.removeItem(TOKEN_KEY);
  renderAuth(root, newClient(), notice, (client) => {
    localStorage.setItem(TOKEN_KEY, client.token ?? '');
    void showChat(client);
  });
}

async function showChat(client: GoChatClient): Promise<void> {
  const app = new ChatApp(root, client, (notice) => showAuth(notice));
  await app.start();
}

async function boot(): Promise<void> {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return showAuth();
  replaceChildren(root, el('p', { class: 'splash' }, 'Connecting…'));
  const client = newClient(token);
  try {
    await client.me();
  } catch (err) {
    return showAuth(err instanceof GoChatError && err.isAuthError ? 'Your session ended. Please sign in again.' : undefined);
  }
  await showChat(client);
}

void boot();
