/**
 * The bus interface suite: behaviours every Bus implementation must show (MemoryBus and
 * RedisBus alike). `gateway(id)` is the bus as a gateway process holds it, `publisher()` as
 * logic holds it; for the in-process bus both are the same object.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BroadcastDelivery, Bus, BusEvent, Delivery, MessageDelivery } from '../../src/bus/index.js';
import type { OperationObserver } from '../../src/ports/observer.js';

export interface BusFixture {
  gateway(instanceId: string): Promise<Bus>;
  publisher(): Promise<Bus>;
  /** A gateway's bus and a publisher's bus that report to `observe` (one object for the in-process bus). */
  observed(instanceId: string, observe: OperationObserver): Promise<{ gateway: Bus; publisher: Bus }>;
  /** Whether the bus times its publishes: one that crosses a process does; the in-process one is a function call. */
  timesPublishes: boolean;
  cleanup(): Promise<void>;
}

/** Collects a subscriber's events and lets a test wait for one. */
export class Inbox {
  readonly events: BusEvent[] = [];
  private waiters: Array<{ match: (e: BusEvent) => boolean; resolve: (e: BusEvent) => void }> = [];

  readonly handler = (event: BusEvent) => {
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => (w.match(event) ? (w.resolve(event), false) : true));
  };

  next(match: (e: BusEvent) => boolean, timeoutMs = 5_000): Promise<BusEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching bus event; got ${JSON.stringify(this.events.slice(-3))}`)), timeoutMs);
      this.waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  messages(conversationId: string): MessageDelivery[] {
    return this.events.filter((e): e is MessageDelivery => e.kind === 'message' && e.conversationId === conversationId);
  }

  broadcasts(conversationId: string): BroadcastDelivery[] {
    return this.events.filter((e): e is BroadcastDelivery => e.kind === 'broadcast' && e.conversationId === conversationId);
  }
}

let broadcastConversations = 0;
export function broadcast(seqId = 1, conversationId = `world${++broadcastConversations}-${Date.now()}`): BroadcastDelivery {
  return { kind: 'broadcast', conversationId, seqId, frame: JSON.stringify({ type: 'new-message', data: { seqId } }) };
}

const isDelivery = (e: BusEvent, conversationId: string, seqId: number): e is Delivery =>
  (e.kind === 'message' || e.kind === 'broadcast') && e.conversationId === conversationId && e.seqId === seqId;

let deliveries = 0;
export function delivery(recipients: string[], seqId = 1, conversationId = `c${++deliveries}`): MessageDelivery {
  return { kind: 'message', conversationId, seqId, recipients, frame: JSON.stringify({ type: 'new-message', data: { seqId } }) };
}

export function busSuite(name: string, makeFixture: () => Promise<BusFixture | string>): void {
  describe(`Bus: ${name}`, () => {
    let fixture: BusFixture | null = null;
    let skip: string | false = false;

    before(async () => {
      const made = await makeFixture();
      if (typeof made === 'string') skip = made;
      else fixture = made;
    });
    after(async () => fixture?.cleanup());

    const test = (title: string, body: (f: BusFixture) => Promise<void>) =>
      it(title, async (t) => {
        if (skip) return t.skip(skip);
        await body(fixture!);
      });

    test('a delivery reaches the gateway where its recipient is online, frame untouched', async (f) => {
      const gateway = await f.gateway('g-a');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      gateway.userOnline('alice');
      const sent = { ...delivery(['alice', 'bob']), excludeConnId: 'g-a:1' };
      await (await f.publisher()).publish(sent);
      const got = (await inbox.next((e) => e.kind === 'message' && e.conversationId === sent.conversationId)) as MessageDelivery;
      assert.equal(got.frame, sent.frame);
      assert.equal(got.seqId, sent.seqId);
      assert.equal(got.excludeConnId, 'g-a:1');
      assert.ok(got.recipients.includes('alice'));
    });

    test('frames attached to a message reach the gateway with it, untouched and in order', async (f) => {
      const gateway = await f.gateway('g-att');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      gateway.userOnline('amy');
      const attached = [
        { frame: '{"type":"conversation-added"}', to: ['amy'], before: true as const },
        { frame: '{"type":"conversation-update"}' },
      ];
      const sent: MessageDelivery = { ...delivery(['amy', 'gone-user']), membersSeq: 7, attached };
      await (await f.publisher()).publish(sent);
      const got = (await inbox.next((e) => e.kind === 'message' && e.conversationId === sent.conversationId)) as MessageDelivery;
      assert.deepEqual([got.frame, got.membersSeq, got.attached], [sent.frame, 7, attached]);
    });

    test('a frames delivery reaches the gateway holding its recipient, and no other', async (f) => {
      const [holding, other] = [await f.gateway('g-fr1'), await f.gateway('g-fr2')];
      const [atHolding, atOther] = [new Inbox(), new Inbox()];
      await holding.subscribe(atHolding.handler);
      await other.subscribe(atOther.handler);
      holding.userOnline('fred');
      other.userOnline('gina');
      const frame = `{"type":"conversation-added","data":{"conversationId":"fr${Date.now()}"}}`;
      await (await f.publisher()).publish({ kind: 'frames', recipients: ['fred'], frame });
      assert.deepEqual(await atHolding.next((e) => e.kind === 'frames' && e.frame === frame), { kind: 'frames', recipients: ['fred'], frame });
      // A marker for gina only, published after: had the frames gone to her gateway too, it would have come first.
      const marker = `{"type":"conversation-added","data":{"conversationId":"mk${Date.now()}"}}`;
      await (await f.publisher()).publish({ kind: 'frames', recipients: ['gina'], frame: marker });
      await atOther.next((e) => e.kind === 'frames' && e.frame === marker);
      if (holding !== other) assert.ok(!atOther.events.some((e) => e.kind === 'frames' && e.frame === frame));
    });

    test('a revocation reaches the subscribed gateway', async (f) => {
      const gateway = await f.gateway('g-b');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      gateway.userOnline('carol');
      await (await f.publisher()).publish({ kind: 'revoke', userId: 'carol', jti: 'j1' });
      assert.deepEqual(await inbox.next((e) => e.kind === 'revoke'), { kind: 'revoke', userId: 'carol', jti: 'j1' });
    });

    test('a broadcast reaches every subscribed gateway once, with or without users online, frame untouched', async (f) => {
      const [busy, empty] = [await f.gateway('g-bc1'), await f.gateway('g-bc2')];
      const [atBusy, atEmpty] = [new Inbox(), new Inbox()];
      await busy.subscribe(atBusy.handler);
      await empty.subscribe(atEmpty.handler);
      busy.userOnline('erin');
      const publisher = await f.publisher();
      const sent = { ...broadcast(1), excludeConnId: 'g-bc1:7' };
      await publisher.publish(sent);
      // A later broadcast of the same conversation: once it is in, a duplicate of the first would be too.
      await publisher.publish(broadcast(2, sent.conversationId));
      for (const inbox of [atBusy, atEmpty]) {
        await inbox.next((e) => isDelivery(e, sent.conversationId, 2));
        const got = inbox.broadcasts(sent.conversationId);
        assert.deepEqual(got.map((d) => d.seqId), [1, 2]);
        assert.equal(got[0]!.frame, sent.frame);
        assert.equal(got[0]!.excludeConnId, 'g-bc1:7');
      }
    });

    test("frames for 'everyone' (a world-room change) reach every subscribed gateway, with or without users online", async (f) => {
      const [busy, empty] = [await f.gateway('g-ev1'), await f.gateway('g-ev2')];
      const [atBusy, atEmpty] = [new Inbox(), new Inbox()];
      await busy.subscribe(atBusy.handler);
      await empty.subscribe(atEmpty.handler);
      busy.userOnline('hana');
      const frame = `{"type":"conversation-update","data":{"conversationId":"ev${Date.now()}"}}`;
      await (await f.publisher()).publish({ kind: 'frames', recipients: 'everyone', frame });
      for (const inbox of [atBusy, atEmpty]) {
        assert.deepEqual(await inbox.next((e) => e.kind === 'frames' && e.frame === frame), { kind: 'frames', recipients: 'everyone', frame });
      }
    });

    test('broadcasts of a conversation published in seqId order arrive in seqId order', async (f) => {
      const gateway = await f.gateway('g-bc3');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      const publisher = await f.publisher();
      const { conversationId } = broadcast();
      await Promise.all(Array.from({ length: 50 }, (_, i) => publisher.publish(broadcast(i + 1, conversationId))));
      await inbox.next((e) => isDelivery(e, conversationId, 50));
      assert.deepEqual(inbox.broadcasts(conversationId).map((d) => d.seqId), Array.from({ length: 50 }, (_, i) => i + 1));
    });

    test('a revocation of every token of some users reaches the subscribed gateway', async (f) => {
      const gateway = await f.gateway('g-ru');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      await (await f.publisher()).publish({ kind: 'revoke-users', userIds: ['frank', 'gina'] });
      assert.deepEqual(await inbox.next((e) => e.kind === 'revoke-users'), { kind: 'revoke-users', userIds: ['frank', 'gina'] });
    });

    test('each delivery handed to the subscriber is reported as deliver/ok, and each publish timed where the bus times them', async (f) => {
      const seen: Array<{ operation: string; seconds: number; outcome: string }> = [];
      const { gateway, publisher } = await f.observed('g-obs', (operation, seconds, outcome) => seen.push({ operation, seconds, outcome }));
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      gateway.userOnline('olga');
      const sent = delivery(['olga']);
      await publisher.publish(sent);
      await inbox.next((e) => isDelivery(e, sent.conversationId, sent.seqId));
      await publisher.publish({ kind: 'revoke', userId: 'olga', jti: 'j-obs' });
      await inbox.next((e) => e.kind === 'revoke' && e.jti === 'j-obs');
      const publishes = seen.filter((s) => s.operation === 'publish');
      assert.deepEqual(publishes.map((s) => s.outcome), f.timesPublishes ? ['ok', 'ok'] : []);
      assert.ok(publishes.every((s) => s.seconds >= 0 && s.seconds < 5), JSON.stringify(publishes));
      // A revocation is not a message delivery.
      assert.deepEqual(seen.filter((s) => s.operation === 'deliver'), [{ operation: 'deliver', seconds: 0, outcome: 'ok' }]);
    });

    test('a conversation published in seqId order arrives in seqId order', async (f) => {
      const gateway = await f.gateway('g-c');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      gateway.userOnline('dave');
      const publisher = await f.publisher();
      const conversationId = `ordered-${Date.now()}`;
      await Promise.all(Array.from({ length: 50 }, (_, i) => publisher.publish(delivery(['dave'], i + 1, conversationId))));
      await inbox.next((e) => e.kind === 'message' && e.conversationId === conversationId && e.seqId === 50);
      assert.deepEqual(inbox.messages(conversationId).map((d) => d.seqId), Array.from({ length: 50 }, (_, i) => i + 1));
    });
  });
}
