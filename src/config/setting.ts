/**
 * One configurable value: its environment variable, type, default, bounds and documentation.
 * The builders below are the only way to make one, so every setting parses the same strict way
 * and every setting can describe itself (the config command, the table in docs/deploy.md).
 */
import path from 'node:path';

/** The table of docs/deploy.md a setting is listed in. */
export type Section = 'wiring' | 'gateway' | 'logic' | 'task';

/** An environment value that does not fit its setting; the loader adds the variable and the value. */
export class InvalidValue extends Error {}

/** Values longer than this are cut in error messages: an error must not echo a megabyte of env. */
const MAX_ECHO_CHARS = 64;

/** setTimeout and setInterval take at most 2^31 - 1 ms; larger values fire at once. */
export const MAX_INT = 2_147_483_647;

interface Common {
  /** The environment variable. */
  env: string;
  /** One line for docs/deploy.md and the config command. */
  doc: string;
  section: Section;
  /** Older names read when `env` is unset, for compatibility. */
  aliases?: readonly string[];
  /** Words for the docs when the default value alone would mislead (empty strings, generated values). */
  defaultDoc?: string;
}

interface SettingParts<T> {
  env: string;
  fallback: T;
  doc: string;
  section: Section;
  /** The accepted form, as the docs and the error messages state it. */
  accepts: string;
  /** Masked by the config command, never echoed by an error. */
  secret?: boolean;
  aliases?: readonly string[];
  defaultDoc?: string | undefined;
  /** What 0 means, for integers that accept it. */
  zero?: string | undefined;
  /** Parses a non-empty raw value; throws InvalidValue. */
  parse: (raw: string) => T;
  /** The value as the config command prints it (secrets masked). */
  show: (value: T) => string;
}

export class Setting<T> {
  readonly env: string;
  readonly fallback: T;
  readonly doc: string;
  readonly section: Section;
  readonly accepts: string;
  readonly secret: boolean;
  readonly aliases: readonly string[];
  readonly defaultDoc: string | undefined;
  readonly zero: string | undefined;
  readonly parse: (raw: string) => T;
  readonly show: (value: T) => string;

  constructor(parts: SettingParts<T>) {
    this.env = parts.env;
    this.fallback = parts.fallback;
    this.doc = parts.doc;
    this.section = parts.section;
    this.accepts = parts.accepts;
    this.secret = parts.secret ?? false;
    this.aliases = parts.aliases ?? [];
    this.defaultDoc = parts.defaultDoc;
    this.zero = parts.zero;
    this.parse = parts.parse;
    this.show = parts.show;
  }

  /** An error message naming the variable, the problem with the value and the accepted form. */
  problem(raw: string, problem: string, from = this.env): string {
    const echoed = this.secret ? '(value hidden)' : JSON.stringify(raw.length > MAX_ECHO_CHARS ? `${raw.slice(0, MAX_ECHO_CHARS)}…` : raw);
    return `${from}=${echoed}: ${problem}; accepted: ${this.accepts}`;
  }
}

const plain = String;

/** The fields every builder passes through unchanged. */
function common(spec: Common): Pick<SettingParts<unknown>, 'env' | 'doc' | 'section' | 'aliases' | 'defaultDoc'> {
  return { env: spec.env, doc: spec.doc, section: spec.section, aliases: spec.aliases ?? [], defaultDoc: spec.defaultDoc };
}

export interface IntSpec extends Common {
  default: number;
  min: number;
  /** Defaults to MAX_INT. */
  max?: number;
  /** Required when `min` is 0: what 0 means (usually that something is off). */
  zero?: string;
  powerOfTwo?: boolean;
}

const DECIMAL = /^[0-9]+$/;

