/**
 * Debian's Chromium driven by playwright-core, against the real server serving the built web app.
 * Without /usr/bin/chromium the browser tests skip loudly on a developer machine and fail under CI=true.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, uniqueName } from '../helpers/client.js';
import type { AuthResult } from '../../src/protocol/index.js';

export const CHROMIUM = process.env.GOCHAT_CHROMIUM ?? '/usr/bin/chromium';
export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');
export const PASSWORD = 'correct horse';

/** Why the browser tests cannot run here, or null when they can. Under CI a missing browser is a failure, not a skip. */
export function browserSkipReason(): string | null {
  if (!fs.existsSync(path.join(WEB_DIR, 'index.html'))) {
    throw new Error(`the web app is not built (${WEB_DIR}/index.html is missing): run \`npm run build\``);
  }
  if (fs.existsSync(CHROMIUM)) return null;
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(`${reason}: required under CI`);
  console.warn(`\n!!! SKIPPING BROWSER TESTS: ${reason} !!!\n`);
  return reason;
}

export function launchChromium(): Promise<Browser> {
  // playwright gives each launch a fresh temporary profile (it refuses --user-data-dir in args).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--disable-dev-shm-usage',
    ],
  });
}

/** The real server, serving the freshly built web/dist. */
export function startWebServer(): Promise<TestServer> {
  return startServer({ env: { GOCHAT_WEB_DIR: WEB_DIR } });
}

/** What the tests of one `describe` share: the server serving the web app, one Chromium, HTTP access. */
export interface WebSuite {
  readonly srv: TestServer;
  readonly browser: Browser;
  readonly api: Api;
  /** `auth` signed in on a page of its own (a browser context of its own: another device). */
  signedIn(auth: AuthResult): Promise<Person & { auth: AuthResult }>;
  closeAll(...people: Person[]): Promise<void>;
}

/** Starts the suite's server and browser before its tests and stops them after: call inside a `describe`. */
export function webSuite(): WebSuite {
  let srv: TestServer | undefined;
  let browser: Browser | undefined;
  let api: Api | undefined;
  before(async () => {
    srv = await startWebServer();
    browser = await launchChromium();
    api = new Api(srv.baseUrl);
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('webSuite: used before its before() hook ran');
    return value;
  };
  const suite: WebSuite = {
    get srv() {
      return started(srv);
    },
    get browser() {
      return started(browser);
    },
    get api() {
      return started(api);
    },
    async signedIn(auth) {
      const person = await newPerson(suite.browser, suite.srv.baseUrl);
      await signIn(person, auth.user.username);
      return { ...person, auth };
    },
    async closeAll(...people) {
      await Promise.all(people.map((p) => p.context.close()));
    },
  };
  return suite;
}

/** Retries an assertion until it holds or `timeoutMs` passes (the page updates asynchronously); the last failure is rethrown. */
export async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export async function expectText(locator: Locator, expected: string, timeoutMs?: number): Promise<void> {
  await eventually(async () => assert.equal((await locator.first().textContent({ timeout: 1_000 }))?.trim(), expected), timeoutMs);
}

export async function expectAttribute(locator: Locator, name: string, expected: string, timeoutMs?: number): Promise<void> {
  await eventually(async () => assert.equal(await locator.first().getAttribute(name, { timeout: 1_000 }), expected), timeoutMs);
}

export async function expectCount(locator: Locator, expected: number, timeoutMs?: number): Promise<void> {
  await eventually(async () => assert.equal(await locator.count(), expected), timeoutMs);
}

export interface Person {
  context: BrowserContext;
  page: Page;
  username: string;
  /** Dialogs the page opened (alert/confirm): an injected script would show up here. */
  dialogs: string[];
  /** Every WebSocket frame the page sent, parsed. */
  framesSent: Array<{ type: string; data?: { content?: string; tempMessageId?: string } }>;
}

/** A person with their own browser context (cookies, storage, network) on the app's page. */
export async function newPerson(browser: Browser, baseUrl: string, viewport = { width: 1200, height: 800 }): Promise<Person> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport });
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  const framesSent: Person['framesSent'] = [];
  page.on('websocket', (ws) =>
    ws.on('framesent', ({ payload }) => {
      if (typeof payload === 'string') framesSent.push(JSON.parse(payload) as Person['framesSent'][number]);
    }),
  );
  await page.goto('/');
  return { context, page, username: '', dialogs, framesSent };
}

/** Signs up as a fresh user named `prefix` plus a unique suffix (or exactly `prefix` with `exact`). */
export async function register(person: Person, prefix: string, exact = false): Promise<void> {
  const { page } = person;
  person.username = exact ? prefix : uniqueName(prefix);
  await page.getByTestId('auth-tab-register').click();
  await page.getByTestId('auth-username').fill(person.username);
  await page.getByTestId('auth-password').fill(PASSWORD);
  await page.getByTestId('auth-submit').click();
  await expectText(page.getByTestId('me-name'), person.username);
  await expectText(page.getByTestId('connection-state'), 'Online');
}

/** Signs `person`'s page in as an existing user (registered over HTTP: a test's faster setup). */
export async function signIn(person: Person, username: string): Promise<void> {
  const { page } = person;
  person.username = username;
  await page.getByTestId('auth-username').fill(username);
  await page.getByTestId('auth-password').fill(PASSWORD);
  await page.getByTestId('auth-submit').click();
  await expectText(page.getByTestId('me-name'), username);
  await expectText(page.getByTestId('connection-state'), 'Online');
}

/** The list entry of the conversation titled `title`. */
export function conversationEntry(page: Page, title: string) {
  return page.getByTestId('conversation').filter({ has: page.getByTestId('conversation-name').getByText(title, { exact: true }) });
}

export async function startChatWith(person: Person, other: string): Promise<void> {
  const { page } = person;
  await page.getByTestId('new-chat').click();
  await page.getByTestId('new-chat-user').fill(other);
  await page.getByTestId('dialog-submit').click();
  await expectText(page.getByTestId('conversation-title'), other);
  await page.locator('.conversation-view[data-loaded="true"]').waitFor();
}

/** Opens a conversation from the list; resolves once its history is shown. */
export async function openConversation(person: Person, title: string): Promise<void> {
  await conversationEntry(person.page, title).click();
  await expectText(person.page.getByTestId('conversation-title'), title);
  await person.page.locator('.conversation-view[data-loaded="true"]').waitFor();
}

/** Types and sends a message; resolves once it shows as sent (acked). */
export async function send(person: Person, text: string): Promise<void> {
  const { page } = person;
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('composer-input').press('Enter');
  await expectAttribute(bubble(page, text), 'data-status', 'sent');
}

/** The bubble whose content is exactly `text`. */
export function bubble(page: Page, text: string) {
  return page.getByTestId('message').filter({ has: page.getByTestId('message-content').getByText(text, { exact: true }) });
}

/** The contents of the open conversation's bubbles, top to bottom. */
export function contents(page: Page): Promise<string[]> {
  return page.getByTestId('message-content').allTextContents();
}
