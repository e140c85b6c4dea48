import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, resolveSettings, settingsOf } from '../../src/config/index.js';
import { effectiveRows, withEnvTables } from '../../src/config/describe.js';
import { runConfigCommand } from '../../src/config/command.js';
import { int } from '../../src/config/setting.js';
import { RAISED_LIMITS_ENV } from '../helpers/limits.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = path.join(root, 'dist/src/app/main.js');

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail(`${JSON.stringify(env)} was accepted`);
}

function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

describe('configuration defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.role, 'all');
    assert.equal(config.http.port, 8080);
    assert.equal(config.http.trustProxy, false);
    assert.equal(config.messages.worldRoom, true);
    assert.deepEqual(config.limits.sendPerUser, { limit: 60, windowMs: 10_000 });
    assert.deepEqual(config.grpc.logicAddrs, []);
    assert.equal(config.dataDir, path.resolve('data'));
    assert.equal(config.log.level, 'info');
  });

  it('the fan-out tunables default to the values the composition root used to hard-code', () => {
    const { fanout } = loadConfig({});
    assert.equal(fanout.streamMaxLen, 100_000);
    assert.equal(fanout.blockMs, 1_000);
    assert.equal(fanout.memberCacheMs, 2_000);
  });

  it('an empty variable means the default, like an unset one', () => {
    assert.deepEqual(loadConfig({ PORT: '', GOCHAT_WORLD_ROOM: '', GOCHAT_REDIS_PREFIX: '' }), loadConfig({}));
  });

  it('says for every variable whether its value came from the environment or the default', () => {
    const rows = effectiveRows(resolveSettings({ PORT: '9000' }));
    assert.deepEqual(rows.find((r) => r.variable === 'PORT'), { variable: 'PORT', value: '9000', source: 'env' });
    assert.deepEqual(rows.find((r) => r.variable === 'HOST'), { variable: 'HOST', value: '0.0.0.0', source: 'default' });
  });
});

