/**
 * Message actions in the web app, in a real Chromium against the real server: reply (the quote
 * jumps to the original, reading older history for it), reactions (mine pressed, on every page),
 * edit (marked), recall (a placeholder, and every quote of it says so), a group admin removing a
 * message, and a page that was offline while all that happened converging when it is back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import type { AuthResult, Conversation, Message } from '../../src/protocol/index.js';
import { fullHistory } from '../helpers/client.js';
import { browserSkipReason, bubble, conversationEntry, eventually, expectAttribute, expectCount, expectText, openConversation, send, type Person, webSuite } from './browser.js';

const skip = browserSkipReason();

type Signed = Person & { auth: AuthResult };

/** The bubble of a stored message, by id (a recalled one has no content to find it by). */
const byId = (page: Page, messageId: string) => page.locator(`[data-testid="message"][data-message-id="${messageId}"]`);
/** A reaction chip of a bubble. */
const chip = (message: Locator, emoji: string) => message.locator(`[data-testid="reaction"][data-emoji="${emoji}"]`);

/** Opens a bubble's "⋯" menu; resolves once it is shown. */
async function menu(message: Locator): Promise<Locator> {
  await message.getByTestId('message-actions').click();
  const opened = message.getByTestId('message-menu');
  await opened.waitFor();
  return opened;
}

/** The chip's count and whether it is pressed (mine), as shown. */
async function chipState(message: Locator, emoji: string): Promise<{ count: string; mine: string | null; pressed: string | null }> {
  const c = chip(message, emoji);
  return {
    count: ((await c.getByTestId('reaction-count').textContent({ timeout: 1_000 })) ?? '').trim(),
    mine: await c.getAttribute('data-mine', { timeout: 1_000 }),
    pressed: await c.getAttribute('aria-pressed', { timeout: 1_000 }),
  };
}

async function expectChip(message: Locator, emoji: string, count: number, mine: boolean, timeoutMs?: number): Promise<void> {
  await eventually(async () => assert.deepEqual(await chipState(message, emoji), { count: String(count), mine: String(mine), pressed: String(mine) }), timeoutMs);
}

/** Whether `message` lies inside the visible part of the conversation's scroller. */
async function inView(page: Page, message: Locator): Promise<boolean> {
  const [box, view] = [await message.boundingBox(), await page.getByTestId('message-scroller').boundingBox()];
  return box !== null && view !== null && box.y >= view.y - 1 && box.y + box.height <= view.y + view.height + 1;
}

