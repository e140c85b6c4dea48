/**
 * The seam between the one SQL store (`sql-repo.ts`) and a database: a driver runs units of
 * work written once as generators that yield statements.
 *
 * Why generators: better-sqlite3 is synchronous and one connection is shared by every request of
 * the process. An `async` transaction body would let other requests' code run between its awaits,
 * inside the open transaction (reading its uncommitted rows, or issuing statements into it), and a
 * second handle on the same file would block in its busy handler while the first cannot reach its
 * COMMIT. A body that *yields* its statements instead can be driven synchronously: the SQLite
 * driver executes each statement as it is yielded and resumes the body at once, so a transaction
 * runs from BEGIN to COMMIT without ever returning to the event loop, as it did before. The
 * PostgreSQL driver awaits each statement on its connection instead. Bodies see no connection or
 * transaction handle at all: there is nothing they could leak to other code.
 */

/**
 * How a statement is run and what it resolves to.
 * - rows/arrays/values/row/run: once, with scalar parameters.
 * - rowsEach/runEach/insertEach: over a set of rows whose values are given column by column (one
 *   array per parameter, all of one length). PostgreSQL runs the statement once with each column
 *   bound as one array parameter (the SQL unnests them): a constant number of round trips whatever
 *   the row count. SQLite runs its per-row form once per row, through one cached statement.
 */
export type Shape = 'rows' | 'arrays' | 'values' | 'row' | 'run' | 'rowsEach' | 'runEach' | 'insertEach';

export interface SqlOp {
  readonly shape: Shape;
  readonly sql: string;
  /** Scalars, or for the `…Each` shapes one array per column. */
  readonly params: readonly unknown[];
}

/** A unit of work: yields statements, receives their results, returns its value. */
export type Step<T> = Generator<SqlOp, T, unknown>;

/**
 * The statements a body yields, typed by what they resolve to. Use with `yield*`:
 * `const user = yield* sql.row<UserRow>(s.userByKey, [key])`.
 */
export const sql = {
  /** Every row, as an object keyed by column name. */
  *rows<R>(text: string, params: readonly unknown[] = []): Step<R[]> {
    return (yield { shape: 'rows', sql: text, params }) as R[];
  },
  /** Every row, as an array of its values in column order (no object per row). */
  *arrays<R extends readonly unknown[]>(text: string, params: readonly unknown[] = []): Step<R[]> {
    return (yield { shape: 'arrays', sql: text, params }) as R[];
  },
  /** The first column of every row. */
  *values<V>(text: string, params: readonly unknown[] = []): Step<V[]> {
    return (yield { shape: 'values', sql: text, params }) as V[];
  },
  /** The first row, or undefined. */
  *row<R>(text: string, params: readonly unknown[] = []): Step<R | undefined> {
    return (yield { shape: 'row', sql: text, params }) as R | undefined;
  },
  /** How many rows the statement changed. */
  *run(text: string, params: readonly unknown[] = []): Step<number> {
    return (yield { shape: 'run', sql: text, params }) as number;
  },
  /** Every row the statement finds for any of the rows given as `columns`, in no particular order. */
  *rowsEach<R>(text: string, columns: readonly (readonly unknown[])[]): Step<R[]> {
    return (yield { shape: 'rowsEach', sql: text, params: columns }) as R[];
  },
  /** How many rows the statement changed over all the rows given as `columns`. */
  *runEach(text: string, columns: readonly (readonly unknown[])[]): Step<number> {
    return (yield { shape: 'runEach', sql: text, params: columns }) as number;
  },
  /** Inserts the rows given as `columns`; resolves to their new ids in row order, null for a row the statement skipped (ON CONFLICT DO NOTHING). */
  *insertEach(text: string, columns: readonly (readonly unknown[])[]): Step<Array<number | string | null>> {
    return (yield { shape: 'insertEach', sql: text, params: columns }) as Array<number | string | null>;
  },
};

export interface SqlDriver {
  /** Statements outside a transaction (SQLite: back to back, synchronously; PostgreSQL: on the pool, in turn). */
  read<T>(body: () => Step<T>): Promise<T>;
  /**
   * One transaction: resolves once COMMIT succeeded. SQLite takes the write lock first
   * (BEGIN IMMEDIATE); PostgreSQL retries a body that hit a serialization failure or deadlock.
   */
  write<T>(body: () => Step<T>): Promise<T>;
  /**
   * A write of one statement, which is its own transaction: PostgreSQL sends it alone (no BEGIN and
   * COMMIT round trips); SQLite still wraps it in BEGIN IMMEDIATE … COMMIT, because in autocommit a
   * RETURNING row comes back before the commit, and a failed commit (disk full) would go unnoticed.
   */
  writeOne<T>(statement: Step<T>): Promise<T>;
  /** Throws while the store cannot serve: unreachable, cannot write, or failed its integrity check. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs a body to completion, handing each yielded statement to `execute` synchronously. A failed
 * statement is thrown into the body at its `yield`, so a body's try/catch and finally work as in
 * ordinary code; uncaught, it leaves the body and the transaction rolls back.
 */
export function runSync<T>(body: Step<T>, execute: (op: SqlOp) => unknown): T {
  let next = body.next();
  while (!next.done) {
    let result: unknown;
    try {
      result = execute(next.value);
    } catch (err) {
      next = body.throw(err);
      continue;
    }
    next = body.next(result);
  }
  return next.value;
}

/** Runs a body to completion, awaiting each yielded statement; failures are thrown into it as in `runSync`. */
export async function runAsync<T>(body: Step<T>, execute: (op: SqlOp) => Promise<unknown>): Promise<T> {
  let next = body.next();
  while (!next.done) {
    let result: unknown;
    try {
      result = await execute(next.value);
    } catch (err) {
      next = body.throw(err);
      continue;
    }
    next = body.next(result);
  }
  return next.value;
}
