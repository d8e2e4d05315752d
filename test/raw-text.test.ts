import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseId, parseIdText, quote, readLines } from '../src/raw/text.js';

async function withFile(content: string | Buffer, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mh-text-'));
  try {
    const path = join(dir, 'f.txt');
    writeFileSync(path, content);
    await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function collect(path: string, chunk: number): Promise<{ lines: string[]; nos: number[]; progress: number[] }> {
  const lines: string[] = [];
  const nos: number[] = [];
  const progress: number[] = [];
  await readLines(path, (b, s, e, no) => {
    lines.push(b.toString('utf8', s, e));
    nos.push(no);
  }, (n) => progress.push(n), chunk);
  return { lines, nos, progress };
}

test('readLines: lines across chunk boundaries, CRLF, a line longer than the buffer, no final newline', async () => {
  const long = 'x'.repeat(50);
  await withFile(`ab\r\ncd\n${long}\n\nlast`, async (path) => {
    for (const chunk of [4, 7, 1 << 20]) {
      const r = await collect(path, chunk);
      assert.deepEqual(r.lines, ['ab', 'cd', long, '', 'last'], `chunk ${chunk}`);
      assert.deepEqual(r.nos, [1, 2, 3, 4, 5]);
      assert.equal(r.progress.at(-1), 4 + 3 + 51 + 1 + 4);
    }
  });
});

test('readLines: a final newline gives no extra empty line; an empty file gives none', async () => {
  await withFile('a\nb\n', async (path) => assert.deepEqual((await collect(path, 3)).lines, ['a', 'b']));
  await withFile('', async (path) => assert.deepEqual((await collect(path, 3)).lines, []));
});

test('readLines: a missing file is a DataError naming it', async () => {
  await assert.rejects(() => readLines('/nonexistent/x.data', () => {}), (e: Error) => e.name === 'DataError' && e.message.includes('/nonexistent/x.data') && e.message.includes('ENOENT'));
});

test('parseId accepts exactly a non-negative int32', () => {
  const b = Buffer.from('0 42 2147483647 2147483648 -1 4x 12345678901');
  const tok = b.toString().split(' ');
  let s = 0;
  const got = tok.map((t) => {
    const v = parseId(b, s, s + t.length);
    s += t.length + 1;
    return v;
  });
  assert.deepEqual(got, [0, 42, 2147483647, -1, -1, -1, -1]);
  assert.equal(parseId(b, 3, 3), -1, 'empty');
  assert.deepEqual(['7', '', '007', '1.0', '2147483648'].map(parseIdText), [7, -1, 7, -1, -1]);
});

test('quote shortens long values', () => {
  const b = Buffer.from('y'.repeat(60));
  assert.equal(quote(b, 0, 60), JSON.stringify(`${'y'.repeat(40)}...`));
  assert.equal(quote(b, 0, 2), '"yy"');
});
