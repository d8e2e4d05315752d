/**
 * Throughput of `prepare` on generated raw files (REAL_SHAPE scaled): lines/s and MB/s of
 * the userFeature.data stream and of train.csv, and the whole run. The real files are about
 * 1000x the default scale; the stream's rate is what sets the real run's time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setProgressQuiet } from '../src/cli/progress.js';
import { generateRaw, shapeAtScale } from '../src/raw/generate.js';
import { prepareRaw } from '../src/raw/prepare.js';

export async function bench(scale = 0.005): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'mh-bench-prepare-'));
  setProgressQuiet(true);
  try {
    const shape = shapeAtScale(scale);
    const raw = join(dir, 'raw');
    generateRaw(raw, shape, 1);
    const s = await prepareRaw({ rawDir: raw, outDir: join(dir, 'out') });
    const rate = (f: { bytes: number; lines: number; seconds: number }) => ({
      lines: f.lines,
      mb: +(f.bytes / 1e6).toFixed(1),
      seconds: +f.seconds.toFixed(3),
      linesPerSec: Math.round(f.lines / f.seconds),
      mbPerSec: +(f.bytes / 1e6 / f.seconds).toFixed(1),
    });
    const rows = s.rows.stage1 + s.rows.stage2;
    return {
      scale,
      users: shape.users,
      rows,
      userFeature: rate(s.files.users),
      trainCsv: rate(s.files.stage1),
      totalSeconds: +s.seconds.toFixed(3),
      rowsPerSec: Math.round(rows / s.seconds),
    };
  } finally {
    setProgressQuiet(false);
    rmSync(dir, { recursive: true, force: true });
  }
}
