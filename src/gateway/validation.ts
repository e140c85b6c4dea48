/**
 * The validators of the gateway. HTTP bodies and WebSocket frames are checked strictly
 * (no type coercion, no unknown fields); query strings and path params are coerced from text.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { AppError } from '../protocol/index.js';

const common = { allErrors: false, strict: false, unicodeRegExp: true } as const;

export const strictAjv = new Ajv({ ...common, coerceTypes: false, removeAdditional: false, useDefaults: false });
export const coercingAjv = new Ajv({ ...common, coerceTypes: true, removeAdditional: false, useDefaults: true });

/** "body/username must NOT have fewer than 2 characters", naming the field, as contract.md asks. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined, prefix: string): string {
  const first = errors?.[0];
  if (!first) return `${prefix} is invalid`;
  const where = `${prefix}${first.instancePath}`;
  if (first.keyword === 'additionalProperties') {
    return `${where} has an unknown field "${String((first.params as { additionalProperty?: string }).additionalProperty)}"`;
  }
  if (first.keyword === 'required') {
    return `${where}/${String((first.params as { missingProperty?: string }).missingProperty)} is required`;
  }
  return `${where} ${first.message ?? 'is invalid'}`;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when some string (key or value) inside `value` holds a lone surrogate. Iterative: nesting may be deep. */
function hasLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (LONE_SURROGATE.test(item)) return true;
    } else if (Array.isArray(item)) {
      stack.push(...item);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) stack.push(key, child);
    }
  }
  return false;
}

/**
 * Parses a JSON body or frame. JSON is UTF-8 (RFC 8259), so bytes that are not valid UTF-8 are
 * INVALID_JSON rather than silently turned into U+FFFD; a `\uD800`-style escape that leaves a
 * lone surrogate is a VALIDATION_ERROR, since it could not be stored and returned verbatim.
 * `whenEmpty`, if given, is the value of an empty (or all-blank) input.
 */
export function parseJson(bytes: Buffer, whenEmpty?: unknown): unknown {
  const value = decodeJson(bytes, whenEmpty);
  if (mayHoldLoneSurrogate(bytes)) assertWellFormed(value);
  return value;
}

/** Strict UTF-8 cannot encode a lone surrogate: only a JSON `\u` escape can make one. */
export function mayHoldLoneSurrogate(bytes: Buffer): boolean {
  return bytes.includes('\\u');
}

/** UTF-8 and JSON only; lone surrogates are left for `assertWellFormed` (a frame still names its tempMessageId). */
export function decodeJson(bytes: Buffer, whenEmpty?: unknown): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new AppError('INVALID_JSON', 'Body is not valid UTF-8');
  }
  if (whenEmpty !== undefined && text.trim() === '') return whenEmpty;
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('INVALID_JSON');
  }
}

/** A `\uD800`-style escape that leaves a lone surrogate could not be stored and returned verbatim. */
export function assertWellFormed(value: unknown): void {
  if (hasLoneSurrogate(value)) throw new AppError('VALIDATION_ERROR', 'strings must be well-formed Unicode (lone surrogate)');
}

/** True when `text` has no lone surrogate (so it can be echoed back). */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}