describe('message actions in the web app', { skip: skip ?? false }, () => {
  const web = webSuite();
  const { closeAll } = web;
  const page = (auth: AuthResult): Promise<Signed> => web.signedIn(auth);

  async function single(a: AuthResult, b: AuthResult): Promise<string> {
    const res = await web.api.post<Conversation>('/api/conversations', { targetUserId: b.user.userId }, a.token);
    assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
    return res.body.data.conversationId;
  }

  let sent = 0;
  /** `who` posts a message over HTTP (a faster setup than typing, and the only way to set `extra`). */
  async function post(who: AuthResult, conversationId: string, content: string, more: { replyTo?: string; extra?: Record<string, unknown> } = {}): Promise<Message> {
    const res = await web.api.post<Message>(`/api/conversations/${conversationId}/messages`, { content, tempMessageId: `web-actions-${++sent}`, ...more }, who.token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data;
  }

  test('a reply quotes its original; the quote jumps to it, reading older history for it; cancel drops the reply', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const chat = await single(ann, ben);
    const original = await post(ann, chat, 'Where shall we meet?');
    for (let i = 1; i <= 40; i++) await post(i % 2 ? ben : ann, chat, `filler ${i}`);
    const [annPage, benPage] = [await page(ann), await page(ben)];
    await openConversation(annPage, ben.user.username);
    await openConversation(benPage, ann.user.username);
    await expectCount(byId(benPage.page, original.messageId), 0); // older than the first page

    // Reply from the menu: the bar says to what; Cancel (and Escape) drop it, and the send is a plain one.
    const target = bubble(benPage.page, 'filler 40');
    await (await menu(target)).getByTestId('action-reply').click();
    const bar = benPage.page.getByTestId('reply-bar');
    await expectText(bar.getByTestId('context-title'), `Replying to ${ann.user.username}`);
    await expectText(bar.getByTestId('context-preview'), 'filler 40');
    await bar.getByTestId('cancel-reply').click();
    await expectCount(benPage.page.getByTestId('reply-bar'), 0);
    await (await menu(target)).getByTestId('action-reply').click();
    await benPage.page.getByTestId('composer-input').press('Escape');
    await expectCount(benPage.page.getByTestId('reply-bar'), 0);
    await send(benPage, 'not a reply');
    await expectCount(bubble(benPage.page, 'not a reply').getByTestId('reply-quote'), 0);

    await (await menu(target)).getByTestId('action-reply').click();
    await send(benPage, 'Agreed!');
    await expectCount(benPage.page.getByTestId('reply-bar'), 0);
    for (const p of [benPage, annPage]) {
      const quote = bubble(p.page, 'Agreed!').getByTestId('reply-quote');
      await expectText(quote.getByTestId('reply-quote-sender'), p === annPage ? 'You' : ann.user.username);
      await expectText(quote.getByTestId('reply-quote-text'), 'filler 40');
    }
    // The server stored it as a reply (the quote is not only on the sender's screen).
    const stored = (await fullHistory(web.api, chat, ann.token)).find((m) => m.content === 'Agreed!');
    assert.equal(stored?.replyTo?.messageId, await target.getAttribute('data-message-id'));

    // A reply to a message far back: pressing its quote loads history back to it and highlights it.
    await post(ann, chat, 'At the station', { replyTo: original.messageId });
    const quote = bubble(benPage.page, 'At the station').getByTestId('reply-quote');
    await expectText(quote.getByTestId('reply-quote-text'), 'Where shall we meet?');
    await quote.click();
    const shown = byId(benPage.page, original.messageId);
    await expectAttribute(shown, 'data-highlighted', 'true');
    await expectText(shown.getByTestId('message-content'), 'Where shall we meet?');
    await eventually(async () => assert.ok(await inView(benPage.page, shown), 'the original is scrolled into view'));
    // The keyboard is at the original too.
    assert.equal(await shown.evaluate((node) => node === document.activeElement), true);
    // And every message in between is there: no hole in the history.
    await eventually(async () => assert.ok((await benPage.page.getByTestId('message').count()) >= 44));
    for (const p of [annPage, benPage]) assert.deepEqual(p.dialogs, []);
    await closeAll(annPage, benPage);
  });

  test('a message’s extra is never rendered as markup', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const chat = await single(ann, ben);
    const benPage = await page(ben);
    await openConversation(benPage, ann.user.username);
    await post(ann, chat, 'with extra', { extra: { html: '<img src=x onerror=alert(1)>', card: { title: '<script>alert(2)</script>' } } });
    await expectText(bubble(benPage.page, 'with extra').getByTestId('message-content'), 'with extra');
    assert.equal(await benPage.page.locator('#app img, #app script').count(), 0, 'no element was created from extra');
    assert.equal(await benPage.page.getByText('onerror').count(), 0, 'extra is not shown at all');
    assert.deepEqual(benPage.dialogs, []);
    await closeAll(benPage);
  });

  test('reactions: counts on both pages, mine pressed on mine only, a chip toggles, and who reacted is listed', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const chat = await single(ann, ben);
    const [annPage, benPage] = [await page(ann), await page(ben)];
    await openConversation(annPage, ben.user.username);
    await openConversation(benPage, ann.user.username);
    await send(annPage, 'Lunch at noon?');
    const onAnn = bubble(annPage.page, 'Lunch at noon?');
    const onBen = bubble(benPage.page, 'Lunch at noon?');
    await onBen.waitFor();

    // Ben reacts with the keyboard: the menu button opens the picker with the focus on its first emoji.
    await onBen.getByTestId('message-actions').focus();
    await benPage.page.keyboard.press('Enter');
    await expectAttribute(onBen.getByTestId('message-actions'), 'aria-expanded', 'true');
    assert.equal(await onBen.locator('[data-testid="pick-reaction"][data-emoji="👍"]').evaluate((b) => b === document.activeElement), true);
    await benPage.page.keyboard.press('Enter');
    await expectCount(onBen.getByTestId('message-menu'), 0);
    await expectChip(onBen, '👍', 1, true);
    await expectChip(onAnn, '👍', 1, false);

    // Ann presses the chip: hers too, on both pages; each page presses only its user's own.
    await chip(onAnn, '👍').click();
    await expectChip(onAnn, '👍', 2, true);
    await expectChip(onBen, '👍', 2, true);
    // Ann adds another from the picker: hers alone.
    await (await menu(onAnn)).locator('[data-testid="pick-reaction"][data-emoji="❤️"]').click();
    await expectChip(onAnn, '❤️', 1, true);
    await expectChip(onBen, '❤️', 1, false);

    // Who reacted: each reactor with the emoji, oldest first.
    await onBen.getByTestId('reactions-who').click();
    const reactors = benPage.page.getByTestId('reactors-dialog').getByTestId('reactor');
    await expectCount(reactors, 3);
    const listed = await reactors.evaluateAll((rows) => rows.map((r) => [(r as HTMLElement).dataset.emoji, r.querySelector('.reactor-name')?.textContent]));
    assert.deepEqual(listed, [
      ['👍', `${ben.user.username} (you)`],
      ['👍', ann.user.username],
      ['❤️', ann.user.username],
    ]);
    await benPage.page.getByTestId('reactors-dialog').getByTestId('dialog-close').click();
    await expectCount(benPage.page.getByTestId('reactors-dialog'), 0);

    // Ben takes his back by pressing his chip; Ann's stays hers.
    await chip(onBen, '👍').click();
    await expectChip(onBen, '👍', 1, false);
    await expectChip(onAnn, '👍', 1, true);
    // Ann takes back her ❤️ from the picker (it shows it checked): the chip goes everywhere.
    const picker = await menu(onAnn);
    await expectAttribute(picker.locator('[data-testid="pick-reaction"][data-emoji="❤️"]'), 'aria-checked', 'true');
    await picker.locator('[data-testid="pick-reaction"][data-emoji="❤️"]').click();
    for (const m of [onAnn, onBen]) await expectCount(chip(m, '❤️'), 0);

    // The server keeps it: a reload shows the same, mine still pressed.
    await annPage.page.reload();
    await openConversation(annPage, ben.user.username);
    await expectChip(bubble(annPage.page, 'Lunch at noon?'), '👍', 1, true);
    const history = await fullHistory(web.api, chat, ben.token);
    assert.deepEqual(history.at(-1)?.reactions, [{ emoji: '👍', count: 1 }]);
    for (const p of [annPage, benPage]) assert.deepEqual(p.dialogs, []);
    await closeAll(annPage, benPage);
  });

  test('an edit replaces the text on every page with an "edited" mark; only the sender is offered it', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    await single(ann, ben);
    const [annPage, benPage] = [await page(ann), await page(ben)];
    await openConversation(annPage, ben.user.username);
    await openConversation(benPage, ann.user.username);
    await send(annPage, 'See you at 5');
    await send(benPage, 'ok');
    await bubble(annPage.page, 'ok').waitFor();

    // Not offered on someone else's message.
    await menu(bubble(benPage.page, 'See you at 5'));
    await expectCount(bubble(benPage.page, 'See you at 5').getByTestId('action-edit'), 0);
    await benPage.page.keyboard.press('Escape');
    await expectCount(benPage.page.getByTestId('message-menu'), 0);

    // What Ann was typing comes back after the edit; Escape leaves the edit changing nothing.
    const input = annPage.page.getByTestId('composer-input');
    await input.fill('half-typed draft');
    await (await menu(bubble(annPage.page, 'See you at 5'))).getByTestId('action-edit').click();
    await annPage.page.getByTestId('edit-bar').waitFor();
    assert.equal(await input.inputValue(), 'See you at 5');
    await input.press('Escape');
    await expectCount(annPage.page.getByTestId('edit-bar'), 0);
    assert.equal(await input.inputValue(), 'half-typed draft');
    await expectAttribute(bubble(annPage.page, 'See you at 5'), 'data-edited', 'false');

    await (await menu(bubble(annPage.page, 'See you at 5'))).getByTestId('action-edit').click();
    await input.fill('See you at 6');
    await input.press('Enter');
    await expectCount(annPage.page.getByTestId('edit-bar'), 0);
    assert.equal(await input.inputValue(), 'half-typed draft');
    for (const p of [annPage, benPage]) {
      const edited = bubble(p.page, 'See you at 6');
      await expectText(edited.getByTestId('message-edited'), 'edited');
      await expectAttribute(edited, 'data-edited', 'true');
      await expectCount(bubble(p.page, 'See you at 5'), 0);
    }
    // Edited in place, not added: still two messages, in their order.
    assert.deepEqual(await benPage.page.getByTestId('message-content').allTextContents(), ['See you at 6', 'ok']);
    // The server has it, marked.
    await benPage.page.reload();
    await openConversation(benPage, ann.user.username);
    await expectText(bubble(benPage.page, 'See you at 6').getByTestId('message-edited'), 'edited');
    for (const p of [annPage, benPage]) assert.deepEqual(p.dialogs, []);
    await closeAll(annPage, benPage);
  });

  test('a recall leaves a placeholder on every page, and a reply’s quote of it says recalled', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const chat = await single(ann, ben);
    const [annPage, benPage] = [await page(ann), await page(ben)];
    await openConversation(annPage, ben.user.username);
    await openConversation(benPage, ann.user.username);
    await send(annPage, 'my secret plan');
    const onBen = bubble(benPage.page, 'my secret plan');
    await (await menu(onBen)).getByTestId('action-reply').click();
    await send(benPage, 'love it');
    await expectText(bubble(annPage.page, 'love it').getByTestId('reply-quote-text'), 'my secret plan');
    const id = (await bubble(annPage.page, 'my secret plan').getAttribute('data-message-id'))!;

    // In a 1:1 only the sender may recall.
    await menu(onBen);
    await expectCount(onBen.getByTestId('action-recall'), 0);
    await benPage.page.keyboard.press('Escape');

    // Asked first; Cancel keeps it.
    await (await menu(bubble(annPage.page, 'my secret plan'))).getByTestId('action-recall').click();
    await annPage.page.getByTestId('confirm-dialog').getByTestId('dialog-cancel').click();
    await expectAttribute(byId(annPage.page, id), 'data-recalled', 'false');
    await (await menu(bubble(annPage.page, 'my secret plan'))).getByTestId('action-recall').click();
    await annPage.page.getByTestId('confirm-dialog').getByTestId('dialog-submit').click();

    await expectText(byId(annPage.page, id).getByTestId('message-recalled'), 'You recalled a message');
    await expectText(byId(benPage.page, id).getByTestId('message-recalled'), 'Message recalled');
    for (const p of [annPage, benPage]) {
      await expectAttribute(byId(p.page, id), 'data-recalled', 'true');
      await expectCount(p.page.getByText('my secret plan'), 0);
      // No actions on what is gone.
      await expectCount(byId(p.page, id).getByTestId('message-actions'), 0);
      const quote = bubble(p.page, 'love it').getByTestId('reply-quote');
      await expectAttribute(quote, 'data-recalled', 'true');
      await expectText(quote.getByTestId('reply-quote-text'), 'Message recalled');
    }
    // A recalled last message is what the list previews, as recalled.
    await send(annPage, 'and another thing');
    await expectText(conversationEntry(benPage.page, ann.user.username).getByTestId('conversation-last'), `${ann.user.username}: and another thing`);
    await (await menu(bubble(annPage.page, 'and another thing'))).getByTestId('action-recall').click();
    await annPage.page.getByTestId('confirm-dialog').getByTestId('dialog-submit').click();
    await expectText(conversationEntry(benPage.page, ann.user.username).getByTestId('conversation-last'), 'Message recalled');
    await expectText(conversationEntry(annPage.page, ben.user.username).getByTestId('conversation-last'), 'You recalled a message');
    // The server agrees after a reload.
    await benPage.page.reload();
    await openConversation(benPage, ann.user.username);
    await expectText(byId(benPage.page, id).getByTestId('message-recalled'), 'Message recalled');
    await expectText(bubble(benPage.page, 'love it').getByTestId('reply-quote-text'), 'Message recalled');
    assert.equal((await fullHistory(web.api, chat, ben.token)).find((m) => m.messageId === id)?.content, '');
    for (const p of [annPage, benPage]) assert.deepEqual(p.dialogs, []);
    await closeAll(annPage, benPage);
  });

  test('a group’s owner removes a member’s message; a member may not; an admin made live may', async () => {
    const [ann, ben, cal] = [await web.api.user('ann'), await web.api.user('ben'), await web.api.user('cal')];
    const name = `Club ${Date.now().toString(36)}`;
    const created = await web.api.post<{ conversation: Conversation }>('/api/groups', { groupName: name, members: [ben.user.userId, cal.user.userId] }, ann.token);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const group = created.body.data.conversation.conversationId;
    const spam = await post(cal, group, 'buy cheap watches');
    const more = await post(cal, group, 'more cheap watches');
    const [annPage, benPage, calPage] = [await page(ann), await page(ben), await page(cal)];
    for (const p of [annPage, benPage, calPage]) await openConversation(p, name);

    // A system line has no actions; a plain member cannot remove another's message.
    await expectCount(annPage.page.getByTestId('system-message').getByTestId('message-actions'), 0);
    await menu(byId(benPage.page, spam.messageId));
    await expectCount(byId(benPage.page, spam.messageId).getByTestId('action-recall'), 0);
    await benPage.page.keyboard.press('Escape');

    // The owner can, at any time; it reads "Remove".
    const ownerMenu = await menu(byId(annPage.page, spam.messageId));
    await expectText(ownerMenu.getByTestId('action-recall'), 'Remove');
    await ownerMenu.getByTestId('action-recall').click();
    await annPage.page.getByTestId('confirm-dialog').getByTestId('dialog-submit').click();
    for (const p of [annPage, benPage, calPage]) {
      await expectText(byId(p.page, spam.messageId).getByTestId('message-recalled'), 'Message removed by an admin');
    }
    const removed = (await fullHistory(web.api, group, cal.token)).find((m) => m.messageId === spam.messageId);
    assert.deepEqual([removed?.content, removed?.recalledBy], ['', ann.user.userId]);

    // Ben is made an admin: his open page offers Remove from then on, without a reload.
    const promoted = await web.api.put(`/api/conversations/${group}/members/${ben.user.userId}`, { role: 'admin' }, ann.token);
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    await eventually(async () => {
      await benPage.page.keyboard.press('Escape');
      await (await menu(byId(benPage.page, more.messageId))).getByTestId('action-recall').waitFor({ timeout: 1_000 });
    });
    await byId(benPage.page, more.messageId).getByTestId('action-recall').click();
    await benPage.page.getByTestId('confirm-dialog').getByTestId('dialog-submit').click();
    for (const p of [annPage, benPage, calPage]) await expectAttribute(byId(p.page, more.messageId), 'data-recalled', 'true');
    for (const p of [annPage, benPage, calPage]) assert.deepEqual(p.dialogs, []);
    await closeAll(annPage, benPage, calPage);
  });

  test('pages offline while messages are recalled, edited and reacted to show it all once back', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    await single(ann, ben);
    // Ann on two devices; Ben, the peer, on one.
    const [phone, laptop, benPage] = [await page(ann), await page(ann), await page(ben)];
    for (const p of [phone, laptop]) await openConversation(p, ben.user.username);
    await openConversation(benPage, ann.user.username);
    for (const text of ['to recall', 'to edit', 'to react']) await send(phone, text);
    const toRecall = (await bubble(phone.page, 'to recall').getAttribute('data-message-id'))!;
    // Before: Ann's 🎉 on "to react", shown pressed on her laptop.
    await (await menu(bubble(phone.page, 'to react'))).locator('[data-testid="pick-reaction"][data-emoji="🎉"]').click();
    await expectChip(bubble(laptop.page, 'to react'), '🎉', 1, true);
    await expectChip(bubble(benPage.page, 'to react'), '🎉', 1, false);

    for (const p of [laptop, benPage]) {
      await p.context.setOffline(true);
      await eventually(async () => assert.notEqual(await p.page.getByTestId('connection-state').textContent(), 'Online'));
    }
    // On the phone: recall one, edit one, swap the 🎉 for a 👍.
    await (await menu(bubble(phone.page, 'to recall'))).getByTestId('action-recall').click();
    await phone.page.getByTestId('confirm-dialog').getByTestId('dialog-submit').click();
    await expectAttribute(byId(phone.page, toRecall), 'data-recalled', 'true');
    await (await menu(bubble(phone.page, 'to edit'))).getByTestId('action-edit').click();
    await phone.page.getByTestId('composer-input').fill('edited while you were away');
    await phone.page.getByTestId('composer-input').press('Enter');
    await bubble(phone.page, 'edited while you were away').getByTestId('message-edited').waitFor();
    await chip(bubble(phone.page, 'to react'), '🎉').click();
    await expectCount(chip(bubble(phone.page, 'to react'), '🎉'), 0);
    await (await menu(bubble(phone.page, 'to react'))).locator('[data-testid="pick-reaction"][data-emoji="👍"]').click();
    await expectChip(bubble(phone.page, 'to react'), '👍', 1, true);

    // The offline pages saw none of it.
    for (const p of [laptop, benPage]) {
      await expectAttribute(byId(p.page, toRecall), 'data-recalled', 'false');
      await expectCount(bubble(p.page, 'to edit'), 1);
      await expectCount(chip(bubble(p.page, 'to react'), '🎉'), 1);
    }

    // Back online: each page catches up to the same state, with mine pressed only on Ann's.
    for (const p of [laptop, benPage]) await p.context.setOffline(false);
    for (const p of [laptop, benPage]) {
      await expectText(p.page.getByTestId('connection-state'), 'Online', 20_000);
      await expectAttribute(byId(p.page, toRecall), 'data-recalled', 'true', 20_000);
      await expectText(bubble(p.page, 'edited while you were away').getByTestId('message-edited'), 'edited', 20_000);
      await expectCount(bubble(p.page, 'to edit'), 0);
      const reacted = bubble(p.page, 'to react');
      await expectCount(chip(reacted, '🎉'), 0, 20_000);
      await expectChip(reacted, '👍', 1, p === laptop, 20_000);
    }
    await expectText(byId(benPage.page, toRecall).getByTestId('message-recalled'), 'Message recalled');
    await expectText(byId(laptop.page, toRecall).getByTestId('message-recalled'), 'You recalled a message');
    // Nothing was added or lost on the way: the same messages, in the same order, everywhere.
    const order = (p: Person) => p.page.getByTestId('message').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.messageId));
    const expected = await order(phone);
    for (const p of [laptop, benPage]) assert.deepEqual(await order(p), expected);
    for (const p of [phone, laptop, benPage]) assert.deepEqual(p.dialogs, []);
    await closeAll(phone, laptop, benPage);
  });
});