describe('strict parsing', () => {
  it('booleans accept true/false, 1/0, yes/no and on/off in any case', () => {
    for (const word of ['true', 'TRUE', '1', 'yes', 'Yes', 'on', 'ON']) assert.equal(loadConfig({ GOCHAT_TRUST_PROXY: word }).http.trustProxy, true, word);
    for (const word of ['false', 'False', '0', 'no', 'NO', 'off', 'Off']) assert.equal(loadConfig({ GOCHAT_WORLD_ROOM: word }).messages.worldRoom, false, word);
  });

  it('a bad boolean is refused with the variable, the value and the accepted form', () => {
    const [problem] = problemsOf({ GOCHAT_WORLD_ROOM: 'maybe' });
    assert.match(problem!, /^GOCHAT_WORLD_ROOM="maybe": not a boolean; accepted: true\/false, 1\/0, yes\/no or on\/off/);
  });

  it('integers are decimal digits only', () => {
    for (const raw of ['0x10', '1e3', ' 7', '7 ', '-1', '1.5', '+3', '1_000', 'ten']) {
      const [problem] = problemsOf({ GOCHAT_MAX_CONTENT_CHARS: raw });
      assert.match(problem!, /^GOCHAT_MAX_CONTENT_CHARS=".*": not a decimal integer; accepted: a decimal integer from 1 to 2147483647$/, raw);
    }
    assert.equal(loadConfig({ GOCHAT_MAX_CONTENT_CHARS: '120' }).messages.maxContentChars, 120);
  });

  it('an integer outside its bounds is refused, saying which bound', () => {
    assert.match(problemsOf({ PORT: '65536' })[0]!, /^PORT="65536": above the maximum 65535; accepted: a decimal integer from 0 to 65535$/);
    assert.match(problemsOf({ GOCHAT_MAX_SOCKETS_PER_USER: '0' })[0]!, /^GOCHAT_MAX_SOCKETS_PER_USER="0": below the minimum 1;/);
    assert.match(problemsOf({ GOCHAT_FANOUT_CLAIM_IDLE_MS: '99' })[0]!, /below the minimum 100/);
    // Past 2^31 - 1 ms a Node timer fires at once.
    assert.match(problemsOf({ GOCHAT_WS_IDLE_TIMEOUT_MS: '2147483648' })[0]!, /above the maximum 2147483647/);
  });

  it('the scrypt cost must be a power of two', () => {
    assert.match(problemsOf({ GOCHAT_SCRYPT_COST: '1000' })[0]!, /^GOCHAT_SCRYPT_COST="1000": not a power of two;/);
    assert.equal(loadConfig({ GOCHAT_SCRYPT_COST: '1024' }).auth.scryptCost, 1024);
  });

  it('an unknown enum value is refused with the accepted values', () => {
    assert.equal(problemsOf({ GOCHAT_ROLE: 'both' })[0], 'GOCHAT_ROLE="both": not an accepted value; accepted: one of all, gateway, logic, task');
    assert.match(problemsOf({ GOCHAT_LOG_LEVEL: 'verbose' })[0]!, /^GOCHAT_LOG_LEVEL="verbose": not an accepted value/);
  });

  it('a URL of another scheme is refused without echoing it', () => {
    const [problem] = problemsOf({ GOCHAT_DATABASE_URL: 'mysql://u:hunter2@db/x' });
    assert.equal(problem, 'GOCHAT_DATABASE_URL=(value hidden): not a URL of an accepted scheme; accepted: a postgres:// or postgresql:// URL');
  });

  it('a JWT secret shorter than 32 characters is refused without echoing it', () => {
    const [problem] = problemsOf({ GOCHAT_JWT_SECRET: 'hunter2' });
    assert.equal(problem, 'GOCHAT_JWT_SECRET=(value hidden): too short; accepted: text of 32 to 1024 characters');
  });

  it('logic addresses must be host:port', () => {
    assert.deepEqual(loadConfig({ GOCHAT_LOGIC_ADDR: '10.0.0.1:9001, [::1]:9002,' }).grpc.logicAddrs, ['10.0.0.1:9001', '[::1]:9002']);
    assert.match(problemsOf({ GOCHAT_LOGIC_ADDR: '10.0.0.1:9001,logic' })[0]!, /"logic" is not host:port/);
  });

  it('every bad variable is reported at once, each on its own line', () => {
    const problems = problemsOf({ PORT: 'eighty', GOCHAT_ROLE: 'both', GOCHAT_TRUST_PROXY: 'perhaps' });
    assert.deepEqual(problems.map((p) => p.split('=')[0]).sort(), ['GOCHAT_ROLE', 'GOCHAT_TRUST_PROXY', 'PORT']);
    assert.throws(() => loadConfig({ PORT: 'eighty', GOCHAT_ROLE: 'both' }), /^ConfigError: Invalid configuration:\n {2}GOCHAT_ROLE=.*\n {2}PORT=/);
  });

  it('an error echoes at most 64 characters of a value', () => {
    const [problem] = problemsOf({ GOCHAT_ROLE: 'x'.repeat(10_000) });
    assert.ok(problem!.length < 200, problem);
  });

  it('a setting used in two places is read once for both', () => {
    const config = loadConfig({ GOCHAT_TRUST_PROXY: 'yes', GOCHAT_RATE_LIMITED_DELAY_MS: '0' });
    assert.equal(config.http.trustProxy, true);
    assert.equal(config.ws.trustProxy, true);
    assert.equal(config.http.refusalDelayMs, 0);
    assert.equal(config.ws.refusalDelayMs, 0);
  });

  it('LOG_LEVEL is read when GOCHAT_LOG_LEVEL is unset, and loses to it', () => {
    assert.equal(loadConfig({ LOG_LEVEL: 'debug' }).log.level, 'debug');
    assert.equal(loadConfig({ LOG_LEVEL: 'debug', GOCHAT_LOG_LEVEL: 'warn' }).log.level, 'warn');
    assert.equal(effectiveRows(resolveSettings({ LOG_LEVEL: 'debug' })).find((r) => r.variable === 'GOCHAT_LOG_LEVEL')?.source, 'env (LOG_LEVEL)');
  });

  it('accepts the environment the test servers and the topology start with', () => {
    assert.doesNotThrow(() => loadConfig({ ...RAISED_LIMITS_ENV, GOCHAT_GRPC_PORT: '0', GOCHAT_METRICS_PORT: '0', GOCHAT_SCRYPT_COST: '1024' }));
  });
});

