/**
 * The encoder of the wire: frames, messages and both envelopes, as HTTP, WebSocket, gRPC and the
 * SDK send them. Values are typed (`types.ts`, derived from `schemas.ts`); text exists only here
 * and on the sockets.
 *
 * A message is encoded once however many places send it: a store that already holds a message's
 * encoding (it keeps one beside each row, `stored-encoding.ts`) hands it over with the value, and
 * every frame and page that carries the message reuses that text.
 */
import type { ClientFrame, ErrorEnvelope, Message, Pagination, ServerFrame } from './types.js';

/**
 * Where a message value keeps its known encoding (the object, not equal copies): a non-enumerable
 * property, so JSON, spreads and deep-equality never see it, and a copy made with a change
 * (`{ ...m, content }`) does not inherit a stale text. Not a WeakMap: every message sent would
 * become an ephemeron the garbage collector traces specially, which cost more than the encoding
 * it saves (measured on the append path, docs/performance.md).
 */
const ENCODING = Symbol('gochat.encoding');

type WithEncoding = Message & { readonly [ENCODING]?: string };

/**
 * A message's JSON text. Messages are built field by field in the order of `MessageSchema` (the
 * stores' row mappers), so this is that order, and nothing the schema does not declare.
 */
export function encodeMessage(message: Message): string {
  return (message as WithEncoding)[ENCODING] ?? JSON.stringify(message);
}

/**
 * Messages are values: never changed once made (an edit or a recall will make a new Message), so
 * an encoding remembered for one stays true.
 *
 * Records that `json` is `message`'s encoding (a store that kept it beside the row), so sending the
 * message does not encode it again. `json` must be what `encodeMessage` would produce.
 */
export function rememberEncoding(message: Message, json: string): Message {
  Object.defineProperty(message, ENCODING, { value: json, configurable: true });
  return message;
}

/**
 * An ordered list of messages (a history page), held encoded or as values, whichever it was made
 * from, and turned into the other only when asked: a page read from storage goes to the HTTP
 * response (or through gRPC) as the text it was stored as, never parsed and encoded again.
 */
export class MessageList {
  private constructor(
    private decoded: Message[] | null,
    private encoded: string | null,
    /** How many messages the list holds. */
    readonly length: number,
  ) {}

  static of(messages: Message[]): MessageList {
    return new MessageList(messages, null, messages.length);
  }

  /** From encodings this codec made (`encodeMessage` of each, in order): a store's kept encodings. */
  static ofEncoded(encodedMessages: readonly string[]): MessageList {
    return new MessageList(null, `[${encodedMessages.join(',')}]`, encodedMessages.length);
  }

  /** From `encode()`'s output, received from another process speaking this codec (gRPC). */
  static decode(json: string, length: number): MessageList {
    return new MessageList(null, json, length);
  }

  /** The messages as values (parsed once, on first use, when the list was made from text). */
  get values(): Message[] {
    this.decoded ??= JSON.parse(this.encoded ?? '[]') as Message[];
    return this.decoded;
  }

  /** The JSON array of the messages. */
  encode(): string {
    this.encoded ??= `[${this.values.map(encodeMessage).join(',')}]`;
    return this.encoded;
  }

  /** `JSON.stringify` of anything holding a list writes its messages. */
  toJSON(): Message[] {
    return this.values;
  }
}

/** A server frame's JSON text; a `new-message` carries the message's one encoding. */
export function encodeServerFrame(frame: ServerFrame): string {
  if (frame.type === 'new-message') return `{"type":"new-message","data":${encodeMessage(frame.data)}}`;
  return JSON.stringify(frame);
}

/** A client frame's JSON text (the SDK's sends). */
export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}

/**
 * The success envelope of seed §2 around `data`. A `MessageList` is spliced in as the text it
 * holds; other data is encoded by `JSON.stringify` (the gateway's response schemas encode the
 * envelopes of the other routes: fastify compiles the same schemas into serializers).
 */
export function encodeSuccessEnvelope(data: MessageList | unknown, message = 'OK', pagination?: Pagination): string {
  const body = data instanceof MessageList ? data.encode() : JSON.stringify(data);
  const page = pagination
    ? `,"pagination":{"page":${pagination.page},"size":${pagination.size},"total":${pagination.total},"hasMore":${pagination.hasMore}}`
    : '';
  return `{"success":true,"message":${JSON.stringify(message)},"data":${body}${page}}`;
}

/** The error envelope of seed §2. */
export function encodeErrorEnvelope(error: { code: string; message: string }): string {
  const envelope: ErrorEnvelope = { success: false, message: error.message, code: error.code };
  return JSON.stringify(envelope);
}
