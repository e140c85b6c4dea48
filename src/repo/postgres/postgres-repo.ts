/**
 * The distributed storage: PostgreSQL through a `pg` pool. The store itself is the shared
 * `SqlRepo`; this binds it to the PostgreSQL dialect and driver (`postgres-dialect.ts`).
 * Several logic processes may write the same conversation at once: a batch locks its
 * conversations' rows in id order and allocates seqIds under that lock, so the sequence stays
 * 1, 2, 3… with no gaps and a batch costs the same few round trips whatever its size.
 */
import type { OperationObserver } from '../../ports/observer.js';
import { SqlRepo } from '../sql/sql-repo.js';
import { POSTGRES_DIALECT, PostgresDriver, type PostgresDriverConfig } from './postgres-dialect.js';

export interface PostgresRepoConfig extends PostgresDriverConfig {
  /** Told of every Repo call: name, duration, outcome. */
  observe?: OperationObserver;
}

export class PostgresRepo extends SqlRepo {
  private readonly driverOfPostgres: PostgresDriver;

  constructor(config: PostgresRepoConfig) {
    const driver = new PostgresDriver(config);
    super(driver, POSTGRES_DIALECT, config.observe);
    this.driverOfPostgres = driver;
  }

  /** Statements sent to the database so far (BEGIN and COMMIT included): one round trip each. */
  get roundTrips(): number {
    return this.driverOfPostgres.roundTrips;
  }

  /** Applies pending migrations. Safe to call from several processes at once (advisory lock). */
  migrate(): Promise<void> {
    return this.driverOfPostgres.migrate();
  }
}
