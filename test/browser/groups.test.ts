/**
 * Group administration in the web app, in a real Chromium against the real server: the info
 * panel offers what the caller's role allows, every change shows as a line in the timeline, and
 * the other members' pages follow live (a group appears, is renamed, or goes away with a notice).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { AuthResult } from '../../src/protocol/index.js';
import { browserSkipReason, conversationEntry, expectAttribute, expectCount, expectText, openConversation, type Person, webSuite } from './browser.js';

const skip = browserSkipReason();

/** The line a system message shows in the open conversation, exactly `text`. */
const systemLine = (page: Page, text: string) => page.getByTestId('system-message').and(page.getByText(text, { exact: true }));
/** A member's row in the open info panel. */
const memberRow = (page: Page, username: string) => page.locator(`[data-testid="group-member"][data-username="${username}"]`);

/** Opens the group info panel of the open conversation; resolves once its members are listed. */
async function openInfo(person: Person): Promise<void> {
  await person.page.getByTestId('group-info').click();
  await memberRow(person.page, person.username).waitFor();
}

async function closeInfo(person: Person): Promise<void> {
  await person.page.getByTestId('group-info-dialog').getByTestId('dialog-close').click();
  await expectCount(person.page.getByTestId('group-info-dialog'), 0);
}

/** Answers the open confirmation with its action button. */
async function confirm(person: Person, expectedMessage: RegExp): Promise<void> {
  const question = person.page.getByTestId('confirm-dialog');
  assert.match((await question.getByTestId('confirm-message').textContent()) ?? '', expectedMessage);
  await question.getByTestId('dialog-submit').click();
}

