/**
 * Logic's end of `MessageService.SendStream` (the gateway's end is `send-stream.ts`). Each send
 * read is started at once; outcomes are written as they finish, one stream message per event-loop
 * turn. Work is bounded: past `maxInFlight` unanswered sends the stream is not read until half are
 * answered, so HTTP/2 flow control holds the gateway back instead of logic queueing without end.
 * The gateway holds at most MAX_PENDING unanswered sends on a stream (send-stream.ts) and sends
 * the rest as calls of their own, so neither end queues without bound.
 * Shutting down (`drain`) stops reading, answers every send already read, then ends the stream
 * with status OK; whatever the gateway wrote after that point it sends again elsewhere.
 */
import * as grpc from '@grpc/grpc-js';
import type { SendOutcome } from './send-stream.js';

interface StreamedSend<S> {
  id: number;
  send: S | null;
}

export class ServedSendStream<S> {
  private inFlight = 0;
  private outbox: Array<{ id: number; outcome: SendOutcome }> = [];
  private flushScheduled = false;
  private paused = false;
  /** No more sends will be read: the gateway half-closed, or logic is shutting down. */
  private finishing = false;
  private ended = false;
  private readonly endedPromise: Promise<void>;
  private resolveEnded!: () => void;

  constructor(
    private readonly call: grpc.ServerDuplexStream<{ sends: Array<StreamedSend<S>> }, object>,
    /** Answers one send; never rejects (a failure is an outcome). */
    private readonly answer: (send: S) => Promise<SendOutcome>,
    private readonly limits: { maxInFlight: number; maxPerBatch: number },
  ) {
    this.endedPromise = new Promise((resolve) => (this.resolveEnded = resolve));
    call.on('data', (batch: { sends: Array<StreamedSend<S>> }) => this.read(batch.sends));
    call.on('end', () => this.finish());
    // The gateway went away: nothing more can be written; sends in flight still commit.
    call.on('cancelled', () => this.markEnded());
    call.on('error', () => this.markEnded());
  }

  /** Resolves once the stream has ended, however it ended. */
  get done(): Promise<void> {
    return this.endedPromise;
  }

  /** Logic is shutting down: stop reading, answer what was read, then end with status OK. */
  drain(): Promise<void> {
    this.call.pause();
    this.finish();
    return this.endedPromise;
  }

  private read(sends: Array<StreamedSend<S>>): void {
    if (this.finishing || this.ended) return; // read after drain began: the gateway sends these again
    if (sends.length > this.limits.maxPerBatch) {
      this.call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `at most ${this.limits.maxPerBatch} sends per batch` });
      return;
    }
    for (const { id, send } of sends) {
      this.inFlight++;
      const answered = send ? this.answer(send) : Promise.resolve<SendOutcome>({ error: { code: 'VALIDATION_ERROR', message: 'send: required' } });
      void answered.then((outcome) => this.answered(id, outcome));
    }
    if (this.inFlight >= this.limits.maxInFlight && !this.paused) {
      this.paused = true;
      this.call.pause();
    }
  }

  private answered(id: number, outcome: SendOutcome): void {
    this.inFlight--;
    if (this.ended) return;
    this.outbox.push({ id, outcome });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (this.paused && !this.finishing && this.inFlight <= this.limits.maxInFlight / 2) {
      this.paused = false;
      this.call.resume();
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.ended) return;
    if (this.outbox.length > 0) this.call.write({ outcomes: this.outbox.splice(0) });
    if (this.finishing && this.inFlight === 0) {
      this.markEnded();
      this.call.end();
    }
  }

  private finish(): void {
    if (this.finishing) return;
    this.finishing = true;
    if (this.inFlight === 0 && !this.flushScheduled) this.flush();
  }

  private markEnded(): void {
    if (this.ended) return;
    this.ended = true;
    this.resolveEnded();
  }
}
