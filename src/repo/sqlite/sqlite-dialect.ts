/**
 * Everything SQLite-specific about the store: opening the file (WAL, synchronous=FULL, the
 * integrity check), the migrations runner, the SQL in SQLite's spelling, executing statements
 * through cached better-sqlite3 statements, and mapping "cannot write" failures to
 * SERVICE_UNAVAILABLE for clients and readiness.
 *
 * better-sqlite3 is synchronous and the process shares one connection. Bodies are run with
 * `runSync` (driver.ts): every statement executes as it is yielded, so a transaction runs from
 * BEGIN IMMEDIATE to COMMIT without returning to the event loop, and no other request's code can
 * run inside it or see its uncommitted rows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { AppError } from '../../protocol/index.js';
import { EXPIRED_GUEST_ACTIVITY } from '../shared.js';
import { runSync, sql, type SqlDriver, type SqlOp, type Step } from '../sql/driver.js';
import { MESSAGE_JSON_SQL } from '../sql/message-json.js';
import { MESSAGE_ENCODING_FORMAT } from '../../protocol/stored-encoding.js';

/** Spelled into the SQL as a literal (it is the codec's constant, never input): checked to be plain. */
import { sharedStatements, type SqlDialect, type Statements } from '../sql/statements.js';
import { SQLITE_MIGRATIONS } from './migrations.js';

// Spliced into SQL text as a literal: it must stay a plain token.
const WIRE_FORMAT = /^[a-z0-9-]+$/.test(MESSAGE_ENCODING_FORMAT) ? MESSAGE_ENCODING_FORMAT : (() => {
  throw new Error(`unexpected stored-encoding format ${MESSAGE_ENCODING_FORMAT}`);
})();

export interface SqliteDriverConfig {
  /** Path of the database file, or ':memory:'. */
  file: string;
  /**
   * WAL pages between automatic checkpoints. Larger than SQLite's 1000 by default: a page that a
   * burst rewrites many times is copied back to the database once, and checkpoints (which run on
   * the committing thread) come less often. Commits still fsync the WAL (synchronous=FULL).
   */
  walAutocheckpointPages?: number;
  /** Run PRAGMA quick_check when opening (default true). */
  integrityCheck?: boolean;
}

/**
 * A statement prepared from the shared `$n` spelling. better-sqlite3 binds an array only to plain
 * `?` placeholders, so each `$n` becomes `?` and `order` says which parameter each `?` takes, for
 * statements that use a parameter twice or out of order; their values are rearranged into one
 * scratch array reused for every call (statements run synchronously, one at a time).
 */
interface Prepared {
  statement: Statement;
  /** Per `?`, the index of its parameter; null when that is 0, 1, 2… (bound as given). */
  order: number[] | null;
  scratch: unknown[];
}

function prepare(db: Database.Database, text: string, mode: 'objects' | 'arrays' | 'values'): Prepared {
  const order: number[] = [];
  const statement = db.prepare(
    text.replace(/\$(\d+)/g, (_, n: string) => {
      order.push(Number(n) - 1);
      return '?';
    }),
  );
  if (mode === 'arrays') statement.raw(true);
  else if (mode === 'values') statement.pluck(true);
  const inOrder = order.every((index, position) => index === position);
  return { statement, order: inOrder ? null : order, scratch: new Array<unknown>(order.length) };
}

/** The values to bind for `params`, in placeholder order. */
function bind(prepared: Prepared, params: readonly unknown[]): readonly unknown[] {
  const { order, scratch } = prepared;
  if (order === null) return params;
  for (let i = 0; i < order.length; i++) scratch[i] = params[order[i]!];
  return scratch;
}

