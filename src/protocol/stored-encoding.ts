/**
 * The encoding a store keeps beside each message row, so a history page is spliced from stored
 * text instead of read column by column and encoded again. It is the store's private cache,
 * written only through these functions, and it carries the format it was written in: a row whose
 * format is not today's (stored before a field was added to `MessageSchema`) is never served as
 * it was stored; the store encodes it again from its columns.
 */
import type { TObject } from '@sinclair/typebox';
import { MessageSchema } from './schemas.js';
import { rememberEncoding } from './codec.js';
import type { Message } from './types.js';

/**
 * Raise when the encoding of a message changes without its schema changing (a field's format).
 * A schema change needs nothing here: the format below is derived from the schema.
 */
const ENCODING_REVISION = 1;

/** FNV-1a, 32 bits: a short stable name for a field list. */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * The format name of encodings of messages of `schema`: its required property names in order, which
 * is what decides the encoded bytes of a message that has none of the optional ones. A new message
 * type or a reworded description is no new format (rows encoded before it are still exact), nor is
 * a new optional field: a row stored before it existed does not have it, and a row that gains one
 * (an edit, a reaction) is written again in full. So neither sends every stored row to the slow path.
 */
export const encodingFormatOf = (schema: TObject): string => {
  const required = new Set(schema.required ?? []);
  return `m${ENCODING_REVISION}-${fingerprint(Object.keys(schema.properties).filter((name) => required.has(name)).join(','))}`;
};

/** The format of encodings written today: stored with each row, compared on every read. */
export const MESSAGE_ENCODING_FORMAT = encodingFormatOf(MessageSchema);

const FIRST_FIELD = Object.keys(MessageSchema.properties)[0];
if (FIRST_FIELD !== 'messageId') throw new Error('stored-encoding: MessageSchema must begin with messageId (the row id is known only after the insert)');

/**
 * The stored part of a message's encoding: everything after `messageId`, closing brace included.
 * Written with the row, before the row's id exists.
 */
export function encodeStoredMessageBody(message: Omit<Message, 'messageId'>): string {
  return JSON.stringify(message).slice(1);
}

/**
 * A whole message's encoding from its row id and stored body. Stores that can concatenate in SQL
 * build the same text there: `'{"messageId":"' || id || '",' || body` (row ids are digits).
 */
export function joinStoredMessage(messageId: string, body: string): string {
  return `{"messageId":${JSON.stringify(messageId)},${body}`;
}

/** The message value, with its encoding remembered by the codec so sending it encodes nothing. */
export function withStoredEncoding(message: Message, body: string): Message {
  return rememberEncoding(message, joinStoredMessage(message.messageId, body));
}
