/**
 * Read state follows the user across tabs and devices in the web app, in a real Chromium against
 * the real server: reading a conversation in one tab sends the socket's mark-read up to the newest
 * message shown, and the server's conversation-read clears the badge in every other tab and on every
 * other device of the user, live, without a reload.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { AuthResult, Conversation, Message } from '../../src/protocol/index.js';
import { browserSkipReason, conversationEntry, expectCount, expectText, openConversation, webSuite } from './browser.js';

const skip = browserSkipReason();

describe('read state across tabs and devices in the web app', { skip: skip ?? false }, () => {
  const web = webSuite();

  async function say(who: AuthResult, conversationId: string, content: string): Promise<Message> {
    const res = await web.api.post<Message>(`/api/conversations/${conversationId}/messages`, { content, tempMessageId: `t-${Date.now()}-${Math.random()}` }, who.token);
    assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
    return res.body.data;
  }

  test('opening a conversation in one tab clears its badge in the other tab and on another device', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const chat = (await web.api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data.conversationId;
    const tab1 = await web.signedIn(ben);
    // A second tab of the same browser: the stored session signs it in.
    const tab2: Page = await tab1.context.newPage();
    await tab2.goto('/');
    await expectText(tab2.getByTestId('me-name'), ben.user.username);
    await expectText(tab2.getByTestId('connection-state'), 'Online');
    const laptop = await web.signedIn(ben);
    const pages = [tab1.page, tab2, laptop.page];
    try {
      const first = await say(ann, chat, 'Are you there?');
      for (const page of pages) {
        await expectText(conversationEntry(page, ann.user.username).getByTestId('conversation-last'), `${ann.user.username}: Are you there?`);
        await expectText(conversationEntry(page, ann.user.username).getByTestId('unread-badge'), '1');
      }

      await openConversation(tab1, ann.user.username);
      for (const page of pages) await expectCount(conversationEntry(page, ann.user.username).getByTestId('unread-badge'), 0);
      // Over the socket, up to the newest message shown.
      assert.ok(tab1.framesSent.some((f) => f.type === 'mark-read' && JSON.stringify(f.data) === JSON.stringify({ conversationId: chat, seqId: first.seqId })), JSON.stringify(tab1.framesSent));

      // A message that arrives while tab 1 shows the conversation: read there, so cleared everywhere.
      await say(ann, chat, 'Good, you are');
      for (const page of [tab2, laptop.page]) {
        await expectText(conversationEntry(page, ann.user.username).getByTestId('conversation-last'), `${ann.user.username}: Good, you are`);
        await expectCount(conversationEntry(page, ann.user.username).getByTestId('unread-badge'), 0);
      }
      const onServer = (await web.api.get<Conversation>(`/api/conversations/${chat}`, ben.token)).body.data;
      assert.deepEqual([onServer.unreadCount, onServer.lastReadSeq], [0, onServer.lastMessage!.seqId]);
      assert.deepEqual(tab1.dialogs.concat(laptop.dialogs), []);
    } finally {
      await web.closeAll(tab1, laptop);
    }
  });

  test('in a 1:1 my message shows ✓ sent, then ✓✓ read when the peer reads it, live', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const chat = (await web.api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data.conversationId;
    const earlier = await say(ann, chat, 'Read already');
    await web.api.put(`/api/conversations/${chat}/read`, { seqId: earlier.seqId }, ben.token);
    await say(ann, chat, 'Not read yet');
    const tab = await web.signedIn(ann);
    try {
      await openConversation(tab, ben.user.username);
      const status = (text: string) => tab.page.getByTestId('message').filter({ hasText: text }).getByTestId('message-status');
      // From the list's peerLastReadSeq, on opening.
      await expectText(status('Read already'), '✓✓');
      await expectText(status('Not read yet'), '✓');
      assert.equal(await status('Not read yet').getAttribute('aria-label'), 'sent');
      // Live: the peer reads on another device.
      await web.api.put(`/api/conversations/${chat}/read`, {}, ben.token);
      await expectText(status('Not read yet'), '✓✓');
      assert.equal(await status('Not read yet').getAttribute('aria-label'), 'read');
      assert.deepEqual(tab.dialogs, []);
    } finally {
      await web.closeAll(tab);
    }
  });
});