const statements: Statements = {
  ...sharedStatements({ greatest: 'MAX', true: '1', forUpdateSkipLocked: '', forUpdateOfConversation: '' }),
  // Set statements run once per row here, each a single index probe or write.
  usersByIds: 'SELECT * FROM users WHERE id = $1',
  // BEGIN IMMEDIATE already holds the database's write lock: nothing to lock per row.
  lockConversations: 'SELECT id, last_seq, members_seq FROM conversations WHERE id = $1',
  storedMessages: `SELECT id, conversation_id, seq_id, sender_id, sender_name, content, message_type, send_time, meta, temp_message_id
                   FROM messages WHERE conversation_id = $1 AND sender_id = $2 AND temp_message_id = $3`,
  insertMessages: `INSERT INTO messages (conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time, wire, wire_format)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '${WIRE_FORMAT}')
                   ON CONFLICT (temp_message_id, sender_id, conversation_id) DO NOTHING`,
  insertMessagesWithMeta: `INSERT INTO messages (conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time, wire, wire_format, meta, reply_to_seq)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '${WIRE_FORMAT}', $10, $11)
                           ON CONFLICT (temp_message_id, sender_id, conversation_id) DO NOTHING`,
  setMessageState: `UPDATE messages SET content = $2, meta = $3, wire = $4, wire_format = '${WIRE_FORMAT}' WHERE id = $1`,
  deleteMessages: 'DELETE FROM messages WHERE id = $1',
  setLastSeqs: 'UPDATE conversations SET last_seq = $2, updated_at = $3 WHERE id = $1', // bound via `order`: once per conversation
  advanceReadPointers: 'UPDATE conversation_members SET last_read_seq = MAX(last_read_seq, $3) WHERE conversation_id = $1 AND user_id = $2', // likewise, once per sender
  insertMembers: 'INSERT INTO conversation_members (conversation_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
  expireGuests: `UPDATE users SET account_key = '', last_active_at = ${EXPIRED_GUEST_ACTIVITY} WHERE id = $1`,
  leaveConversation: 'DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
  // Each message's whole JSON, concatenated by SQLite; NULL for rows stored before migration 3 or in
  // another format than today's (before a field was added to MessageSchema): those are read from
  // their columns, so an old shape is never served.
  messageJsonInRange: `SELECT CASE WHEN wire_format = '${WIRE_FORMAT}' THEN ${MESSAGE_JSON_SQL} END
                       FROM messages WHERE conversation_id = $1 AND seq_id >= $2 AND seq_id <= $3 ORDER BY seq_id`,
};

