/**
 * A member's own conversation settings in the web app, in a real Chromium against the real server:
 * pin (first in the list, kept over a reload), mute (still delivered and counted, quietly), hide
 * (gone from the list until the next message), and every page of the same user following live.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { AuthResult, Conversation } from '../../src/protocol/index.js';
import { WsClient } from '../helpers/client.js';
import { browserSkipReason, conversationEntry, eventually, expectAttribute, expectCount, expectText, openConversation, type Person, webSuite } from './browser.js';

const skip = browserSkipReason();

/** The list row (entry plus its "⋯" menu) of the conversation titled `title`. */
const row = (page: Page, title: string) =>
  page.getByTestId('conversation-row').filter({ has: page.getByTestId('conversation-name').getByText(title, { exact: true }) });

/** Picks one action (`toggle-pin`, `toggle-mute`, `hide-conversation`) from a row's "⋯" menu. */
async function fromMenu(page: Page, title: string, action: 'toggle-pin' | 'toggle-mute' | 'hide-conversation'): Promise<void> {
  await row(page, title).getByTestId('conversation-menu').click();
  await row(page, title).getByTestId(action).click();
  // The menu closes at once; the row changes with the server's answer.
  await expectCount(page.getByTestId('conversation-menu-items'), 0);
}

/** The titles in the list, top to bottom, of those among `titles`. */
async function orderOf(page: Page, titles: string[]): Promise<string[]> {
  const shown = (await page.getByTestId('conversation-name').allTextContents()).map((t) => t.trim());
  return shown.filter((t) => titles.includes(t));
}

async function expectOrder(page: Page, expected: string[]): Promise<void> {
  await eventually(async () => assert.deepEqual(await orderOf(page, expected), expected));
}

