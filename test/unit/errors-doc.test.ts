import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOSE_CODES, ERROR_CODES, FRAME_TOO_BIG_CLOSE_CODE } from '../../src/protocol/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const doc = fs.readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
const contractFile = path.join(root, '../shared/spec/contract.md');
const contract = fs.existsSync(contractFile) ? fs.readFileSync(contractFile, 'utf8') : '';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(file) : file.endsWith('.ts') ? [file] : [];
  });
}

function documentedRows(): Map<string, { http: number; grpc: number; retryable: boolean }> {
  const rows = new Map<string, { http: number; grpc: number; retryable: boolean }>();
  for (const match of doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (\d+) \| (yes|no) \|/gm)) {
    rows.set(match[1]!, { http: Number(match[2]), grpc: Number(match[3]), retryable: match[4] === 'yes' });
  }
  return rows;
}

describe('the error catalog', () => {
  it('docs/errors.md lists exactly the codes of ERROR_CODES, with the same statuses', () => {
    const rows = documentedRows();
    assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CODES).sort());
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      assert.deepEqual(rows.get(code), { http: entry.http, grpc: entry.grpc, retryable: entry.retryable }, code);
    }
  });

  it('covers every code of the contract, with the contract’s HTTP status', { skip: !contract && 'shared spec not present' }, () => {
    for (const match of contract.matchAll(/^\| `([A-Z_]+)`(?:, `([A-Z_]+)`)*(?:, `([A-Z_]+)`)? \| (\d+) \|/gm)) {
      const codes = match[0].match(/`[A-Z_]+`/g)!.map((c) => c.slice(1, -1));
      for (const code of codes) {
        assert.ok(code in ERROR_CODES, `${code} is in ERROR_CODES`);
        assert.equal(ERROR_CODES[code as keyof typeof ERROR_CODES].http, Number(match[4]), code);
      }
    }
  });

  it('documents exactly the WebSocket close codes the server sends', () => {
    const documented = [...doc.matchAll(/^\| (\d{4}) \|/gm)].map((m) => Number(m[1])).sort();
    assert.deepEqual(documented, [...Object.values(CLOSE_CODES), FRAME_TOO_BIG_CLOSE_CODE].sort());
  });

  it('every close code is sent somewhere, and every error code is raised somewhere', () => {
    const sources = sourceFiles(path.join(root, 'src'))
      .filter((file) => !file.includes(`${path.sep}protocol${path.sep}`))
      .map((file) => fs.readFileSync(file, 'utf8'))
      .join('\n');
    for (const name of Object.keys(CLOSE_CODES)) assert.ok(sources.includes(`CLOSE_CODES.${name}`), `CLOSE_CODES.${name} is used`);
    for (const code of Object.keys(ERROR_CODES)) assert.ok(sources.includes(`'${code}'`), `${code} is raised`);
  });
});