describe('group administration in the web app', { skip: skip ?? false }, () => {
  const web = webSuite();
  const { closeAll } = web;

  /** Users registered over HTTP, each then signed in on their own page (in order). */
  async function signedIn<const Names extends readonly string[]>(...prefixes: Names): Promise<{ [K in keyof Names]: Person & { auth: AuthResult } }> {
    const people: Array<Person & { auth: AuthResult }> = [];
    for (const prefix of prefixes) {
      people.push(await web.signedIn(await web.api.user(prefix)));
    }
    return people as { [K in keyof Names]: Person & { auth: AuthResult } };
  }

  /** A group `owner` created over HTTP with `members`; it appears live on every signed-in page. */
  async function group(owner: Person & { auth: AuthResult }, members: Array<Person & { auth: AuthResult }>): Promise<string> {
    const name = `Group ${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
    const res = await web.api.post('/api/groups', { groupName: name, members: members.map((m) => m.auth.user.userId) }, owner.auth.token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return name;
  }

  test('the owner adds a member from the info panel; the group appears live on their page with the "added" line', async () => {
    const [ann, ben, cal] = await signedIn('ann', 'ben', 'cal');
    const name = await group(ann, [ben]);
    await openConversation(ann, name);
    await openInfo(ann);
    await expectText(ann.page.getByTestId('group-info-count'), '2 members · you are the owner');

    // A name nobody has is refused with the server's message, and nobody is added.
    await ann.page.getByTestId('group-add-input').fill('nobodyhasthisname');
    await ann.page.getByTestId('group-add').click();
    await expectText(ann.page.getByTestId('group-info-error'), 'No user named "nobodyhasthisname"');
    await expectCount(ann.page.getByTestId('group-member'), 2);

    await ann.page.getByTestId('group-add-input').fill(cal.username);
    await ann.page.getByTestId('group-add').click();
    await expectAttribute(memberRow(ann.page, cal.username), 'data-role', 'member');
    await expectText(ann.page.getByTestId('group-info-count'), '3 members · you are the owner');
    await expectText(ann.page.getByTestId('group-info-error'), '');
    await closeInfo(ann);
    await systemLine(ann.page, `You added ${cal.username}`).waitFor();
    await expectText(ann.page.getByTestId('conversation-pane').locator('.subtitle'), '3 members');

    // Cal had nothing open: the group is in the list at once, with the line as its one unread.
    const entry = conversationEntry(cal.page, name);
    await expectText(entry.getByTestId('conversation-last'), `${ann.username} added you`);
    await expectText(entry.getByTestId('unread-badge'), '1');
    await openConversation(cal, name);
    await systemLine(cal.page, `${ann.username} added you`).waitFor();
    await expectCount(entry.getByTestId('unread-badge'), 0);
    // Ben, who was there before, reads it with names.
    await openConversation(ben, name);
    await systemLine(ben.page, `${ann.username} added ${cal.username}`).waitFor();
    for (const p of [ann, ben, cal]) assert.deepEqual(p.dialogs, []);
    await closeAll(ann, ben, cal);
  });

  test('the owner removes a member: the removed member’s open pane closes with a notice and the entry goes', async () => {
    const [ann, ben] = await signedIn('ann', 'ben');
    const name = await group(ann, [ben]);
    await openConversation(ben, name);
    await openConversation(ann, name);
    await openInfo(ann);

    // Asked first; Cancel changes nothing.
    await memberRow(ann.page, ben.username).getByTestId('member-remove').click();
    await ann.page.getByTestId('confirm-dialog').getByTestId('dialog-cancel').click();
    await expectCount(ann.page.getByTestId('confirm-dialog'), 0);
    await expectCount(memberRow(ann.page, ben.username), 1);

    await memberRow(ann.page, ben.username).getByTestId('member-remove').click();
    await confirm(ann, new RegExp(`${ben.username} will no longer be in`));
    await expectCount(memberRow(ann.page, ben.username), 0);
    await closeInfo(ann);
    await systemLine(ann.page, `You removed ${ben.username}`).waitFor();

    await expectText(ben.page.getByTestId('pane-notice'), 'You were removed from this group');
    await expectCount(ben.page.locator('.conversation-view'), 0);
    await expectCount(conversationEntry(ben.page, name), 0);
    // The server agrees: a reload does not bring it back.
    await ben.page.reload();
    await expectText(ben.page.getByTestId('me-name'), ben.username);
    await expectCount(ben.page.getByTestId('conversation'), 1); // the world room
    await closeAll(ann, ben);
  });

  test('a rename, a promotion and a handover from the panel show live on another member’s page', async () => {
    const [ann, ben] = await signedIn('ann', 'ben');
    const name = await group(ann, [ben]);
    await openConversation(ben, name);
    await openConversation(ann, name);
    await openInfo(ann);

    const renamed = `<b>Renamed</b> ${Date.now()}`;
    await ann.page.getByTestId('group-rename-input').fill(renamed);
    await ann.page.getByTestId('group-rename').click();
    await expectText(ann.page.getByTestId('group-info-name'), renamed);
    await expectText(ben.page.getByTestId('conversation-title'), renamed);
    await conversationEntry(ben.page, renamed).waitFor();
    await systemLine(ben.page, `${ann.username} renamed the group to “${renamed}”`).waitFor();
    await expectText(conversationEntry(ann.page, renamed).getByTestId('conversation-last'), `You renamed the group to “${renamed}”`);

    await memberRow(ann.page, ben.username).getByTestId('member-promote').click();
    await expectAttribute(memberRow(ann.page, ben.username), 'data-role', 'admin');
    await systemLine(ben.page, `${ann.username} made you an admin`).waitFor();
    // An admin manages members but may not disband or change roles.
    await openInfo(ben);
    await expectText(ben.page.getByTestId('group-info-count'), '2 members · you are an admin');
    await ben.page.getByTestId('group-add-input').waitFor();
    assert.equal(await ben.page.getByTestId('group-disband').count(), 0);
    assert.equal(await ben.page.getByTestId('member-promote').count(), 0);
    assert.equal(await memberRow(ben.page, ann.username).getByTestId('member-remove').count(), 0, 'an admin cannot remove the owner');

    // The handover is asked first; the old owner becomes an admin, and Ben's open panel follows.
    await memberRow(ann.page, ben.username).getByTestId('member-transfer').click();
    await confirm(ann, /you will be an admin/);
    await expectText(ann.page.getByTestId('group-info-count'), '2 members · you are an admin');
    await expectAttribute(memberRow(ann.page, ann.username), 'data-role', 'admin');
    await expectText(ben.page.getByTestId('group-info-count'), '2 members · you are the owner');
    await ben.page.getByTestId('group-disband').waitFor();
    await systemLine(ben.page, `${ann.username} made you the owner`).waitFor();

    for (const p of [ann, ben]) {
      assert.equal(await p.page.locator('#app b, #app script, #app img, dialog b, dialog script, dialog img').count(), 0, 'no element was created from the group name');
      assert.deepEqual(p.dialogs, []);
    }
    await closeAll(ann, ben);
  });

  test('a plain member sees no admin actions but can leave; the owner cannot leave others behind', async () => {
    const [ann, ben] = await signedIn('ann', 'ben');
    const name = await group(ann, [ben]);
    await openConversation(ann, name);
    await openConversation(ben, name);
    await openInfo(ben);
    await expectText(ben.page.getByTestId('group-info-count'), '2 members · you are a member');
    for (const action of ['group-add-input', 'group-rename-input', 'member-remove', 'member-promote', 'member-demote', 'member-transfer', 'group-disband']) {
      assert.equal(await ben.page.getByTestId(action).count(), 0, `a member is not offered ${action}`);
    }

    // The owner asking to leave is told to hand the group over first.
    await openInfo(ann);
    await ann.page.getByTestId('group-leave').click();
    await confirm(ann, /make someone else the owner first/);
    await expectText(ann.page.getByTestId('confirm-dialog').getByTestId('dialog-error'), 'Transfer ownership to another member before leaving');
    await ann.page.getByTestId('confirm-dialog').getByTestId('dialog-cancel').click();
    await closeInfo(ann);

    await ben.page.getByTestId('group-leave').click();
    await confirm(ben, /no longer get messages/);
    await expectText(ben.page.getByTestId('pane-notice'), 'You left the group');
    await expectCount(conversationEntry(ben.page, name), 0);
    await expectCount(ben.page.getByTestId('group-info-dialog'), 0);
    await systemLine(ann.page, `${ben.username} left`).waitFor();
    await expectText(ann.page.getByTestId('conversation-pane').locator('.subtitle'), '1 member');
    await closeAll(ann, ben);
  });

  test('disbanding removes the group for everyone, open or not', async () => {
    const [ann, ben, cal] = await signedIn('ann', 'ben', 'cal');
    const name = await group(ann, [ben, cal]);
    await conversationEntry(cal.page, name).waitFor();
    await openConversation(ben, name);
    await openConversation(ann, name);
    await openInfo(ann);
    await ann.page.getByTestId('group-disband').click();
    await confirm(ann, /Everyone loses/);

    for (const p of [ann, ben]) await expectText(p.page.getByTestId('pane-notice'), 'This group was disbanded');
    for (const p of [ann, ben, cal]) await expectCount(conversationEntry(p.page, name), 0);
    await expectCount(ann.page.locator('dialog'), 0);
    await cal.page.reload();
    await expectText(cal.page.getByTestId('me-name'), cal.username);
    await expectCount(cal.page.getByTestId('conversation'), 1); // the world room
    await closeAll(ann, ben, cal);
  });
});