describe('conversation settings in the web app', { skip: skip ?? false }, () => {
  const web = webSuite();
  const { closeAll } = web;
  const signedIn = (auth: AuthResult): Promise<Person> => web.signedIn(auth);

  /** The 1:1 conversation of `a` and `b`, opened over HTTP. */
  async function single(a: AuthResult, b: AuthResult): Promise<string> {
    const res = await web.api.post<Conversation>('/api/conversations', { targetUserId: b.user.userId }, a.token);
    assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
    return res.body.data.conversationId;
  }

  /** `who` sends `text` to the conversation over its own WebSocket; resolves once the server stored it. */
  async function say(who: AuthResult, conversationId: string, text: string): Promise<void> {
    const ws = await WsClient.connect(web.srv.wsUrl, who.token);
    try {
      ws.sendMessage(conversationId, text, `t-${Date.now()}-${Math.random()}`);
      await ws.nextOfType('message-ack');
    } finally {
      ws.close();
    }
  }

  test('pinning moves a conversation to the top, above newer activity, and a reload keeps it there', async () => {
    const [ann, ben, cal] = [await web.api.user('ann'), await web.api.user('ben'), await web.api.user('cal')];
    const [withBen, withCal] = [await single(ann, ben), await single(ann, cal)];
    await say(ben, withBen, 'from ben');
    await say(cal, withCal, 'from cal');
    const me = await signedIn(ann);
    const { page } = me;
    const names = [ben.user.username, cal.user.username];
    await expectOrder(page, [cal.user.username, ben.user.username]);
    await expectCount(page.getByTestId('pin-marker'), 0);

    // The menu is a real menu: it says it is open, and Escape closes it and gives the focus back.
    const menuButton = row(page, ben.user.username).getByTestId('conversation-menu');
    await menuButton.click();
    await expectAttribute(menuButton, 'aria-expanded', 'true');
    await expectText(row(page, ben.user.username).getByTestId('toggle-pin'), 'Pin to top');
    await page.keyboard.press('Escape');
    await expectCount(page.getByTestId('conversation-menu-items'), 0);
    await expectAttribute(menuButton, 'aria-expanded', 'false');
    // Eventually: a list re-render (a frame arriving) replaces the row, and puts the focus back on its new button.
    await eventually(async () => assert.equal(await menuButton.evaluate((button) => button === document.activeElement), true));

    await fromMenu(page, ben.user.username, 'toggle-pin');
    await expectCount(row(page, ben.user.username).getByTestId('pin-marker'), 1);
    await expectAttribute(conversationEntry(page, ben.user.username), 'data-pinned', 'true');
    await expectOrder(page, [ben.user.username, cal.user.username]);
    // First of the whole list (above the world room too).
    await expectText(page.getByTestId('conversation-name'), ben.user.username);

    // Newer activity elsewhere does not move the pinned one down.
    await say(cal, withCal, 'cal again');
    await expectText(conversationEntry(page, cal.user.username).getByTestId('conversation-last'), `${cal.user.username}: cal again`);
    await expectOrder(page, [ben.user.username, cal.user.username]);

    // The server keeps it: a reload lists it first, still marked.
    await page.reload();
    await expectText(page.getByTestId('me-name'), ann.user.username);
    await expectText(page.getByTestId('conversation-name'), ben.user.username);
    assert.deepEqual(await orderOf(page, names), [ben.user.username, cal.user.username]);
    await expectCount(row(page, ben.user.username).getByTestId('pin-marker'), 1);

    // Unpinned, it goes back to its place by activity.
    await row(page, ben.user.username).getByTestId('conversation-menu').click();
    await expectText(row(page, ben.user.username).getByTestId('toggle-pin'), 'Unpin');
    await row(page, ben.user.username).getByTestId('toggle-pin').click();
    await expectCount(page.getByTestId('pin-marker'), 0);
    await expectOrder(page, [cal.user.username, ben.user.username]);
    assert.deepEqual(me.dialogs, []);
    await closeAll(me);
  });

  test('a muted conversation shows its marker; a new message still arrives and counts, in the muted style', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const withBen = await single(ann, ben);
    await say(ben, withBen, 'first');
    const me = await signedIn(ann);
    const { page } = me;
    const entry = conversationEntry(page, ben.user.username);
    await expectText(entry.getByTestId('unread-badge'), '1');
    await expectAttribute(entry.getByTestId('unread-badge'), 'data-muted', 'false');
    await expectCount(entry.getByTestId('muted-marker'), 0);

    await fromMenu(page, ben.user.username, 'toggle-mute');
    await expectCount(entry.getByTestId('muted-marker'), 1);
    await expectAttribute(entry, 'data-muted', 'true');
    await expectAttribute(entry.getByTestId('unread-badge'), 'data-muted', 'true');

    // Muted is not blocked: the message is delivered live and counted unread, quietly.
    await say(ben, withBen, 'while muted');
    await expectText(entry.getByTestId('conversation-last'), `${ben.user.username}: while muted`);
    await expectText(entry.getByTestId('unread-badge'), '2');
    await expectAttribute(entry.getByTestId('unread-badge'), 'data-muted', 'true');
    const muted = await entry.getByTestId('unread-badge').evaluate((badge) => getComputedStyle(badge).backgroundColor);
    await openConversation(me, ben.user.username);
    await expectCount(entry.getByTestId('unread-badge'), 0);

    // The server keeps it over a reload; unmuted, the marker goes and the badge is the loud one again.
    await page.reload();
    await expectText(page.getByTestId('me-name'), ann.user.username);
    await expectCount(entry.getByTestId('muted-marker'), 1);
    await fromMenu(page, ben.user.username, 'toggle-mute');
    await expectCount(entry.getByTestId('muted-marker'), 0);
    await say(ben, withBen, 'after unmute');
    await expectText(entry.getByTestId('unread-badge'), '1');
    await expectAttribute(entry.getByTestId('unread-badge'), 'data-muted', 'false');
    const loud = await entry.getByTestId('unread-badge').evaluate((badge) => getComputedStyle(badge).backgroundColor);
    assert.notEqual(muted, loud, 'a muted badge looks different from an unmuted one');
    assert.deepEqual(me.dialogs, []);
    await closeAll(me);
  });

  test('hiding removes the row (the open pane stays); a new message from the other person brings it back', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const withBen = await single(ann, ben);
    await say(ben, withBen, 'hello');
    const me = await signedIn(ann);
    const { page } = me;
    const entry = conversationEntry(page, ben.user.username);

    // Hidden while open: the row goes, the conversation being read stays on screen.
    await openConversation(me, ben.user.username);
    await fromMenu(page, ben.user.username, 'hide-conversation');
    await expectCount(row(page, ben.user.username), 0);
    await expectText(page.getByTestId('conversation-title'), ben.user.username);

    // Ben writes: the row is back at once, with his message.
    await say(ben, withBen, 'you there?');
    await expectText(entry.getByTestId('conversation-last'), `${ben.user.username}: you there?`);
    // Read where it was shown (the pane is open on it): the server has it read before the reload below.
    await eventually(async () => {
      const res = await web.api.get<Conversation>(`/api/conversations/${withBen}`, ann.token);
      assert.deepEqual([res.body.data.lastMessage?.content, res.body.data.unreadCount], ['you there?', 0]);
    });

    // Hidden again, and the server agrees: a reload does not list it.
    await fromMenu(page, ben.user.username, 'hide-conversation');
    await expectCount(row(page, ben.user.username), 0);
    await page.reload();
    await expectText(page.getByTestId('me-name'), ann.user.username);
    await expectCount(page.getByTestId('conversation'), 1); // only the world room
    await expectCount(row(page, ben.user.username), 0);

    // A conversation this page never listed comes back with its next message, counted unread.
    await say(ben, withBen, 'back again');
    await expectText(entry.getByTestId('conversation-last'), `${ben.user.username}: back again`);
    await expectText(entry.getByTestId('unread-badge'), '1');
    assert.deepEqual(me.dialogs, []);
    await closeAll(me);
  });

  test('the same user on two pages: pin, mute and hide on one show live on the other', async () => {
    const [ann, ben, cal] = [await web.api.user('ann'), await web.api.user('ben'), await web.api.user('cal')];
    const [withBen, withCal] = [await single(ann, ben), await single(ann, cal)];
    await say(ben, withBen, 'from ben');
    await say(cal, withCal, 'from cal');
    const [phone, laptop] = [await signedIn(ann), await signedIn(ann)];
    const names = [cal.user.username, ben.user.username];
    for (const device of [phone, laptop]) await expectOrder(device.page, names);

    await fromMenu(phone.page, ben.user.username, 'toggle-pin');
    await expectCount(row(laptop.page, ben.user.username).getByTestId('pin-marker'), 1);
    await expectOrder(laptop.page, [ben.user.username, cal.user.username]);
    await expectText(laptop.page.getByTestId('conversation-name'), ben.user.username);

    await fromMenu(laptop.page, cal.user.username, 'toggle-mute');
    await expectCount(row(phone.page, cal.user.username).getByTestId('muted-marker'), 1);
    await expectAttribute(conversationEntry(phone.page, cal.user.username), 'data-muted', 'true');

    await fromMenu(phone.page, cal.user.username, 'hide-conversation');
    await expectCount(row(laptop.page, cal.user.username), 0);
    // Cal writes: both pages list it again, still muted.
    await say(cal, withCal, 'unarchive me');
    for (const device of [phone, laptop]) {
      await expectText(conversationEntry(device.page, cal.user.username).getByTestId('conversation-last'), `${cal.user.username}: unarchive me`);
      await expectAttribute(conversationEntry(device.page, cal.user.username), 'data-muted', 'true');
      await expectOrder(device.page, [ben.user.username, cal.user.username]);
    }
    assert.deepEqual(phone.dialogs.concat(laptop.dialogs), []);
    await closeAll(phone, laptop);
  });
});
