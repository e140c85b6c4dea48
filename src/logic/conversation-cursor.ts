/**
 * The cursor of the conversation list's pages: where the previous page ended, as the
 * (updated_at, id) keyset the list is ordered by, plus the number of the page it opens.
 * On the wire it is opaque: base64url of `v1:<page>:<updatedAtMs>:<conversationId>`.
 *
 * A cursor is not a credential. It only positions a read of the caller's own list: a cursor
 * made by someone else, or by hand, reads the caller's conversations from that position and
 * nothing more. It is still parsed strictly (one canonical spelling, bounded numbers), so a
 * malformed one is a VALIDATION_ERROR naming `cursor` rather than a surprising page.
 */
import { AppError } from '../protocol/index.js';
import type { ConversationKey } from '../repo/index.js';

export interface ConversationCursor {
  /** 1-based number of the page this cursor opens (2 for the cursor the first page hands out). */
  page: number;
  /** The page starts strictly after this position. */
  after: ConversationKey;
}

/** Past this a page number means nothing (a walk of 100-item pages would span 10^9 conversations). */
export const MAX_CURSOR_PAGE = 10_000_000;

const WIRE = /^[A-Za-z0-9_-]{1,96}$/;
const TEXT = /^v1:([1-9][0-9]{0,7}):(0|[1-9][0-9]{0,15}):([1-9][0-9]{0,17})$/;

/**
 * @example
 * ```ts
 * encodeConversationCursor({ page: 2, after: { updatedAt: 1767225600000, conversationId: '42' } }); // 'djE6MjoxNzY3MjI1NjAwMDAwOjQy'
 * ```
 */
export function encodeConversationCursor(cursor: ConversationCursor): string {
  return Buffer.from(`v1:${cursor.page}:${cursor.after.updatedAt}:${cursor.after.conversationId}`, 'latin1').toString('base64url');
}

/** The cursor `text` spells, or VALIDATION_ERROR (`details.field = 'cursor'`) when it is not one this server made. */
export function decodeConversationCursor(text: string): ConversationCursor {
  const invalid = () => new AppError('VALIDATION_ERROR', 'cursor: is not a cursor from a previous page (pass pagination.nextCursor as is)', { field: 'cursor' });
  if (!WIRE.test(text)) throw invalid();
  const match = TEXT.exec(Buffer.from(text, 'base64url').toString('latin1'));
  if (!match) throw invalid();
  const [page, updatedAt, conversationId] = [Number(match[1]), Number(match[2]), match[3]!];
  if (page < 2 || page > MAX_CURSOR_PAGE || !Number.isSafeInteger(updatedAt)) throw invalid();
  const cursor = { page, after: { updatedAt, conversationId } };
  // One spelling per cursor: base64url text with stray trailing bits decodes to the same bytes.
  if (encodeConversationCursor(cursor) !== text) throw invalid();
  return cursor;
}
