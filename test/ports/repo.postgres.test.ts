/** The storage interface suite against PostgreSQL, in a database of its own that is dropped afterwards. */
import { PostgresRepo } from '../../src/repo/postgres/postgres-repo.js';
import { repoSuite } from './repo.suite.js';
import { createTestDatabase, skipUnless } from './services.js';

repoSuite('PostgreSQL', async () => {
  const skip = await skipUnless('postgres');
  if (skip) return skip;
  const db = await createTestDatabase();
  const open = async () => {
    const repo = new PostgresRepo({ url: db.url, poolSize: 4 });
    await repo.migrate();
    return repo;
  };
  return { open, openAgain: open, cleanup: async () => await db[Symbol.asyncDispose]() };
});
