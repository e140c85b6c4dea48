/**
 * The gateway's end of `MessageService.SendStream`: one long-lived bidirectional call to one logic
 * instance, opened on first use and again after it ends. A batch of sends is one stream message;
 * logic answers each send by id as it finishes (its outcomes batched per turn). A unary call per
 * batch cost client and server together ~250 µs of CPU on this machine, a stream message ~30 µs
 * (docs/performance.md), and at a few sends per turn the call, not the send, was the cost.
 *
 * What it does not do is decide where a send goes or retry it: when the call ends (logic shut
 * down or died, the connection broke, or the instance is too old to know the method), every send
 * still unanswered is handed back through `broken`, and the client sends them again by another
 * route. That is safe because sends are idempotent by tempMessageId.
 */
import * as grpc from '@grpc/grpc-js';
import type { MessageAck } from '../protocol/index.js';
import { methodDefinition, type WireError } from './definitions.js';

/** One send's answer, as SendOutcome in messages.proto. */
export interface SendOutcome {
  ack?: MessageAck | null;
  error?: WireError | null;
}

/**
 * Unanswered sends one stream holds at most: twice what logic reads before it stops reading a
 * stream (serve-send-stream.ts), so a stream that is merely busy is not bypassed.
 */
export const MAX_PENDING = 2048;

/** The outcome of a send whose deadline passed on the stream: as a unary call's DEADLINE_EXCEEDED. */
export const TIMED_OUT: SendOutcome = { error: { code: 'SERVICE_UNAVAILABLE', message: 'Logic did not answer in time' } };

export interface SendStreamEvents<T> {
  outcome(send: T, outcome: SendOutcome): void;
  /** The call ended with these sends unanswered; `code` is its final status. */
  broken(sends: T[], code: grpc.status): void;
}

interface BatchRecord {
  left: number;
  timer: NodeJS.Timeout;
}

interface OpenCall<T> {
  call: grpc.ClientDuplexStream<object, { outcomes: Array<{ id: number; outcome: SendOutcome | null }> }>;
  pending: Map<number, { send: T; batch: BatchRecord }>;
}

export class SendStream<T extends { request: object }> {
  private open: OpenCall<T> | null = null;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly client: grpc.Client,
    private readonly metadata: () => grpc.Metadata,
    private readonly timeoutMs: number,
    private readonly events: SendStreamEvents<T>,
  ) {}

  /**
   * Writes one batch (at most MAX_SENDS_PER_CALL sends); each is answered through `events`. False,
   * writing nothing, when the stream already holds MAX_PENDING unanswered sends: logic stops
   * reading a stream past its own bound, and what the gateway keeps writing would only queue here,
   * unbounded, and be read (and stored) long after its deadline answered it.
   */
  write(batch: readonly T[]): boolean {
    if (this.closed) {
      this.events.broken([...batch], grpc.status.CANCELLED);
      return true;
    }
    if ((this.open?.pending.size ?? 0) + batch.length > MAX_PENDING) return false;
    const open = this.open ?? this.start();
    const record: BatchRecord = { left: batch.length, timer: setTimeout(() => this.expire(open, record), this.timeoutMs) };
    const sends = batch.map((send) => {
      const id = this.nextId++;
      open.pending.set(id, { send, batch: record });
      return { id, send: send.request };
    });
    open.call.write({ sends });
    return true;
  }

  /** Ends the call; sends still unanswered come back through `broken`. */
  close(): void {
    this.closed = true;
    this.open?.call.end();
  }

  private start(): OpenCall<T> {
    const definition = methodDefinition('MessageService', 'SendStream');
    const call = this.client.makeBidiStreamRequest(definition.path, definition.requestSerialize, definition.responseDeserialize, this.metadata()) as OpenCall<T>['call'];
    const open: OpenCall<T> = { call, pending: new Map() };
    call.on('data', ({ outcomes }) => {
      for (const { id, outcome } of outcomes) {
        const entry = open.pending.get(id);
        if (!entry) continue; // its deadline passed: already answered
        open.pending.delete(id);
        this.done(entry.batch);
        this.events.outcome(entry.send, outcome ?? {});
      }
    });
    // The final status says everything: an 'error' event is its copy for a failed call.
    call.on('error', () => {});
    call.on('status', ({ code }: grpc.StatusObject) => {
      if (this.open === open) this.open = null;
      const left: T[] = [];
      for (const { send, batch } of open.pending.values()) {
        clearTimeout(batch.timer);
        left.push(send);
      }
      open.pending.clear();
      if (left.length > 0) this.events.broken(left, code);
    });
    this.open = open;
    return open;
  }

  private done(batch: BatchRecord): void {
    if (--batch.left === 0) clearTimeout(batch.timer);
  }

  /** The batch's deadline passed: its unanswered sends fail as a timed-out unary call would. */
  private expire(open: OpenCall<T>, record: BatchRecord): void {
    for (const [id, entry] of open.pending) {
      if (entry.batch !== record) continue;
      open.pending.delete(id);
      this.events.outcome(entry.send, TIMED_OUT);
    }
  }
}
