/**
 * Not a check: writes the README's screenshot (a two-person chat) when asked to.
 * `npm run build && GOCHAT_SCREENSHOT=docs/screenshot.png node --test dist/test/browser/screenshot.test.js`
 */
import { test } from 'node:test';
import path from 'node:path';
import { browserSkipReason, launchChromium, newPerson, register, send, startChatWith, openConversation, startWebServer } from './browser.js';

const out = process.env.GOCHAT_SCREENSHOT;

test('README screenshot of a two-person chat', { skip: out ? (browserSkipReason() ?? false) : 'set GOCHAT_SCREENSHOT=<png path> to write it' }, async () => {
  await using srv = await startWebServer();
  const browser = await launchChromium();
  try {
    const alice = await newPerson(browser, srv.baseUrl, { width: 1100, height: 640 });
    const bob = await newPerson(browser, srv.baseUrl);
    await register(alice, 'alice', true);
    await register(bob, 'bob', true);
    await startChatWith(alice, bob.username);
    await send(alice, 'Hi Bob! Did you get the tickets?');
    await openConversation(bob, alice.username);
    await send(bob, 'Yes, two seats for Saturday!');
    await send(bob, 'Row 7, near the aisle.');
    await send(alice, 'Perfect, see you there.');
    await alice.page.getByTestId('composer-input').fill('Bringing snacks');
    await alice.page.screenshot({ path: path.resolve(out!) });
  } finally {
    await browser.close();
  }
});