describe('the declarations', () => {
  it('name every variable once', () => {
    const names = settingsOf().map((s) => s.env);
    assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), []);
  });

  it('cannot declare an integer that accepts 0 without saying what 0 means', () => {
    assert.throws(() => int({ env: 'X', default: 1, min: 0, doc: 'x', section: 'logic' }), /X accepts 0 but does not say what 0 means/);
  });

  it('docs/deploy.md holds exactly the tables generated from them', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/deploy.md'), 'utf8');
    // On failure: node dist/src/app/main.js config --write-docs
    assert.equal(withEnvTables(doc, settingsOf()), doc);
    for (const setting of settingsOf()) assert.ok(doc.includes(`| \`${setting.env}\` |`), setting.env);
  });
});

/** A quantity as the prose docs write it ("10 s", "512 KiB", "20 000", "24 h") in the unit of `env`'s setting. */
function inSettingUnit(env: string, amount: string, unit: string | undefined): number {
  const n = Number(amount.replace(/[\s\u202f]/g, ''));
  if (unit === undefined) return n;
  const seconds: Record<string, number> = { s: 1, min: 60, h: 3600 };
  if (unit in seconds) {
    if (env.endsWith('_MS')) return n * seconds[unit]! * 1000;
    if (env.endsWith('_SECONDS')) return n * seconds[unit]!;
  }
  const bytes: Record<string, number> = { KiB: 1024, MiB: 1024 * 1024 };
  if (unit in bytes) return n * bytes[unit]!;
  assert.fail(`${env}: the unit ${unit} does not fit the setting`);
}

describe('the defaults the prose docs state', () => {
  const defaults = new Map(settingsOf().map((s) => [s.env, s.show(s.fallback)]));
  /** The default as docs/deploy.md shows it: its documented form where it has one (a path relative to the working directory). */
  const shown = new Map(settingsOf().map((s) => [s.env, s.defaultDoc?.match(/^`([^`]*)`$/)?.[1] ?? s.show(s.fallback)]));

  it('README.md: every default in its table is the declared one', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    let checked = 0;
    for (const line of readme.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      if (cells.length < 4 || !cells[1]!.startsWith('`GOCHAT_')) continue;
      const names = [...cells[1]!.matchAll(/`(GOCHAT_[A-Z0-9_]+)`/g)].map((m) => m[1]!);
      const values = [...cells[2]!.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);
      if (values.length !== names.length) continue; // prose, not values ("generated once…")
      names.forEach((name, i) => {
        assert.ok(shown.has(name), `${name} in README.md is not a setting`);
        assert.equal(values[i], shown.get(name), `README.md states ${name} defaults to ${values[i]}`);
        checked++;
      });
    }
    assert.ok(checked >= 10, `only ${checked} README defaults found: has the table's shape changed?`);
  });

  it('docs/security.md: every limit it quotes, and its window, is the declared default', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/security.md'), 'utf8');
    const quoted = /`(GOCHAT_[A-Z0-9_]+)`(?:,\s*|\s*\()(\d{1,3}(?:[ \u202f]\d{3})+|\d+)\s*(KiB|MiB|min|s|h)?(?:\s*(?:\/|per)\s*(\d+)?\s*(min|s|h))?[),;\s]/g;
    let checked = 0;
    for (const [, name, amount, unit, windowAmount, windowUnit] of doc.matchAll(quoted)) {
      assert.ok(defaults.has(name!), `${name} in docs/security.md is not a setting`);
      assert.equal(inSettingUnit(name!, amount!, unit), Number(defaults.get(name!)), `docs/security.md quotes ${name} as ${amount}${unit ?? ''}`);
      if (windowUnit !== undefined) {
        const windowName = `${name}_WINDOW_MS`;
        assert.ok(defaults.has(windowName), `${name} is quoted with a window but has no ${windowName}`);
        assert.equal(inSettingUnit(windowName, windowAmount ?? '1', windowUnit), Number(defaults.get(windowName)), `docs/security.md quotes ${name}'s window as ${windowAmount ?? ''}${windowUnit}`);
      }
      checked++;
    }
    assert.ok(checked >= 15, `only ${checked} quoted limits found in docs/security.md`);
  });
});

