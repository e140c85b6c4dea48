/**
 * The committed .proto files, loaded at runtime, and the mapping between AppError and gRPC
 * status that both ends share: the status code comes from the ERROR_CODES table, and the
 * exact AppError code travels in a `code` metadata entry so the client can rebuild it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { AppError, ERROR_CODES, isErrorCode, type Message, type SendMessagePayload } from '../protocol/index.js';

export const PROTO_FILES = ['auth.proto', 'users.proto', 'conversations.proto', 'messages.proto', 'groups.proto'];

/** src/rpc/proto, whether this module runs from src/ or compiled into dist/src/. */
function protoDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'proto'), path.resolve(here, '../../../src/rpc/proto')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'common.proto')));
  if (!found) throw new Error(`gRPC .proto files not found in ${candidates.join(' or ')}`);
  return found;
}

let cached: protoLoader.PackageDefinition | null = null;

export function loadDefinitions(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(PROTO_FILES, {
    includeDirs: [protoDir()],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return cached;
}

export type ServiceName = 'AuthService' | 'UserService' | 'ConversationService' | 'MessageService' | 'GroupService';

export function serviceDefinition(service: ServiceName): grpc.ServiceDefinition {
  return loadDefinitions()[`gochat.v1.${service}`] as grpc.ServiceDefinition;
}

export function methodDefinition(service: ServiceName, method: string): grpc.MethodDefinition<object, object> {
  const definition = serviceDefinition(service)[method];
  if (!definition) throw new Error(`unknown gRPC method ${service}.${method}`);
  return definition as grpc.MethodDefinition<object, object>;
}

/**
 * Most sends in one SendMessages call. A gateway splits a larger turn into several calls, and
 * logic refuses a bigger batch: the work one call can start is bounded.
 */
export const MAX_SENDS_PER_CALL = 256;

/** Metadata entry proving a call comes from our own gateway (derived from the shared secret). */
export const INTERNAL_KEY_HEADER = 'x-gochat-internal-key';

export function internalKey(secret: string): string {
  return createHash('sha256').update(`gochat-internal-rpc\0${secret}`).digest('hex');
}

export function sameKey(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/** AppError -> gRPC status with the code (and details, retry-after) in metadata. */
export function toStatus(error: AppError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set('code', error.code);
  if (error.details !== undefined) metadata.set('details-json', JSON.stringify(error.details));
  if (error.retryAfter !== undefined) metadata.set('retry-after', String(error.retryAfter));
  return { code: ERROR_CODES[error.code].grpc, details: error.message, metadata };
}

/** An AppError inside a response (one send of a batch): the SendError message of messages.proto. */
export interface WireError {
  code: string;
  message: string;
  detailsJson?: string;
  retryAfter?: number;
}

export function toWireError(error: AppError): WireError {
  const wire: WireError = { code: error.code, message: error.message };
  if (error.details !== undefined) wire.detailsJson = JSON.stringify(error.details);
  if (error.retryAfter !== undefined) wire.retryAfter = error.retryAfter;
  return wire;
}

/** A SendError -> the AppError logic threw; a code this build does not know is an INTERNAL_ERROR. */
export function fromWireError(wire: WireError): AppError {
  if (!isErrorCode(wire.code)) return new AppError('INTERNAL_ERROR', undefined, undefined, { cause: new Error(`unknown error code from logic: ${wire.code}`) });
  return new AppError(wire.code, wire.message, parseDetails(wire.detailsJson), wire.retryAfter !== undefined ? { retryAfter: wire.retryAfter } : undefined);
}

function parseDetails(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** A failed call -> the AppError the server threw, or null when the failure is not from our server. */
export function fromStatus(err: grpc.ServiceError): AppError | null {
  const code = err.metadata?.get('code')[0];
  if (!isErrorCode(code)) return null;
  const details = parseDetails(err.metadata.get('details-json')[0]);
  const rawRetry = err.metadata.get('retry-after')[0];
  const retryAfter = typeof rawRetry === 'string' && /^\d+$/.test(rawRetry) ? Number(rawRetry) : undefined;
  return new AppError(code, err.details, details, retryAfter !== undefined ? { retryAfter } : undefined);
}

/** A Message as common.proto carries it: the seed's eight fields, the optional ones as JSON. */
export interface ProtoMessage {
  messageId: string;
  conversationId: string;
  senderId: string;
  senderName: string;
  content: string;
  messageType: string;
  seqId: number;
  sendTime: string;
  metaJson?: string | null;
  _metaJson?: string;
}

export function messageToProto(message: Message): ProtoMessage {
  const { messageId, conversationId, senderId, senderName, content, messageType, seqId, sendTime, ...optional } = message;
  const proto: ProtoMessage = { messageId, conversationId, senderId, senderName, content, messageType, seqId, sendTime };
  if (Object.keys(optional).length > 0) proto.metaJson = JSON.stringify(optional);
  return proto;
}

/** The Message back, its optional fields in the order they were sent. */
export function messageFromProto(proto: ProtoMessage): Message {
  const { metaJson, _metaJson: _marker, ...base } = proto;
  const message = base as Message;
  return typeof metaJson === 'string' && metaJson !== '' ? Object.assign(message, JSON.parse(metaJson) as Partial<Message>) : message;
}

const isMessage = (value: unknown): value is Message =>
  // An ack has messageId, seqId and sendTime too: a message is told by its sender and content.
  typeof value === 'object' && value !== null && 'messageId' in value && 'senderId' in value && 'content' in value && 'seqId' in value;

/**
 * A handler's response with its messages in proto form. The shapes that hold a Message are few and
 * known: a Message itself, `message` (a send's answer), `lastMessage` of a conversation, and the
 * conversations of `conversation` and `conversations`.
 */
export function withProtoMessages(response: object): object {
  if (isMessage(response)) return messageToProto(response);
  const r = response as Record<string, unknown>;
  const conversationOf = (c: unknown) => {
    const conversation = c as { lastMessage?: unknown } | null;
    return conversation && isMessage(conversation.lastMessage) ? { ...conversation, lastMessage: messageToProto(conversation.lastMessage) } : conversation;
  };
  let out: Record<string, unknown> | null = null;
  const set = (key: string, value: unknown) => ((out ??= { ...r })[key] = value);
  if (isMessage(r.message)) set('message', messageToProto(r.message));
  if (isMessage(r.lastMessage)) set('lastMessage', messageToProto(r.lastMessage));
  if (r.conversation !== undefined) set('conversation', conversationOf(r.conversation));
  if (Array.isArray(r.conversations)) set('conversations', r.conversations.map(conversationOf));
  return out ?? response;
}

/** A send's fields as SendMessageRequest carries them (`extra` as JSON). */
export function sendToProto(payload: SendMessagePayload): Omit<SendMessagePayload, 'extra'> & { extraJson?: string } {
  const { extra, ...rest } = payload;
  if (extra === undefined) return rest;
  // Encoded here, in the gateway, before logic bounds it: a value nested thousands deep would
  // overflow the stack in JSON.stringify. Logic checks the exact bounds again (checkExtra).
  if (nestedDeeperThan(extra, EXTRA_WIRE_MAX_DEPTH)) throw new AppError('VALIDATION_ERROR', 'extra: nested too deep', { field: 'extra' });
  return { ...rest, extraJson: JSON.stringify(extra) };
}

/** Far above what logic accepts (4), far below what would overflow a stack. */
const EXTRA_WIRE_MAX_DEPTH = 64;

/** Whether `value` nests deeper than `limit`, walked iteratively (no recursion to overflow). */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}
