/**
 * GET /api/conversations?limit=N&cursor=… (extension, docs/protocol.md "Conversation list pages"):
 * keyset pages of the list, newest activity first, while the unpaged answer stays the contract's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, ConversationPagination, Group } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
});
after(async () => server.stop());

type Page = { data: Conversation[]; pagination?: ConversationPagination; success: boolean; message: string; code?: string };

async function page(token: string, query: string): Promise<{ status: number; body: Page }> {
  const res = await api.get<Conversation[]>(`/api/conversations${query}`, token);
  return { status: res.status, body: res.body as unknown as Page };
}

/** Sends one message to each conversation, in order, over one socket, and waits for the acks. */
async function sendTo(token: string, conversationIds: readonly string[]): Promise<void> {
  const ws = await WsClient.connect(server.wsUrl, token);
  for (const [i, id] of conversationIds.entries()) {
    ws.sendMessage(id, `news ${i}`, `paging-${Date.now()}-${i}-${Math.random()}`);
    // One at a time: each send is a later activity than the one before.
    await ws.nextOfType('message-ack');
  }
  ws.close();
}

/** A user in 25 groups (5 creators, 5 groups each) plus the world room; some groups have messages. */
async function victimOf25Groups(): Promise<{ victim: AuthResult; creators: AuthResult[]; groups: string[] }> {
  const victim = await api.user('victim');
  const creators = await Promise.all([1, 2, 3, 4, 5].map(() => api.user('creator')));
  const groups: string[] = [];
  for (const creator of creators) {
    for (let i = 0; i < 5; i++) {
      const res = await api.post<{ group: Group; conversation: Conversation }>('/api/groups', { groupName: `g${i}`, members: [victim.user.userId] }, creator.token);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      groups.push(res.body.data.conversation.conversationId);
    }
  }
  // Activity in an order unlike creation order, so the list's order is not the id order.
  await sendTo(creators[0]!.token, [groups[3]!, groups[0]!, groups[4]!]);
  return { victim, creators, groups };
}

/** Every page of `token`'s list with `limit`, following nextCursor. */
async function walk(token: string, limit: number): Promise<Page[]> {
  const pages: Page[] = [];
  let query = `?limit=${limit}`;
  for (let i = 0; i < 100; i++) {
    const res = await page(token, query);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    pages.push(res.body);
    const next = res.body.pagination?.nextCursor;
    if (!next) return pages;
    query = `?limit=${limit}&cursor=${encodeURIComponent(next)}`;
  }
  throw new Error('the walk did not end');
}