describe('the config command', () => {
  const secrets = {
    GOCHAT_JWT_SECRET: 'jwt-secret-value-0123456789abcdefghijklmnop',
    GOCHAT_DATABASE_URL: 'postgres://gochat:pg-password@127.0.0.1:5432/gochat?sslpassword=ssl-password',
    GOCHAT_REDIS_URL: 'redis://:redis-password@127.0.0.1:6379/0',
  };

  it('prints every variable with its value and source, secrets masked', async () => {
    const out = capture();
    assert.equal(await runConfigCommand([], { ...secrets, PORT: '9000' }, out.stream), 0);
    const text = out.text();
    for (const setting of settingsOf()) assert.match(text, new RegExp(`^${setting.env} `, 'm'));
    assert.match(text, /^PORT +9000 +env$/m);
    assert.match(text, /^HOST +0\.0\.0\.0 +default$/m);
    assert.match(text, /^GOCHAT_JWT_SECRET +\*{8} +env$/m);
    assert.match(text, /^GOCHAT_DATABASE_URL +postgres:\/\/gochat:\*{8}@127\.0\.0\.1:5432\/gochat\?sslpassword=\*{8} +env$/m);
    assert.match(text, /^GOCHAT_REDIS_URL +redis:\/\/:\*{8}@127\.0\.0\.1:6379\/0 +env$/m);
    for (const word of ['jwt-secret-value', 'pg-password', 'ssl-password', 'redis-password']) assert.ok(!text.includes(word), word);
  });

  it('--json prints the same rows, secrets masked', async () => {
    const out = capture();
    assert.equal(await runConfigCommand(['--json'], secrets, out.stream), 0);
    const rows = JSON.parse(out.text()) as { variable: string; value: string; source: string }[];
    assert.equal(rows.length, settingsOf().length);
    assert.deepEqual(rows.find((r) => r.variable === 'GOCHAT_JWT_SECRET'), { variable: 'GOCHAT_JWT_SECRET', value: '********', source: 'env' });
  });

  it('reports bad values on stderr and exits 1', async () => {
    const out = capture();
    const err = capture();
    assert.equal(await runConfigCommand([], { GOCHAT_WORLD_ROOM: 'maybe' }, out.stream, err.stream), 1);
    assert.equal(out.text(), '');
    assert.match(err.text(), /GOCHAT_WORLD_ROOM="maybe": not a boolean/);
  });

  it('refuses an unknown option with the usage', async () => {
    const err = capture();
    assert.equal(await runConfigCommand(['--bogus'], {}, capture().stream, err.stream), 2);
    assert.match(err.text(), /^usage: /);
  });

  it('main.js config prints and exits without starting the server', () => {
    const run = spawnSync(process.execPath, [MAIN, 'config'], { env: { PATH: process.env.PATH, PORT: '1' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^PORT +1 +env$/m);
    assert.ok(!run.stdout.includes('listening'));
  });

  it('a server started with a bad setting exits 1 naming it, without a stack trace', () => {
    const run = spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH, PORT: 'eighty' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^Invalid configuration:\n {2}PORT="eighty": not a decimal integer/);
    assert.doesNotMatch(run.stderr, /^\s+at /m);
  });
});
