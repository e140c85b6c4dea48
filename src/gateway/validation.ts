/**
 * The validators of the gateway. HTTP bodies and WebSocket frames are checked strictly
 * (no type coercion, no unknown fields); query strings and path params are coerced from text.
 */
import { Ajv, type ErrorObject } from 'ajv';

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
