/**
 * The embedded storage: one SQLite file in WAL mode with synchronous=FULL, so a committed
 * transaction is on disk before `appendMessages` resolves. The store itself is the shared
 * `SqlRepo`; this binds it to the SQLite dialect and driver (`sqlite-dialect.ts`).
 */
import type { OperationObserver } from '../../ports/observer.js';
import { SqlRepo } from '../sql/sql-repo.js';
import { SQLITE_DIALECT, SqliteDriver, type SqliteDriverConfig } from './sqlite-dialect.js';

export interface SqliteRepoConfig extends SqliteDriverConfig {
  /** Told of every Repo call: name, duration, outcome. */
  observe?: OperationObserver;
}

export class SqliteRepo extends SqlRepo {
  constructor(config: SqliteRepoConfig) {
    super(new SqliteDriver(config), SQLITE_DIALECT, config.observe);
  }
}
