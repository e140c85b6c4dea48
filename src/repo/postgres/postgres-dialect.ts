/**
 * Everything PostgreSQL-specific about the store: the `pg` pool, transactions with retries, the
 * migrations runner (advisory-locked, so several processes may start at once), the SQL in
 * PostgreSQL's spelling — set statements as one unnest over array parameters, so a batch costs a
 * constant number of round trips — and mapping "cannot serve" failures to SERVICE_UNAVAILABLE.
 * Every query is parameterized.
 */
import pg from 'pg';
import { AppError } from '../../protocol/index.js';
import { EXPIRED_GUEST_ACTIVITY } from '../shared.js';
import { runAsync, sql, type SqlDriver, type SqlOp, type Step } from '../sql/driver.js';
import { sharedStatements, type SqlDialect } from '../sql/statements.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

export interface PostgresDriverConfig {
  /** postgres://user@host:port/db */
  url: string;
  poolSize: number;
}

export const POSTGRES_DIALECT: SqlDialect = {
  statements: {
    ...sharedStatements({ greatest: 'GREATEST', true: 'TRUE', forUpdateSkipLocked: ' FOR UPDATE SKIP LOCKED', forUpdateOfConversation: ' FOR UPDATE OF c' }),
    usersByIds: 'SELECT * FROM users WHERE id = ANY($1::bigint[])',
    // Locked in id order and held to COMMIT: other writers of these conversations wait, and two
    // batches never deadlock. FOR UPDATE re-reads a row another writer changed while we waited.
    lockConversations: 'SELECT id, last_seq, members_seq FROM conversations WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE',
    storedMessages: `SELECT m.id, m.conversation_id, m.seq_id, m.sender_id, m.sender_name, m.content, m.message_type, m.send_time, m.meta, m.temp_message_id
                     FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k (conversation_id, sender_id, temp_message_id)
                     JOIN messages m ON m.temp_message_id = k.temp_message_id AND m.sender_id = k.sender_id AND m.conversation_id = k.conversation_id`,
    // The ids come back in row order, null for a skipped row: the input's ordinality joined to what
    // was inserted on (conversation, seq), which is unique.
    insertMessages: `WITH inserted AS (
                       INSERT INTO messages (conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time)
                       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
                       ON CONFLICT (temp_message_id, sender_id, conversation_id) DO NOTHING
                       RETURNING id, conversation_id, seq_id)
                     SELECT inserted.id FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS k (conversation_id, seq_id, n)
                     LEFT JOIN inserted ON inserted.conversation_id = k.conversation_id AND inserted.seq_id = k.seq_id
                     ORDER BY k.n`,
    insertMessagesWithMeta: `WITH inserted AS (
                       INSERT INTO messages (conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time, meta, reply_to_seq)
                       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bigint[])
                       ON CONFLICT (temp_message_id, sender_id, conversation_id) DO NOTHING
                       RETURNING id, conversation_id, seq_id)
                     SELECT inserted.id FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS k (conversation_id, seq_id, n)
                     LEFT JOIN inserted ON inserted.conversation_id = k.conversation_id AND inserted.seq_id = k.seq_id
                     ORDER BY k.n`,
    deleteMessages: 'DELETE FROM messages WHERE id = ANY($1::bigint[])',
    setLastSeqs: `UPDATE conversations c SET last_seq = v.last_seq, updated_at = v.updated_at
                  FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v (id, last_seq, updated_at) WHERE c.id = v.id`,
    advanceReadPointers: `UPDATE conversation_members m SET last_read_seq = GREATEST(m.last_read_seq, v.seq)
                          FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v (conversation_id, user_id, seq)
                          WHERE m.conversation_id = v.conversation_id AND m.user_id = v.user_id`,
    insertMembers: `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
                    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING`,
    expireGuests: `UPDATE users SET account_key = '', last_active_at = ${EXPIRED_GUEST_ACTIVITY} WHERE id = ANY($1::bigint[])`,
    leaveConversation: `DELETE FROM conversation_members m USING unnest($1::bigint[], $2::bigint[]) AS v (conversation_id, user_id)
                        WHERE m.conversation_id = v.conversation_id AND m.user_id = v.user_id`,
    // No stored wire form here (no such column in this schema): pages are serialized from their rows.
    messageJsonInRange: null,
    setMessageState: 'UPDATE messages SET content = $2, meta = $3 WHERE id = $1',
  },
  rowKey: (digits) => digits,
  flag: (value) => value,
  isUniqueViolation: (err) => (err as { code?: unknown }).code === '23505',
  // One round trip per commit instead of six (BEGIN, lock, insert, last_seq, read pointers,
  // COMMIT): on this machine each cost the logic process about 50 µs of CPU (docs/performance.md).
  // The statement is its own transaction. Data-modifying CTEs all see one snapshot, but the lock
  // returns each conversation row's newest version (a writer that held it has committed), so the
  // numbering continues from the committed last_seq; the UPDATE of that row re-reads it the same way.
  appendInOne: {
    sql: `WITH batch AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[])
                     WITH ORDINALITY AS b (conversation_id, sender_id, sender_name, temp_message_id, content, message_type, send_time, members_seq, meta, reply_to_seq, n)),
          locked AS (
            SELECT id, last_seq, members_seq FROM conversations WHERE id IN (SELECT conversation_id FROM batch) ORDER BY id FOR UPDATE),
          -- A send whose member set changed since it was checked is not planned: the batch is then
          -- incomplete, and the general algorithm answers it as stale.
          planned AS (
            SELECT b.*, l.last_seq + row_number() OVER (PARTITION BY b.conversation_id ORDER BY b.n) AS seq_id
            FROM batch b JOIN locked l ON l.id = b.conversation_id AND l.members_seq = b.members_seq),
          inserted AS (
            INSERT INTO messages (conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time, meta, reply_to_seq)
            SELECT conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time, meta, reply_to_seq FROM planned
            ON CONFLICT (temp_message_id, sender_id, conversation_id) DO NOTHING
            RETURNING id, conversation_id, seq_id),
          bumped AS (
            UPDATE conversations c SET last_seq = p.last_seq, updated_at = p.updated_at
            FROM (SELECT conversation_id, max(seq_id) AS last_seq, (array_agg(send_time ORDER BY n DESC))[1] AS updated_at
                  FROM planned GROUP BY conversation_id) p
            -- The check runs for every conversation the batch touches, so no change survives a skipped row.
            WHERE c.id = p.conversation_id AND gochat_append_complete((SELECT count(*) FROM inserted), $11::bigint)),
          advanced AS (
            UPDATE conversation_members m SET last_read_seq = GREATEST(m.last_read_seq, p.seq)
            FROM (SELECT conversation_id, sender_id, max(seq_id) AS seq FROM planned GROUP BY conversation_id, sender_id) p
            WHERE m.conversation_id = p.conversation_id AND m.user_id = p.sender_id)
          SELECT p.seq_id, i.id FROM planned p JOIN inserted i ON i.conversation_id = p.conversation_id AND i.seq_id = p.seq_id
          ORDER BY p.n`,
    isIncomplete: (err) => (err as { code?: unknown }).code === 'GC001',
  },
};

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Serialization failures and deadlocks are safe to retry: the transaction was rolled back. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

