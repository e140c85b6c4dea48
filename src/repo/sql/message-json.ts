/**
 * Every piece of message JSON the store writes: the text stored with a row, the text an append
 * returns (the live frame's payload) and a history page's text. One module, so the encoding can be
 * handed to the protocol codec in one place.
 */
import type { Message } from '../../protocol/index.js';

/**
 * The JSON text of a message after its `messageId` member, closing brace included. Stored with the
 * row at write time (the id is the row's, known only after the INSERT), so a history page is spliced
 * together from stored text instead of read column by column and serialized again.
 */
export function messageJsonTail(m: Omit<Message, 'messageId'>): string {
  return JSON.stringify({
    conversationId: m.conversationId,
    senderId: m.senderId,
    senderName: m.senderName,
    content: m.content,
    messageType: m.messageType,
    seqId: m.seqId,
    sendTime: m.sendTime,
  }).slice(1);
}

/** A whole message's JSON from its id (digits only: a row id) and its stored tail. */
export function messageJson(messageId: string | number, tail: string): string {
  return `{"messageId":"${messageId}",${tail}`;
}

/**
 * `messageJson` spelled in SQL over a `messages` row (NULL for a row stored without its tail):
 * SQLite concatenates it, one string per row instead of two values and a concatenation in JS.
 */
export const MESSAGE_JSON_SQL = `'{"messageId":"' || id || '",' || wire`;

/** A page's JSON from its messages' JSON texts, in order. */
export const pageJsonOfParts = (parts: readonly string[]): string => `[${parts.join(',')}]`;

/** A page's JSON from its messages (a store that keeps no stored text, or rows stored before it). */
export const pageJsonOfMessages = (messages: readonly Message[]): string => JSON.stringify(messages);

/** One message's JSON from its value (a duplicate, read back from its columns). */
export const messageJsonOf = (message: Message): string => JSON.stringify(message);
