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
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new AppError('INVALID_JSON', 'Body is not valid UTF-8');
  }
  if (whenEmpty !== undefined && text.trim() === '') return whenEmpty;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('INVALID_JSON');
  }
  if (text.includes('\\u') && hasLoneSurrogate(value)) {
    throw new AppError('VALIDATION_ERROR', 'strings must be well-formed Unicode (lone surrogate)');
  }
  return value;
}
