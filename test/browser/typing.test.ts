/**
 * Typing indicators in the web app, in a real Chromium against the real server: what one user types
 * in the composer shows as "<name> is typing…" under the other user's conversation header, and it
 * goes away as soon as the message is sent (well before the indicator's 6 s expiry).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Conversation } from '../../src/protocol/index.js';
import { bubble, browserSkipReason, eventually, expectText, openConversation, webSuite } from './browser.js';

const skip = browserSkipReason();

describe('typing indicators in the web app', { skip: skip ?? false }, () => {
  const web = webSuite();

  test('A types in the composer, B sees "A is typing…"; it disappears when A sends', async () => {
    const [ann, ben] = [await web.api.user('ann'), await web.api.user('ben')];
    const chat = (await web.api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data.conversationId;
    await web.api.post(`/api/conversations/${chat}/messages`, { content: 'hello', tempMessageId: `t-${Date.now()}` }, ann.token);
    const a = await web.signedIn(ann);
    const b = await web.signedIn(ben);
    try {
      await openConversation(a, ben.user.username);
      await openConversation(b, ann.user.username);
      const indicator = b.page.getByTestId('typing-indicator');
      assert.equal(await indicator.isVisible(), false, 'nobody is typing yet');

      await a.page.getByTestId('composer-input').pressSequentially('Are you', { delay: 20 });
      await expectText(indicator, `${ann.user.username} is typing…`, 5_000);
      assert.ok(await indicator.isVisible());
      assert.ok(a.framesSent.some((f) => f.type === 'typing'), JSON.stringify(a.framesSent));
      assert.equal(await a.page.getByTestId('typing-indicator').isVisible(), false, 'never for my own typing');

      await a.page.getByTestId('composer-input').press('Enter');
      await bubble(b.page, 'Are you').waitFor();
      // Gone with the send, not by the 6 s expiry.
      await eventually(async () => assert.equal(await indicator.isVisible(), false), 2_000);
      assert.ok(a.framesSent.some((f) => f.type === 'stop-typing'), JSON.stringify(a.framesSent));
      assert.deepEqual(a.dialogs.concat(b.dialogs), []);
    } finally {
      await web.closeAll(a, b);
    }
  });
});