/** SQLSTATE classes 53 (insufficient resources: disk full…), 57P (shutdown), 08 (connection) and socket errors. */
const UNAVAILABLE = /^(53|57P|08)|^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH)$/;

export class PostgresDriver implements SqlDriver {
  private readonly pool: pg.Pool;
  /** The last failure's code while statements fail for want of resources; null once one succeeds. */
  private writeError: string | null = null;
  private migrated: Promise<void> | null = null;
  /** Statements sent to the server so far, BEGIN and COMMIT included: one round trip each. */
  roundTrips = 0;

  constructor(config: PostgresDriverConfig) {
    this.pool = new pg.Pool({ connectionString: config.url, max: config.poolSize });
    // An idle client losing its connection (e.g. a database restart) must not crash the process.
    this.pool.on('error', () => {});
  }

  /** Applies pending migrations. Safe to call from several processes at once (advisory lock). */
  migrate(): Promise<void> {
    this.migrated ??= this.write(function* (): Step<void> {
      yield* sql.run('SELECT pg_advisory_xact_lock(7234001)');
      yield* sql.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const [current] = yield* sql.values<number | null>('SELECT MAX(version) FROM schema_migrations');
      for (const [index, migration] of POSTGRES_MIGRATIONS.entries()) {
        const version = index + 1;
        if (version <= (current ?? 0)) continue;
        yield* sql.run(migration);
        yield* sql.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
      }
    });
    return this.migrated;
  }

