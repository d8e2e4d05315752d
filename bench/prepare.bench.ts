/**
 * Throughput of `prepare` on generated raw files (REAL_SHAPE scaled): lines/s and MB/s of
 * the userFeature.data stream and of train.csv, and the whole run; medians over `--runs`
 * runs on the same files (`--scale`, default 0.005). The real files are about 1000x the
 * default scale; the stream's rate is what sets the real run's time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setProgressQuiet } from '../src/cli/progress.js';
import { generateRaw, shapeAtScale } from '../src/raw/generate.js';
import { prepareRaw, type FileThroughput, type PrepareSummary } from '../src/raw/prepare.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function bench(flags: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const scale = Number(flags.scale ?? 0.005);
  const runs = Math.max(1, Math.round(Number(flags.runs ?? 3)));
  const dir = mkdtempSync(join(tmpdir(), 'mh-bench-prepare-'));
  setProgressQuiet(true);
  try {
    const shape = shapeAtScale(scale);
    const raw = join(dir, 'raw');
    generateRaw(raw, shape, 1);
    const done: PrepareSummary[] = [];
    for (let r = 0; r < runs; r++) done.push(await prepareRaw({ rawDir: raw, outDir: join(dir, 'out') }));
    const rate = (f: (s: PrepareSummary) => FileThroughput) => {
      const { bytes, lines } = f(done[0]!);
      const seconds = median(done.map((s) => f(s).seconds));
      return {
        lines,
        mb: +(bytes / 1e6).toFixed(1),
        seconds: +seconds.toFixed(3),
        linesPerSec: Math.round(lines / seconds),
        mbPerSec: +(bytes / 1e6 / seconds).toFixed(1),
      };
    };
    const rows = done[0]!.rows.stage1 + done[0]!.rows.stage2;
    const total = median(done.map((s) => s.seconds));
    return {
      scale,
      runs,
      users: shape.users,
      rows,
      userFeature: rate((s) => s.files.users),
      trainCsv: rate((s) => s.files.stage1),
      userTableSeconds: +median(done.map((s) => s.userTable.seconds)).toFixed(3),
      totalSeconds: +total.toFixed(3),
      rowsPerSec: Math.round(rows / total),
    };
  } finally {
    setProgressQuiet(false);
    rmSync(dir, { recursive: true, force: true });
  }
}
