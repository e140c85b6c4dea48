/**
 * The start-up integrity check of the SQLite file, off the main thread: `PRAGMA quick_check`
 * reads every page (12 s at 4.3 GB here, docs/performance.md "Cost as data grows"), and the
 * server should serve meanwhile instead of not listening. Its own read-only connection; the
 * verdict ("ok", or what was found) is posted back once.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, verdicts } = workerData as { file: string; verdicts: MessagePort };
let verdict: string;
try {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    verdict = String(db.pragma('quick_check(1)', { simple: true }));
  } finally {
    db.close();
  }
} catch (err) {
  verdict = `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
}
verdicts.postMessage(verdict);
verdicts.close();