  private async execute(db: Queryable, op: SqlOp): Promise<unknown> {
    this.roundTrips++;
    const values = op.params as unknown[];
    const name = PREPARED.get(op.sql);
    if (name !== undefined) return (await db.query<unknown[]>({ name, text: op.sql, values, rowMode: 'array' })).rows;
    switch (op.shape) {
      case 'rows':
      case 'rowsEach':
        return (await db.query(op.sql, values)).rows;
      case 'row':
        return (await db.query(op.sql, values)).rows[0];
      case 'run':
      case 'runEach':
        return (await db.query(op.sql, values)).rowCount ?? 0;
      case 'arrays':
        return (await db.query({ text: op.sql, values, rowMode: 'array' })).rows;
      case 'values':
      case 'insertEach':
        return (await db.query<unknown[]>({ text: op.sql, values, rowMode: 'array' })).rows.map((row) => row[0]);
    }
  }

  async read<T>(body: () => Step<T>): Promise<T> {
    try {
      return await runAsync(body(), (op) => this.execute(this.pool, op));
    } catch (err) {
      throw this.failure(err);
    }
  }

  async writeOne<T>(statement: Step<T>): Promise<T> {
    try {
      const result = await runAsync(statement, (op) => this.execute(this.pool, op));
      this.writeError = null;
      return result;
    } catch (err) {
      throw this.failure(err);
    }
  }

  async write<T>(body: () => Step<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect().catch((err: unknown) => {
        throw this.failure(err);
      });
      let broken = false;
      try {
        await this.execute(client, BEGIN);
        const result = await runAsync(body(), (op) => this.execute(client, op));
        await this.execute(client, COMMIT);
        this.writeError = null;
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        const sqlState = (err as { code?: string }).code;
        if (attempt < 3 && sqlState !== undefined && RETRYABLE_SQLSTATES.has(sqlState)) continue;
        throw this.failure(err);
      } finally {
        client.release(broken);
      }
    }
  }

  /**
   * PostgreSQL's "cannot serve now" failures (disk full and other resource limits, a server
   * shutting down or unreachable) become SERVICE_UNAVAILABLE, which clients may retry; readiness
   * reports them until a statement succeeds.
   */
  private failure(err: unknown): unknown {
    if (err instanceof AppError) return err;
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !UNAVAILABLE.test(code)) return err;
    this.writeError = code;
    return new AppError('SERVICE_UNAVAILABLE', 'Storage cannot serve right now; try again later', undefined, { cause: err });
  }

  async ready(): Promise<void> {
    await this.read(() => sql.run('SELECT 1'));
    // SELECT 1 answering says nothing about a full disk: unready until a transaction commits.
    if (this.writeError && /^53/.test(this.writeError)) throw new Error(`storage cannot write (${this.writeError})`);
    this.writeError = null;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Statements each connection prepares once (parsed and planned on first use, then only bound):
 * the append, which runs once per commit and whose plan is the costliest to make. Their answers
 * are rows of arrays. A prepared statement's plan is remade by PostgreSQL when the schema changes.
 */
const PREPARED = new Map<string, string>([[POSTGRES_DIALECT.appendInOne!.sql, 'gochat_append_in_one']]);

const BEGIN: SqlOp = { shape: 'run', sql: 'BEGIN', params: [] };
const COMMIT: SqlOp = { shape: 'run', sql: 'COMMIT', params: [] };
