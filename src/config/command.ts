/**
 * `node dist/src/app/main.js config` (`npm run config`): prints the effective configuration of
 * this environment without starting anything, secrets masked. Bad values are reported the way
 * the server would refuse them at start, one line each.
 *
 *   config                print every variable, its value and whether it came from env or the default
 *   config --json         the same as JSON
 *   config --write-docs   rewrite the env tables of docs/deploy.md from the declarations
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { ConfigError, resolveSettings, settingsOf } from './index.js';
import { effectiveRows, formatEffective, withEnvTables, type EffectiveRow } from './describe.js';

/** From dist/src/config/ (or src/config/ under a TS runner) up to the repository root. */
function deployDocPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = here.split(path.sep).includes('dist') ? '../../..' : '../..';
  return path.resolve(here, up, 'docs/deploy.md');
}

const USAGE = 'usage: main.js config [--json | --write-docs]\n';

function write(stream: Writable, text: string): Promise<void> {
  // Resolves once flushed: the caller exits right after, and a pipe must not lose the tail.
  return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())));
}

/** Runs the command; resolves with the process exit code. */
export async function runConfigCommand(
  args: readonly string[],
  env: Record<string, string | undefined> = process.env,
  out: Writable = process.stdout,
  err: Writable = process.stderr,
): Promise<number> {
  const [flag, ...rest] = args;
  if (rest.length > 0 || (flag !== undefined && !['--json', '--write-docs'].includes(flag))) {
    await write(err, USAGE);
    return 2;
  }
  if (flag === '--write-docs') {
    const file = deployDocPath();
    const before = fs.readFileSync(file, 'utf8');
    const after = withEnvTables(before, settingsOf());
    if (after !== before) fs.writeFileSync(file, after);
    await write(out, `${after === before ? 'unchanged' : 'rewrote'} ${path.relative(process.cwd(), file) || file}\n`);
    return 0;
  }
  let rows: EffectiveRow[];
  try {
    rows = effectiveRows(resolveSettings(env));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    await write(err, `${e.message}\n`);
    return 1;
  }
  await write(out, flag === '--json' ? `${JSON.stringify(rows, null, 2)}\n` : formatEffective(rows));
  return 0;
}