export function int(spec: IntSpec): Setting<number> {
  const max = spec.max ?? MAX_INT;
  // A programming error, caught the first time the module loads: 0 must never mean something silently.
  if (spec.min === 0 && !spec.zero) throw new Error(`${spec.env} accepts 0 but does not say what 0 means`);
  if (spec.default < spec.min || spec.default > max) throw new Error(`${spec.env}: the default ${spec.default} is out of its bounds`);
  const range = `from ${spec.min} to ${max}`;
  return new Setting({
    ...common(spec),
    fallback: spec.default,
    accepts: spec.powerOfTwo ? `a power of two ${range}` : `a decimal integer ${range}`,
    zero: spec.zero,
    parse: (raw) => {
      // Digits only: Number() would also take "0x10", "1e3" and " 7 ", and so hide typos.
      if (!DECIMAL.test(raw)) throw new InvalidValue('not a decimal integer');
      const value = Number(raw);
      if (value < spec.min) throw new InvalidValue(`below the minimum ${spec.min}`);
      if (value > max) throw new InvalidValue(`above the maximum ${max}`);
      if (spec.powerOfTwo && (value & (value - 1)) !== 0) throw new InvalidValue('not a power of two');
      return value;
    },
    show: plain,
  });
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function bool(spec: Common & { default: boolean }): Setting<boolean> {
  return new Setting({
    ...common(spec),
    fallback: spec.default,
    accepts: 'true/false, 1/0, yes/no or on/off (any case)',
    parse: (raw) => {
      const word = raw.toLowerCase();
      if (TRUE.has(word)) return true;
      if (FALSE.has(word)) return false;
      throw new InvalidValue('not a boolean');
    },
    show: plain,
  });
}

export function oneOf<const V extends readonly string[]>(spec: Common & { values: V; default: V[number] }): Setting<V[number]> {
  const values: readonly string[] = spec.values;
  return new Setting({
    ...common(spec),
    fallback: spec.default,
    accepts: `one of ${values.join(', ')}`,
    parse: (raw) => {
      if (!values.includes(raw)) throw new InvalidValue('not an accepted value');
      return raw as V[number];
    },
    show: plain,
  });
}

export interface TextSpec extends Common {
  default: string;
  /** Defaults to 255. */
  maxLength?: number;
  /** A value (when set) shorter than this is refused: secrets. */
  minLength?: number;
  /** Masked by the config command, never echoed by an error. */
  secret?: boolean;
}

export function text(spec: TextSpec): Setting<string> {
  const maxLength = spec.maxLength ?? 255;
  const minLength = spec.minLength ?? 1;
  return new Setting({
    ...common(spec),
    fallback: spec.default,
    accepts: minLength > 1 ? `text of ${minLength} to ${maxLength} characters` : `text of at most ${maxLength} characters`,
    secret: spec.secret ?? false,
    parse: (raw) => {
      if (raw.length > maxLength) throw new InvalidValue('too long');
      if (raw.length < minLength) throw new InvalidValue('too short');
      return raw;
    },
    show: spec.secret ? (value) => (value ? '********' : '') : plain,
  });
}

/** A directory, resolved against the working directory once, at load. */
export function directory(spec: Common & { default: string }): Setting<string> {
  return new Setting({
    ...common(spec),
    fallback: path.resolve(spec.default),
    defaultDoc: spec.defaultDoc ?? `\`${spec.default}\``,
    accepts: 'a directory path (relative to the working directory)',
    parse: (raw) => {
      if (raw.length > 4096) throw new InvalidValue('too long');
      return path.resolve(raw);
    },
    show: plain,
  });
}

/**
 * A connection URL whose password is a secret: errors never echo it and the config command
 * prints it with the password (and any password-like query parameter) masked. Empty means off.
 */
export function connectionUrl(spec: Common & { schemes: readonly string[] }): Setting<string> {
  const scheme = new RegExp(`^(${spec.schemes.join('|')})://`);
  return new Setting({
    ...common(spec),
    fallback: '',
    accepts: `a ${spec.schemes.map((s) => `${s}://`).join(' or ')} URL`,
    secret: true,
    parse: (raw) => {
      if (raw.length > 2048) throw new InvalidValue('too long');
      if (!scheme.test(raw)) throw new InvalidValue('not a URL of an accepted scheme');
      return raw;
    },
    show: maskUrlPassword,
  });
}

const MASK = '********';
const SECRET_PARAM = /pass|secret|token|key/i;

export function maskUrlPassword(value: string): string {
  if (!value) return '';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Unparseable: there is no telling where the password is, so only the scheme is shown.
    return `${value.slice(0, Math.max(0, value.indexOf(':')))}://${MASK}`;
  }
  if (url.password) url.password = MASK;
  for (const name of [...url.searchParams.keys()]) if (SECRET_PARAM.test(name)) url.searchParams.set(name, MASK);
  return url.toString();
}

const HOST_PORT = /^\S+:[0-9]{1,5}$/;

/** A comma-separated list of `host:port` addresses; blanks between commas are ignored. */
export function addressList(spec: Common & { maxItems: number }): Setting<string[]> {
  return new Setting<string[]>({
    ...common(spec),
    fallback: [],
    accepts: `comma-separated host:port, at most ${spec.maxItems}`,
    parse: (raw) => {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (items.length > spec.maxItems) throw new InvalidValue('too many addresses');
      const bad = items.find((item) => !HOST_PORT.test(item));
      if (bad !== undefined) throw new InvalidValue(`${JSON.stringify(bad.slice(0, MAX_ECHO_CHARS))} is not host:port`);
      return items;
    },
    show: (value) => value.join(','),
  });
}

/** A request budget: `env` requests per `env_WINDOW_MS` milliseconds; 0 requests means no limit. */
export function rate(spec: { env: string; doc: string; section: Section; limit: number; windowMs: number }): {
  limit: Setting<number>;
  windowMs: Setting<number>;
} {
  return {
    limit: int({ env: spec.env, doc: spec.doc, section: spec.section, default: spec.limit, min: 0, zero: 'no limit' }),
    windowMs: int({ env: `${spec.env}_WINDOW_MS`, doc: `the window of \`${spec.env}\`, in ms`, section: spec.section, default: spec.windowMs, min: 1 }),
  };
}
