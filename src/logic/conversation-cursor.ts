/**
 * The cursor of the conversation list's pages: where the previous page ended, as the
 * (pinned, updated_at, id) keyset the list is ordered by, plus the number of the page it opens.
 * On the wire it is opaque: base64url of `v2:<page>:<pinned 0|1>:<updatedAtMs>:<conversationId>`.
 * A `v1:` cursor (from before pinning) still reads: it was made among the unpinned.
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
const TEXT_V1 = /^v1:([1-9][0-9]{0,7}):(0|[1-9][0-9]{0,15}):([1-9][0-9]{0,17})$/;
const TEXT = /^v2:([1-9][0-9]{0,7}):([01]):(0|[1-9][0-9]{0,15}):([1-9][0-9]{0,17})$/;

/**
 * @example
 * ```ts
 * encodeConversationCursor({ page: 2, after: { pinned: false, updatedAt: 1767225600000, conversationId: '42' } }); // 'djI6MjowOjE3NjcyMjU2MDAwMDA6NDI'
 * ```
 */
export function encodeConversationCursor(cursor: ConversationCursor): string {
  return Buffer.from(`v2:${cursor.page}:${cursor.after.pinned ? 1 : 0}:${cursor.after.updatedAt}:${cursor.after.conversationId}`, 'latin1').toString('base64url');
}

/** The cursor `text` spells, or VALIDATION_ERROR (`details.field = 'cursor'`) when it is not one this server made. */
export function decodeConversationCursor(text: string): ConversationCursor {
  const invalid = () => new AppError('VALIDATION_ERROR', 'cursor: is not a cursor from a previous page (pass pagination.nextCursor as is)', { field: 'cursor' });
  if (!WIRE.test(text)) throw invalid();
  const decoded = Buffer.from(text, 'base64url').toString('latin1');
  const v2 = TEXT.exec(decoded);
  const v1 = v2 ? null : TEXT_V1.exec(decoded);
  if (!v2 && !v1) throw invalid();
  const [page, pinned, updatedAt, conversationId] = v2 ? [Number(v2[1]), v2[2] === '1', Number(v2[3]), v2[4]!] : [Number(v1![1]), false, Number(v1![2]), v1![3]!];
  if (page < 2 || page > MAX_CURSOR_PAGE || !Number.isSafeInteger(updatedAt)) throw invalid();
  const cursor = { page, after: { pinned, updatedAt, conversationId } };
  // One spelling per cursor: base64url text with stray trailing bits decodes to the same bytes.
  const canonical = v2 ? encodeConversationCursor(cursor) : Buffer.from(`v1:${page}:${updatedAt}:${conversationId}`, 'latin1').toString('base64url');
  if (canonical !== text) throw invalid();
  return cursor;
}
