/**
 * Who may change a message, and how: a pure function from the message as it is (read under its
 * conversation's lock, inside the store's transaction) and the change asked for, to "apply",
 * "nothing to do" (a repeat), or the AppError to answer with. The store keeps the atomicity; the
 * rules live here and are the same on every topology.
 *
 * | change | the sender | a group owner or admin | another member |
 * |---|---|---|---|
 * | recall | within the recall window (any time when also owner/admin of the group) | any message but system ones, any time | FORBIDDEN |
 * | edit | its text messages, within the edit window (if one is set) | FORBIDDEN | FORBIDDEN |
 * | react / unreact | yes | yes | yes |
 *
 * A non-member is told MESSAGE_NOT_FOUND whatever it asks: it learns nothing of other conversations.
 * A recalled message takes no edit and no reaction (MESSAGE_RECALLED); recalling it again, adding a
 * reaction one already has or removing one it has not change nothing and succeed.
 */
import { AppError, type GroupRole } from '../protocol/index.js';
import type { MessageEdit, MessageTarget } from '../repo/index.js';

export interface MessageRulesConfig {
  /** 0: senders cannot recall. */
  recallWindowSeconds: number;
  /** 0: no limit. */
  editWindowSeconds: number;
  maxReactionsPerMessage: number;
}

const ADMINS: ReadonlySet<GroupRole> = new Set(['owner', 'admin']);

/** True to apply `edit`, false when it would change nothing; throws when the actor may not. */
export function decideMessageChange(target: MessageTarget, actorId: string, edit: MessageEdit, now: number, config: MessageRulesConfig): boolean {
  const { message } = target;
  if (target.actorRole === null) throw new AppError('MESSAGE_NOT_FOUND');
  const isSender = message.senderId === actorId;
  const age = now - Date.parse(message.sendTime);
  const recalled = message.recalledAt !== undefined;
  switch (edit.kind) {
    case 'recall': {
      if (recalled) return false;
      if (message.messageType === 'system') throw new AppError('FORBIDDEN', 'System messages cannot be recalled');
      const moderator = target.conversationType === 'group' && ADMINS.has(target.actorRole);
      if (moderator) return true;
      if (!isSender) {
        throw target.conversationType === 'group'
          ? new AppError('FORBIDDEN', "Only the sender, the group's owner or an admin may recall it", { requiredRole: 'admin' })
          : new AppError('FORBIDDEN', 'Only the sender may recall it');
      }
      // A window of 0 refuses every sender, whatever the clocks of the processes that wrote sendTime say.
      if (config.recallWindowSeconds === 0 || age > config.recallWindowSeconds * 1000) {
        throw new AppError('RECALL_WINDOW_EXPIRED', `A message can be recalled within ${config.recallWindowSeconds} s of sending`, { windowSeconds: config.recallWindowSeconds });
      }
      return true;
    }
    case 'edit': {
      if (!isSender) throw new AppError('FORBIDDEN', 'Only the sender may edit it');
      if (recalled) throw new AppError('MESSAGE_RECALLED');
      if (message.messageType !== 'text') throw new AppError('MESSAGE_NOT_EDITABLE');
      if (config.editWindowSeconds > 0 && age > config.editWindowSeconds * 1000) {
        throw new AppError('EDIT_WINDOW_EXPIRED', `A message can be edited within ${config.editWindowSeconds} s of sending`, { windowSeconds: config.editWindowSeconds });
      }
      return edit.content !== message.content;
    }
    case 'react': {
      if (recalled) throw new AppError('MESSAGE_RECALLED');
      const mine = target.myReactions.includes(edit.emoji);
      if (!edit.add) return mine;
      if (mine) return false;
      const counts = message.reactions ?? [];
      if (!counts.some((c) => c.emoji === edit.emoji) && counts.length >= config.maxReactionsPerMessage) {
        throw new AppError('TOO_MANY_REACTIONS', `A message carries at most ${config.maxReactionsPerMessage} different reactions`, { maxReactions: config.maxReactionsPerMessage });
      }
      return true;
    }
  }
}

/** `\p{RGI_Emoji}`: one emoji as Unicode recommends it for interchange (with its variation selector, ZWJ sequence or flag). */
// Built at run time: the `v` flag postdates the compile target, not Node 20's regular expressions.
const RGI_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
const VARIATION_SELECTOR_16 = '\uFE0F';

/**
 * The reaction's emoji in its one stored form, or VALIDATION_ERROR: exactly one emoji grapheme. A
 * text-style symbol that is an emoji with U+FE0F (❤ for ❤️) is stored with it, so both spellings
 * count as one reaction.
 */
export function normalizeReaction(raw: string): string {
  const text = raw.normalize('NFC');
  if (text.length <= 32) {
    if (RGI_EMOJI.test(text)) return text;
    const withSelector = text + VARIATION_SELECTOR_16;
    if (!text.includes(VARIATION_SELECTOR_16) && RGI_EMOJI.test(withSelector)) return withSelector;
  }
  throw new AppError('VALIDATION_ERROR', 'emoji: must be exactly one emoji', { field: 'emoji' });
}

/** Bounds of a message's `extra`: its encoding's size and how deep it nests. */
export const EXTRA_MAX_BYTES = 2048;
export const EXTRA_MAX_DEPTH = 4;

/** VALIDATION_ERROR naming `extra` unless it is a plain JSON object within the bounds. */
export function checkExtra(extra: unknown): Record<string, unknown> {
  const invalid = (rule: string) => new AppError('VALIDATION_ERROR', `extra: ${rule}`, { field: 'extra' });
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) throw invalid('must be a JSON object');
  let encoded: string;
  try {
    encoded = JSON.stringify(extra);
  } catch {
    throw invalid('must be JSON');
  }
  if (Buffer.byteLength(encoded) > EXTRA_MAX_BYTES) throw invalid(`at most ${EXTRA_MAX_BYTES} bytes encoded`);
  if (depthOf(extra) > EXTRA_MAX_DEPTH) throw invalid(`at most ${EXTRA_MAX_DEPTH} levels deep`);
  // Round-tripped: what is stored is exactly what JSON says (no undefined, no prototype tricks).
  return JSON.parse(encoded) as Record<string, unknown>;
}

/** Nesting depth of a JSON value: a scalar 0, `{}` 1. Bounded by the size check before it runs. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depthOf(child));
  return deepest + 1;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * `content` on one line, cut to at most `max` characters as a person counts them (graphemes: an
 * emoji sequence or a letter with its accents is one, and is never cut in two), with "…" when cut.
 */
export function previewOf(content: string, max = 100): string {
  const flat = content.replace(/\s+/g, ' ').trim();
  // Content is bounded (GOCHAT_MAX_CONTENT_CHARS), so segmenting all of it stays cheap.
  const parts = Array.from(graphemes.segment(flat), (s) => s.segment);
  return parts.length <= max ? flat : `${parts.slice(0, max - 1).join('')}…`;
}