export const SQLITE_DIALECT: SqlDialect = {
  statements,
  // Every id SQLite assigns is a safe integer in practice; a larger one (up to 2^63) still binds exactly.
  rowKey: (digits) => {
    const n = Number(digits);
    return Number.isSafeInteger(n) ? n : BigInt(digits);
  },
  flag: (value) => (value ? 1 : 0),
  isUniqueViolation: (err) => (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE',
  // In-process: a statement costs no round trip, and the general append keeps the stored wire form.
  appendInOne: null,
};

/** The readiness probe: a write that leaves nothing behind. */
function* probeWrite(): Step<void> {
  yield* sql.run("INSERT INTO revoked_tokens (jti, expires_at) VALUES ('readiness-probe', 0) ON CONFLICT (jti) DO NOTHING");
  yield* sql.run("DELETE FROM revoked_tokens WHERE jti = 'readiness-probe'");
}

/** SQLite result codes that mean "this store cannot take writes now". */
const UNWRITABLE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/;
const PROBE_INTERVAL_MS = 1_000;

export class SqliteDriver implements SqlDriver {
  private readonly db: Database.Database;
  /** Prepared once per SQL text and result mode; the texts are the dialect's constants, so these stay small. */
  private readonly objects = new Map<string, Prepared>();
  private readonly arrays = new Map<string, Prepared>();
  private readonly values = new Map<string, Prepared>();
  private readonly begin: Statement;
  private readonly commit: Statement;
  private readonly rollback: Statement;
  private readonly probeRead: Statement;
  /** The last write's failure code while writes fail (disk full…); null once one succeeds. */
  private writeError: string | null = null;
  /** Set when the start-up integrity check or a later statement found the file corrupt; sticky. */
  private integrityError: string | null = null;
  /** The start-up integrity check has not answered yet. */
  private integrityPending = false;
  private integrityWorker: Worker | null = null;
  private integrityVerdicts: MessagePort | null = null;
  private probedAt = 0;

  constructor(config: SqliteDriverConfig) {
    if (config.file !== ':memory:') fs.mkdirSync(path.dirname(config.file), { recursive: true });
    this.db = new Database(config.file);
    this.db.pragma('journal_mode = WAL');
    // FULL: every commit fsyncs the WAL, so an ack after commit survives power loss too.
    this.db.pragma('synchronous = FULL');
    this.db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.floor(config.walAutocheckpointPages ?? 4000))}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.begin = this.db.prepare('BEGIN IMMEDIATE');
    this.commit = this.db.prepare('COMMIT');
    this.rollback = this.db.prepare('ROLLBACK');
    this.probeRead = this.db.prepare('SELECT 1');
    if (config.integrityCheck !== false && config.file !== ':memory:') this.checkIntegrity(config.file);
  }

  /**
   * PRAGMA quick_check in a worker thread: cheaper than integrity_check (no index cross-checks),
   * enough to refuse readiness on a damaged file instead of answering ready while requests fail,
   * and off the main thread, because it reads the whole file (seconds per GB) and the server
   * should serve meanwhile. Not ready until it has answered "ok".
   */
  private checkIntegrity(file: string): void {
    this.integrityPending = true;
    // The verdict comes on a port of its own, which `ready()` can also read synchronously: a
    // process busy with synchronous work would otherwise see the message only at its next turn.
    const { port1: verdicts, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./integrity-worker.js', import.meta.url), { workerData: { file, verdicts: port2 }, transferList: [port2] });
    this.integrityWorker = worker;
    this.integrityVerdicts = verdicts;
    verdicts.once('message', (verdict: unknown) => this.settleIntegrity(String(verdict)));
    worker.once('error', (err: Error) => this.settleIntegrity(`the check failed: ${err.message}`));
    worker.once('exit', (code) => {
      const last = receiveMessageOnPort(verdicts);
      this.settleIntegrity(last ? String(last.message) : `the check stopped (exit ${code})`);
    });
  }

  private settleIntegrity(verdict: string): void {
    if (!this.integrityPending) return;
    this.integrityPending = false;
    this.integrityWorker = null;
    this.integrityVerdicts?.close();
    this.integrityVerdicts = null;
    if (verdict !== 'ok') this.integrityError ??= `quick_check: ${verdict.slice(0, 200)}`;
  }

  /** Applies pending migrations, each in its own transaction; `PRAGMA user_version` records the last. */
  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    SQLITE_MIGRATIONS.forEach((migration, index) => {
      const version = index + 1;
      if (version <= current) return;
      this.db.transaction(() => {
        this.db.exec(migration);
        this.db.pragma(`user_version = ${version}`);
      })();
    });
  }

  read<T>(body: () => Step<T>): Promise<T> {
    try {
      return Promise.resolve(runSync(body(), this.execute));
    } catch (err) {
      return Promise.reject(this.failure(err));
    }
  }

  write<T>(body: () => Step<T>): Promise<T> {
    try {
      return Promise.resolve(this.transaction(body));
    } catch (err) {
      return Promise.reject(this.failure(err));
    }
  }

  writeOne<T>(statement: Step<T>): Promise<T> {
    return this.write(() => statement);
  }

  /** BEGIN IMMEDIATE … COMMIT around a body run synchronously: returns only once the commit succeeded. */
  private transaction<T>(body: () => Step<T>): T {
    this.begin.run();
    try {
      const result = runSync(body(), this.execute);
      this.commit.run();
      this.writeError = null;
      return result;
    } catch (err) {
      if (this.db.inTransaction) {
        try {
          this.rollback.run();
        } catch {
          // the connection rolled back on its own (e.g. after an I/O error)
        }
      }
      throw err;
    }
  }

  private prepared(cache: Map<string, Prepared>, text: string, mode: 'objects' | 'arrays' | 'values'): Prepared {
    let prepared = cache.get(text);
    if (!prepared) {
      prepared = prepare(this.db, text, mode);
      cache.set(text, prepared);
    }
    return prepared;
  }

  /** Runs one yielded statement. Arrow-bound once: `runSync` calls it for every statement. */
  private readonly execute = (op: SqlOp): unknown => {
    switch (op.shape) {
      case 'rows': {
        const p = this.prepared(this.objects, op.sql, 'objects');
        return p.statement.all(bind(p, op.params));
      }
      case 'arrays': {
        const p = this.prepared(this.arrays, op.sql, 'arrays');
        return p.statement.all(bind(p, op.params));
      }
      case 'values': {
        const p = this.prepared(this.values, op.sql, 'values');
        return p.statement.all(bind(p, op.params));
      }
      case 'row': {
        const p = this.prepared(this.objects, op.sql, 'objects');
        return p.statement.get(bind(p, op.params));
      }
      case 'run': {
        const p = this.prepared(this.objects, op.sql, 'objects');
        return p.statement.run(bind(p, op.params)).changes;
      }
      case 'rowsEach': {
        const p = this.prepared(this.objects, op.sql, 'objects');
        const found: unknown[] = [];
        forEachRow(op.params as readonly (readonly unknown[])[], (row) => {
          const hit = p.statement.get(bind(p, row));
          if (hit !== undefined) found.push(hit);
        });
        return found;
      }
      case 'runEach': {
        const p = this.prepared(this.objects, op.sql, 'objects');
        let changes = 0;
        forEachRow(op.params as readonly (readonly unknown[])[], (row) => (changes += p.statement.run(bind(p, row)).changes));
        return changes;
      }
      case 'insertEach': {
        const p = this.prepared(this.objects, op.sql, 'objects');
        const ids: Array<number | null> = [];
        forEachRow(op.params as readonly (readonly unknown[])[], (row) => {
          const result = p.statement.run(bind(p, row));
          ids.push(result.changes === 0 ? null : Number(result.lastInsertRowid));
        });
        return ids;
      }
    }
  };

  /** Maps SQLite's "cannot write" errors to SERVICE_UNAVAILABLE and remembers them for readiness. */
  private failure(err: unknown): unknown {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !UNWRITABLE.test(code)) return err;
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) this.integrityError ??= code;
    this.writeError = code;
    return new AppError('SERVICE_UNAVAILABLE', 'Storage cannot write right now; try again later', undefined, { cause: err });
  }

  async ready(): Promise<void> {
    if (this.integrityError) throw new Error(`database failed its integrity check (${this.integrityError})`);
    if (this.integrityPending && this.integrityVerdicts) {
      const polled = receiveMessageOnPort(this.integrityVerdicts);
      if (polled) this.settleIntegrity(String(polled.message));
    }
    if (this.integrityError) throw new Error(`database failed its integrity check (${this.integrityError})`);
    if (this.integrityPending) throw new Error('database integrity check in progress');
    const now = Date.now();
    // A real write, at most once a second: readiness must notice a full disk before a client does.
    if (now - this.probedAt >= PROBE_INTERVAL_MS) {
      this.probedAt = now;
      try {
        this.transaction(probeWrite);
      } catch (err) {
        this.failure(err); // writeError now holds the reason
      }
    }
    if (this.writeError) throw new Error(`storage cannot write (${this.writeError})`);
    this.probeRead.get();
  }

  async close(): Promise<void> {
    const checking = this.integrityWorker;
    this.integrityWorker = null;
    this.integrityPending = false;
    this.integrityVerdicts?.close();
    this.integrityVerdicts = null;
    if (checking) await checking.terminate();
    if (this.db.open) this.db.close();
  }
}

/**
 * Calls `each` with every row of a set given column by column, in one array reused for every row:
 * better-sqlite3 binds an array's elements as the statement's parameters.
 */
function forEachRow(columns: readonly (readonly unknown[])[], each: (row: unknown[]) => void): void {
  const count = columns[0]?.length ?? 0;
  const row = new Array<unknown>(columns.length);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < columns.length; j++) row[j] = columns[j]![i];
    each(row);
  }
}