describe('GET /api/conversations pages', () => {
  it('walks every conversation exactly once, newest activity first, as the unpaged list has them', async () => {
    const { victim, groups } = await victimOf25Groups();
    const whole = await page(victim.token, '');
    const total = whole.body.data.length;
    assert.ok(total >= 25);
    const pages = await walk(victim.token, 10);
    assert.deepEqual(
      pages.map((p) => p.pagination),
      pages.map((_, i) => ({
        page: i + 1,
        size: 10,
        total,
        hasMore: i < pages.length - 1,
        nextCursor: i < pages.length - 1 ? pages[i]!.pagination!.nextCursor : null,
      })),
    );
    assert.equal(pages.length, Math.ceil(total / 10));
    assert.ok(pages.slice(0, -1).every((p) => p.data.length === 10 && typeof p.pagination?.nextCursor === 'string'));
    // Same conversations, same order, same objects: lastMessage, unreadCount and groupId intact.
    const walked = pages.flatMap((p) => p.data);
    assert.deepEqual(walked, whole.body.data);
    assert.equal(new Set(walked.map((c) => c.conversationId)).size, total);
    assert.deepEqual(walked.slice(0, 3).map((c) => c.conversationId), [groups[4], groups[0], groups[3]]);
    assert.equal(walked[0]?.lastMessage?.content, 'news 2');
    assert.equal(walked[0]?.unreadCount, 1);
    assert.equal(walked[0]?.groupId !== undefined, true);
  });

  it('answers without limit or cursor exactly as before: the whole array and no pagination', async () => {
    const { victim } = await victimOf25Groups();
    const res = await page(victim.token, '');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ['data', 'message', 'success']);
    assert.ok(res.body.data.length >= 25);
    // Unknown parameters are ignored, as they always were.
    assert.deepEqual((await page(victim.token, '?_=12345')).body, res.body);
  });

  it('a cursor alone reads the next page at the default size of 50', async () => {
    const { victim } = await victimOf25Groups();
    const first = await page(victim.token, '?limit=1');
    const rest = await page(victim.token, `?cursor=${first.body.pagination!.nextCursor!}`);
    assert.equal(rest.status, 200);
    assert.equal(rest.body.pagination?.size, 50);
    assert.equal(rest.body.pagination?.page, 2);
    assert.equal(rest.body.data.length, first.body.pagination!.total - 1);
    assert.equal(rest.body.pagination?.nextCursor, null);
  });

  it('refuses a limit outside 1–100 or not in decimal digits with 400 VALIDATION_ERROR naming limit', async () => {
    const user = await api.user('limits');
    for (const limit of ['0', '101', 'abc', '1e1', '0x10', '-1', '1.5', '', '%201', '10&limit=20']) {
      const res = await page(user.token, `?limit=${limit}`);
      assert.equal(res.status, 400, `limit=${limit}`);
      assert.equal(res.body.code, 'VALIDATION_ERROR', `limit=${limit}`);
      assert.match(res.body.message, /limit/, `limit=${limit}`);
    }
  });

  it('refuses a malformed cursor with 400 VALIDATION_ERROR naming cursor', async () => {
    const user = await api.user('cursors');
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    for (const cursor of ['', 'garbage!', 'x'.repeat(97), b64('hello'), b64('v1:1:0:1'), b64('v1:2:0:0'), b64("v1:2:0:1' OR '1'='1"), '%E0%A4%A']) {
      const res = await page(user.token, `?limit=10&cursor=${cursor}`);
      assert.equal(res.status, 400, `cursor=${cursor}`);
      assert.equal(res.body.code, 'VALIDATION_ERROR', `cursor=${cursor}`);
      assert.match(res.body.message, /cursor|URL/, `cursor=${cursor}`);
    }
  });

  it("a cursor only positions a read of the caller's own list", async () => {
    const { victim } = await victimOf25Groups();
    const stranger = await api.user('stranger');
    const victimPage = await page(victim.token, '?limit=5');
    const borrowed = await page(stranger.token, `?limit=100&cursor=${victimPage.body.pagination!.nextCursor!}`);
    assert.equal(borrowed.status, 200);
    const strangersOwn = new Set((await page(stranger.token, '')).body.data.map((c) => c.conversationId));
    assert.ok(borrowed.body.data.every((c) => strangersOwn.has(c.conversationId)));
    assert.equal(borrowed.body.pagination?.total, strangersOwn.size);
  });

  it('a conversation active during a walk moves to the top; every unchanged one is on exactly one page', async () => {
    const { victim, creators } = await victimOf25Groups();
    const before = (await page(victim.token, '')).body.data;
    const first = await page(victim.token, '?limit=10');
    // A conversation on a later page gets a message from its creator mid-walk.
    const moved = before.slice(10).find((c) => c.type === 'group')!;
    const group = await api.get<{ group: Group }>(`/api/groups/${moved.groupId!}`, victim.token);
    const owner = creators.find((c) => c.user.userId === group.body.data.group.ownerId)!;
    await sendTo(owner.token, [moved.conversationId]);
    const seen = [...first.body.data];
    let cursor = first.body.pagination!.nextCursor;
    while (cursor) {
      const next = await page(victim.token, `?limit=10&cursor=${cursor}`);
      seen.push(...next.body.data);
      cursor = next.body.pagination!.nextCursor;
    }
    const ids = seen.map((c) => c.conversationId);
    for (const c of before.filter((x) => x.conversationId !== moved.conversationId)) {
      assert.equal(ids.filter((id) => id === c.conversationId).length, 1, `conversation ${c.conversationId}`);
    }
    const top = await page(victim.token, '?limit=1');
    assert.equal(top.body.data[0]?.conversationId, moved.conversationId);
    assert.equal(top.body.data[0]?.lastMessage?.content, 'news 0');
  });

  it("another user's list is theirs alone, paged or not", async () => {
    const { victim, creators } = await victimOf25Groups();
    const creator = creators[1]!;
    const own = (await page(creator.token, '')).body.data;
    const walked = (await walk(creator.token, 2)).flatMap((p) => p.data);
    assert.deepEqual(walked, own);
    const victims = new Set((await page(victim.token, '')).body.data.map((c) => c.conversationId));
    // The creator shares 5 groups (and the world room) with the victim, and sees only its own 6 or so.
    assert.ok(own.length <= 6);
    assert.ok(own.every((c) => victims.has(c.conversationId)));
  });

  it('requires authentication', async () => {
    const res = await api.get('/api/conversations?limit=10');
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'UNAUTHORIZED');
  });

  it('describes limit, cursor and pagination.nextCursor in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.baseUrl}/api/openapi.json`)).json()) as {
      paths: Record<string, { get?: { parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown> } }>;
    };
    const get = doc.paths['/api/conversations']?.get;
    assert.deepEqual(get?.parameters?.filter((p) => p.in === 'query').map((p) => p.name).sort(), ['cursor', 'includeHidden', 'limit']);
    assert.match(JSON.stringify(get?.responses['200']), /nextCursor/);
  });
});
