/**
 * The web app in a real Chromium against the real server: what two people who never read the API
 * do — sign up, find each other, chat, see unread counts, go offline and come back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { Browser } from 'playwright-core';
import { GoChatClient } from '../../sdk/index.js';
import { Api } from '../helpers/client.js';
import type { TestServer } from '../helpers/server.js';
import {
  browserSkipReason,
  bubble,
  contents,
  conversationEntry,
  eventually,
  expectAttribute,
  expectCount,
  expectText,
  launchChromium,
  newPerson,
  openConversation,
  PASSWORD,
  register,
  send,
  startChatWith,
  startWebServer,
  type Person,
} from './browser.js';

const skip = browserSkipReason();

describe('the web app in Chromium', { skip: skip ?? false }, () => {
  let srv: TestServer;
  let browser: Browser;

  before(async () => {
    srv = await startWebServer();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  const person = (viewport?: { width: number; height: number }) => newPerson(browser, srv.baseUrl, viewport);
  const closeAll = (...people: Person[]) => Promise.all(people.map((p) => p.context.close()));
  /** One signed-up person per name prefix, each in their own browser context, in order. */
  async function signedUp<const Names extends readonly string[]>(...prefixes: Names): Promise<{ [K in keyof Names]: Person }> {
    const people: Person[] = [];
    for (const prefix of prefixes) {
      const someone = await person();
      await register(someone, prefix);
      people.push(someone);
    }
    return people as { [K in keyof Names]: Person };
  }

  test('two people sign up, start a chat by username, talk both ways, and unread badges count up and clear', async () => {
    const [alice, bob] = await signedUp('alice', 'bob');

    await startChatWith(alice, bob.username);
    await send(alice, 'Hi Bob');
    // Bob has nothing open: the new conversation appears in his list, live, with one unread.
    const aliceInBobsList = conversationEntry(bob.page, alice.username);
    await expectText(aliceInBobsList.getByTestId('unread-badge'), '1');
    await expectText(aliceInBobsList.getByTestId('conversation-last'), `${alice.username}: Hi Bob`);
    await send(alice, 'Are you there?');
    await expectText(aliceInBobsList.getByTestId('unread-badge'), '2');

    await openConversation(bob, alice.username);
    await expectCount(aliceInBobsList.getByTestId('unread-badge'), 0);
    assert.deepEqual(await contents(bob.page), ['Hi Bob', 'Are you there?']);
    await send(bob, 'Hello Alice');
    await expectAttribute(bubble(alice.page, 'Hello Alice'), 'data-status', 'received');
    assert.deepEqual(await contents(alice.page), ['Hi Bob', 'Are you there?', 'Hello Alice']);
    // Alice is looking at the conversation: no badge for her.
    await expectCount(conversationEntry(alice.page, bob.username).getByTestId('unread-badge'), 0);

    // Alice looks elsewhere; Bob writes again: her badge counts it, opening clears it.
    await alice.page.getByTestId('conversation').filter({ hasNot: alice.page.getByText(bob.username, { exact: true }) }).first().click();
    await send(bob, 'Still here');
    const bobInAlicesList = conversationEntry(alice.page, bob.username);
    await expectText(bobInAlicesList.getByTestId('unread-badge'), '1');
    await openConversation(alice, bob.username);
    await expectCount(bobInAlicesList.getByTestId('unread-badge'), 0);
    assert.deepEqual(await contents(alice.page), ['Hi Bob', 'Are you there?', 'Hello Alice', 'Still here']);

    // The read marks are the server's: a reload shows the same (no badges), and the session survives it.
    await bob.page.reload();
    await expectText(bob.page.getByTestId('me-name'), bob.username);
    await expectText(conversationEntry(bob.page, alice.username).getByTestId('conversation-last'), 'You: Still here');
    await expectCount(conversationEntry(bob.page, alice.username).getByTestId('unread-badge'), 0);
    assert.deepEqual(alice.dialogs.concat(bob.dialogs), []);
    await closeAll(alice, bob);
  });

  test('a guest enters on a phone-sized screen, chats in the world room, and logs out', async () => {
    const guest = await person({ width: 390, height: 844 });
    const { page } = guest;
    await page.getByTestId('auth-tab-guest').click();
    await page.getByTestId('auth-guest-name').fill('visitor');
    await page.getByTestId('auth-submit').click();
    await expectText(page.getByTestId('connection-state'), 'Online');
    assert.match((await page.getByTestId('me-name').textContent()) ?? '', /^visitor/);
    assert.equal(await page.getByTestId('new-group').count(), 0, 'guests cannot create groups');

    // Phone layout: the list fills the screen; opening a conversation swaps to it; back returns.
    assert.equal(await page.getByTestId('conversation-pane').isVisible(), false);
    const world = page.locator('[data-testid="conversation"][data-type="world"]');
    await world.click();
    assert.equal(await page.getByTestId('conversation-list').isVisible(), false);
    await send(guest, 'Hello from a phone');
    const box = await page.getByTestId('composer').boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `composer fits the screen: ${JSON.stringify(box)}`);
    await page.getByTestId('back').click();
    await expectText(world.getByTestId('conversation-last'), 'You: Hello from a phone');

    await page.getByTestId('logout').click();
    await page.getByTestId('auth-form').waitFor();
    await page.reload();
    await page.getByTestId('auth-form').waitFor();
    await closeAll(guest);
  });

  test('three people chat in a group; group info lists the members and their roles', async () => {
    const [ann, ben, cat] = await signedUp('ann', 'ben', 'cat');
    const groupName = `Trip ${Date.now()}`;
    await ann.page.getByTestId('new-group').click();
    await ann.page.getByTestId('new-group-name').fill(groupName);
    await ann.page.getByTestId('new-group-members').fill(`${ben.username}, ${cat.username}`);
    await ann.page.getByTestId('dialog-submit').click();
    await expectText(ann.page.getByTestId('conversation-title'), groupName);
    await send(ann, 'Where do we go?');

    for (const p of [ben, cat]) {
      await expectText(conversationEntry(p.page, groupName).getByTestId('unread-badge'), '1');
      await openConversation(p, groupName);
    }
    await send(ben, 'Mountains');
    await send(cat, 'Sea!');
    const expected = ['Where do we go?', 'Mountains', 'Sea!'];
    for (const p of [ann, ben, cat]) await eventually(async () => assert.deepEqual(await contents(p.page), expected));
    await expectText(bubble(ann.page, 'Mountains').getByTestId('message-sender'), ben.username);

    await cat.page.getByTestId('group-info').click();
    const members = cat.page.getByTestId('group-member');
    await expectCount(members, 3);
    const roles = Object.fromEntries(
      await Promise.all((await members.all()).map(async (m) => [((await m.locator('.member-name').textContent()) ?? '').replace(' (you)', ''), await m.getAttribute('data-role')])),
    );
    assert.deepEqual(roles, { [ann.username]: 'owner', [ben.username]: 'member', [cat.username]: 'member' });
    await cat.page.getByTestId('dialog-close').click();

    // A 1:1 chat can also be started with the user id shown in the other person's header.
    const annId = ((await ann.page.getByTestId('me-id').textContent()) ?? '').replace(/^id /, '');
    assert.match(annId, /^\d+$/);
    await cat.page.getByTestId('new-chat').click();
    await cat.page.getByTestId('new-chat-user').fill(annId);
    await cat.page.getByTestId('dialog-submit').click();
    await expectText(cat.page.getByTestId('conversation-title'), ann.username);
    await closeAll(ann, ben, cat);
  });

  test('group info shows the owner first, then members a page at a time', async () => {
    const [ann] = await signedUp('ann');
    const api = new Api(srv.baseUrl);
    const others = await Promise.all(Array.from({ length: 51 }, (_, i) => api.user(`crowd${i}`)));
    const login = await api.post<{ token: string }>('/api/auth/login', { username: ann.username, password: PASSWORD });
    const groupName = `Crowd ${Date.now()}`;
    const created = await api.post('/api/groups', { groupName, members: others.map((o) => o.user.userId) }, login.body.data.token);
    assert.equal(created.status, 201);
    await ann.page.reload();
    await openConversation(ann, groupName);
    await ann.page.getByTestId('group-info').click();
    const members = ann.page.getByTestId('group-member');
    await expectCount(members, 51); // the owner and the first 50 members
    assert.equal(await members.first().getAttribute('data-role'), 'owner');
    await ann.page.getByTestId('group-members-more').click();
    await expectCount(members, 52);
    await expectCount(ann.page.locator('[data-testid="group-members-more"]:visible'), 0);
    await closeAll(ann);
  });

  test('markup in a message or a group name is shown as text and never runs', async () => {
    const [alice, bob] = await signedUp('alice', 'bob');
    const payload = '<img src=x onerror=alert(1)>';
    const groupName = `<b>bold</b><script>alert(2)</script>`;
    await startChatWith(alice, bob.username);
    await send(alice, payload);
    await openConversation(bob, alice.username);
    await expectText(bubble(bob.page, payload).getByTestId('message-content'), payload);
    assert.equal(await bob.page.getByTestId('message-content').getByText(payload, { exact: true }).isVisible(), true);

    await alice.page.getByTestId('new-group').click();
    await alice.page.getByTestId('new-group-name').fill(groupName);
    await alice.page.getByTestId('new-group-members').fill(bob.username);
    await alice.page.getByTestId('dialog-submit').click();
    await expectText(alice.page.getByTestId('conversation-title'), groupName);
    await send(alice, `${payload} again`);
    await expectText(conversationEntry(bob.page, groupName).getByTestId('conversation-last'), `${alice.username}: ${payload} again`);

    for (const p of [alice, bob]) {
      assert.equal(await p.page.locator('#app img, #app script, #app b').count(), 0, 'no element was created from user content');
      assert.deepEqual(p.dialogs, [], 'no script ran');
    }
    await closeAll(alice, bob);
  });

  test('a message the server refuses shows as failed, with the reason and a retry that resends it', async () => {
    const [alice, bob] = await signedUp('alice', 'bob');
    await startChatWith(alice, bob.username);
    const refused = 'bell \u0007 ringing';
    await alice.page.getByTestId('composer-input').fill(refused);
    await alice.page.getByTestId('composer-input').press('Enter');
    const failed = bubble(alice.page, refused);
    await expectAttribute(failed, 'data-status', 'failed');
    assert.match((await failed.getByTestId('message-status').textContent()) ?? '', /Not sent \(content: control characters are not allowed\)/);
    await failed.getByTestId('retry').click();
    // The retry went out again, with the same tempMessageId, and was refused again.
    const attempts = () => alice.framesSent.filter((f) => f.type === 'send-message' && f.data?.content === refused);
    await eventually(async () => assert.equal(attempts().length, 2));
    const [first, second] = attempts().map((f) => f.data?.tempMessageId);
    assert.equal(first, second);
    await expectAttribute(failed, 'data-status', 'failed');
    await send(alice, 'this one is fine');
    await openConversation(bob, alice.username);
    assert.deepEqual(await contents(bob.page), ['this one is fine']);
    await closeAll(alice, bob);
  });

  test('a person who goes offline and comes back loses nothing: their sends go out, the others arrive, once, in order', async () => {
    const [alice, bob] = await signedUp('alice', 'bob');
    await startChatWith(alice, bob.username);
    await send(alice, 'before');
    await openConversation(bob, alice.username);

    await alice.context.setOffline(true);
    await eventually(async () => assert.notEqual(await alice.page.getByTestId('connection-state').textContent(), 'Online'));
    for (const text of ['offline 1', 'offline 2']) {
      await alice.page.getByTestId('composer-input').fill(text);
      await alice.page.getByTestId('composer-input').press('Enter');
      await expectAttribute(bubble(alice.page, text), 'data-status', 'pending');
    }
    for (const text of ['while away 1', 'while away 2', 'while away 3']) await send(bob, text);
    assert.deepEqual(await contents(alice.page), ['before', 'offline 1', 'offline 2'], 'nothing arrives while offline');

    await alice.context.setOffline(false);
    await expectText(alice.page.getByTestId('connection-state'), 'Online', 20_000);
    for (const text of ['offline 1', 'offline 2']) await expectAttribute(bubble(alice.page, text), 'data-status', 'sent', 20_000);
    const everything = ['before', 'while away 1', 'while away 2', 'while away 3', 'offline 1', 'offline 2'];
    await eventually(async () => assert.deepEqual(await contents(alice.page), everything), 20_000);
    await eventually(async () => assert.deepEqual(await contents(bob.page), everything), 20_000);
    // Seqs are the server's, so both show the same order; and each message is there once.
    const seqs = await alice.page.getByTestId('message').evaluateAll((nodes) => nodes.map((n) => Number((n as HTMLElement).dataset.seq)));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
    await closeAll(alice, bob);
  });

  test('a conversation someone starts with me is fetched on its own when its first message arrives', async () => {
    const [alice] = await signedUp('alice');
    const bob = await person();
    // The conversation-added frame that would announce it is lost (as over a reconnect): the first
    // message is then the first Bob hears of the conversation.
    await bob.page.routeWebSocket(
      (url) => url.pathname === '/ws',
      (ws) => {
        const server = ws.connectToServer();
        server.onMessage((message) => {
          if (typeof message === 'string' && (JSON.parse(message) as { type?: string }).type === 'conversation-added') return;
          ws.send(message);
        });
      },
    );
    await register(bob, 'bob');
    await expectCount(bob.page.getByTestId('conversation'), 1); // the world room
    // From here Bob's app cannot read its list again: only the one-conversation fetch can add it.
    const isListPage = (url: URL) => url.pathname === '/api/conversations' && url.searchParams.has('limit');
    await bob.page.route((url) => isListPage(url), (route) => route.abort());
    const fetchedOne = bob.page.waitForRequest((request) => /^\/api\/conversations\/\d+$/.test(new URL(request.url()).pathname));
    await startChatWith(alice, bob.username);
    await send(alice, 'Hi Bob');
    await fetchedOne;
    const aliceInBobsList = conversationEntry(bob.page, alice.username);
    await expectText(aliceInBobsList.getByTestId('conversation-last'), `${alice.username}: Hi Bob`);
    await expectText(aliceInBobsList.getByTestId('unread-badge'), '1');
    await send(alice, 'Still there?');
    await expectText(aliceInBobsList.getByTestId('unread-badge'), '2');
    await closeAll(alice, bob);
  });

  test('a conversation list the server answered before a message arrived does not hide that message', async () => {
    const [alice, bob] = await signedUp('alice', 'bob');
    await startChatWith(alice, bob.username);
    await bob.page.reload(); // Bob's list now holds the (still empty) conversation.
    const aliceInBobsList = conversationEntry(bob.page, alice.username);
    await expectText(aliceInBobsList.getByTestId('conversation-last'), 'No messages yet');

    // Bob reconnects: the SDK fetches the list to catch up, then the app refreshes its list. That refresh
    // is answered by the server now but reaches the page only after Alice's message has arrived live.
    let listAnswered!: () => void;
    const answered = new Promise<void>((resolve) => (listAnswered = resolve));
    let deliver!: () => void;
    const delivered = new Promise<void>((resolve) => (deliver = resolve));
    let held = false;
    // The list, paged (the app, ?limit=…) or not (the SDK's catch-up): a glob would miss the query string.
    const isList = (url: string | URL) => new URL(url).pathname === '/api/conversations';
    // Only the app's first paged refresh is held. The SDK's catch-up always goes through, however many
    // reconnects the offline/online pair causes: holding it would hold the live message too.
    const isAppRefresh = (url: string) => new URL(url).searchParams.has('limit');
    await bob.page.route(isList, async (route) => {
      if (held || !isAppRefresh(route.request().url())) return route.continue();
      held = true;
      const response = await route.fetch();
      listAnswered();
      await delivered;
      await route.fulfill({ response });
    });
    await bob.context.setOffline(true);
    await bob.context.setOffline(false);
    await answered;
    await send(alice, 'Hi Bob');
    await expectText(aliceInBobsList.getByTestId('conversation-last'), `${alice.username}: Hi Bob`);

    // The app renders the list anew from every fetched page: once the entry shown now is replaced,
    // the stale page has been merged.
    const shown = await aliceInBobsList.getByTestId('conversation-last').elementHandle();
    const staleListShown = bob.page.waitForResponse((response) => isList(response.url()) && isAppRefresh(response.url()));
    deliver();
    await staleListShown;
    await shown!.waitForElementState('hidden', { timeout: 10_000 });
    assert.equal((await aliceInBobsList.getByTestId('conversation-last').textContent())?.trim(), `${alice.username}: Hi Bob`);
    assert.equal(await aliceInBobsList.getByTestId('unread-badge').textContent(), '1');
    await closeAll(alice, bob);
  });

  test('scrolling up loads older history page by page, in order', async () => {
    const api = new Api(srv.baseUrl);
    const [alice, bob] = [await api.user('alice'), await api.user('bob')];
    const sender = new GoChatClient({ baseUrl: srv.baseUrl, WebSocket, token: alice.token });
    await sender.me();
    await sender.connect();
    const chat = await sender.openConversation(bob.user.userId);
    for (let i = 1; i <= 75; i++) await sender.send(chat.conversationId, `history ${i}`);
    sender.disconnect();

    const reader = await person({ width: 1000, height: 600 });
    const { page } = reader;
    await page.getByTestId('auth-username').fill(bob.user.username);
    await page.getByTestId('auth-password').fill(PASSWORD);
    await page.getByTestId('auth-submit').click();
    await openConversation(reader, alice.user.username);
    await expectCount(page.getByTestId('message'), 30);
    const all = Array.from({ length: 75 }, (_, i) => `history ${i + 1}`);
    assert.deepEqual(await contents(page), all.slice(45));
    for (const shown of [60, 75]) {
      await page.getByTestId('message-scroller').evaluate((el) => el.scrollTo(0, 0));
      await expectCount(page.getByTestId('message'), shown);
    }
    assert.deepEqual(await contents(page), all);
    assert.equal(await page.getByTestId('load-older').isVisible(), false);
    await closeAll(reader);
  });

  test('a long conversation list arrives a page at a time: the first 50, the rest on scroll or Load more', async () => {
    const api = new Api(srv.baseUrl);
    const owner = await api.user('many');
    for (let i = 1; i <= 110; i++) {
      const res = await api.post('/api/groups', { groupName: `club ${i}`, members: [] }, owner.token);
      assert.equal(res.status, 201);
    }
    // 110 groups and the world room.
    const reader = await person({ width: 1000, height: 600 });
    const { page } = reader;
    await page.getByTestId('auth-username').fill(owner.user.username);
    await page.getByTestId('auth-password').fill(PASSWORD);
    await page.getByTestId('auth-submit').click();
    await expectText(page.getByTestId('me-name'), owner.user.username);
    await expectCount(page.getByTestId('conversation'), 50);
    // Newest activity first: the group created last is on top.
    await expectText(page.getByTestId('conversation-name').first(), 'club 110');
    await page.getByTestId('conversation-list').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await eventually(async () => assert.ok((await page.getByTestId('conversation').count()) >= 100, 'scrolling down loads the second page'));
    // The scroll may already be loading the last page, re-rendering the list (and the button) under
    // the click: Load more is pressed until everything is there, each try bounded.
    await eventually(async () => {
      if ((await page.getByTestId('conversation').count()) === 111) return;
      await page.getByTestId('load-more').click({ timeout: 1_000 }).catch(() => {});
      assert.equal(await page.getByTestId('conversation').count(), 111, 'Load more brings the rest');
    }, 20_000);
    await expectCount(page.getByTestId('conversation'), 111);
    await expectCount(page.getByTestId('load-more'), 0);
    const names = await page.getByTestId('conversation-name').allTextContents();
    assert.equal(new Set(names).size, 111);
    await closeAll(reader);
  });
});
