/**
 * The typed configuration tree. This module is the only reader of `process.env`:
 * everything else receives its slice of `Config` from the composition root.
 *
 * The settings are declared once, in `settings.ts`; `Config` is derived from them, so a setting
 * cannot exist in the type without an env name, a default, bounds and a doc line.
 */
import { InvalidValue, Setting } from './setting.js';
import { SETTINGS } from './settings.js';

export { SETTINGS } from './settings.js';
export { Setting } from './setting.js';

/** The value type a declaration tree describes: settings become their values, constants stay. */
export type ConfigOf<S> = S extends Setting<infer T> ? T : S extends object ? { -readonly [K in keyof S]: ConfigOf<S[K]> } : S;

export type Config = ConfigOf<typeof SETTINGS>;
export type Role = Config['role'];

type Env = Record<string, string | undefined>;

/** Where an effective value came from: its variable (or an alias of it), or the default. */
export type Source = { kind: 'env'; name: string } | { kind: 'default' };

export interface Resolved {
  setting: Setting<unknown>;
  value: unknown;
  source: Source;
}

/** Every bad variable at once, one line each, so an operator fixes them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Every setting of a tree once, in declaration order (a setting referenced twice appears once). */
export function settingsOf(tree: object = SETTINGS): Setting<unknown>[] {
  const found = new Set<Setting<unknown>>();
  const walk = (node: unknown): void => {
    if (node instanceof Setting) found.add(node as Setting<unknown>);
    else if (node !== null && typeof node === 'object') for (const child of Object.values(node)) walk(child);
  };
  walk(tree);
  return [...found];
}

function resolveOne(setting: Setting<unknown>, env: Env, problems: string[]): Resolved {
  // Unset and empty are the same: `FOO=` in a unit file means "not configured".
  for (const name of [setting.env, ...setting.aliases]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    try {
      return { setting, value: setting.parse(raw), source: { kind: 'env', name } };
    } catch (err) {
      if (!(err instanceof InvalidValue)) throw err;
      problems.push(setting.problem(raw, err.message, name));
      return { setting, value: setting.fallback, source: { kind: 'env', name } };
    }
  }
  return { setting, value: setting.fallback, source: { kind: 'default' } };
}

/** Each setting of `tree` with its effective value and source; throws ConfigError on any bad value. */
export function resolveSettings(env: Env = process.env, tree: object = SETTINGS): Resolved[] {
  const problems: string[] = [];
  const resolved = settingsOf(tree).map((setting) => resolveOne(setting, env, problems));
  if (problems.length > 0) throw new ConfigError(problems);
  return resolved;
}

function build(node: unknown, values: ReadonlyMap<Setting<unknown>, unknown>): unknown {
  if (node instanceof Setting) return values.get(node as Setting<unknown>);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node)) out[key] = build(child, values);
  return out;
}

/** Builds the typed tree of any declaration tree (tests use small ones). */
export function loadTree<S extends object>(tree: S, env: Env = process.env): ConfigOf<S> {
  const values = new Map(resolveSettings(env, tree).map((r) => [r.setting, r.value]));
  return build(tree, values) as ConfigOf<S>;
}

/** Reads and checks every setting; throws ConfigError naming each bad variable. */
export function loadConfig(env: Env = process.env): Config {
  return loadTree(SETTINGS, env);
}
