/**
 * Expansion benchmark (`npm run bench -- expand [--users N] [--multi-users N] [--examples N]`):
 * pool-scoring rows/s for 1 and for 10 campaigns in one pass, adaptation seconds per
 * campaign (on its thread) and the wall time of all of them (campaigns adapt in parallel),
 * and peak RSS (also at a tenth of the pool, to show it does not grow with the pool), on a Tencent-schema pool generated on the fly (bench/expand-child.ts). Each run is
 * a fresh process; the CPU other processes used meanwhile is reported as the machine's load.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { foreignCores } from './cpu-load.js';

interface ChildResult {
  users: number;
  campaigns: number;
  examples: number;
  adaptationSteps: number;
  adaptSecondsPerCampaign: number;
  adaptWallSeconds: number;
  scoreSeconds: number;
  totalSeconds: number;
  maxRssBytes: number;
  cpuSeconds: number;
}

export async function bench(flags: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const users = Number(flags.users ?? 10_000_000);
  const multiUsers = Number(flags['multi-users'] ?? users);
  const examples = Number(flags.examples ?? 20_000);
  const threads = Number(flags.threads ?? process.env.BENCH_THREADS ?? availableParallelism());
  const child = fileURLToPath(new URL('./expand-child.js', import.meta.url));
  const run = (n: number, campaigns: number) => {
    process.stderr.write(`  expand: ${n} users, ${campaigns} campaign(s) ...\n`);
    const t0 = performance.now();
    const { value: r, foreign } = foreignCores(() => JSON.parse(execFileSync(process.execPath, [child, String(n), String(campaigns), String(examples), String(threads)], { encoding: 'utf8', maxBuffer: 1 << 20 })) as ChildResult);
    // the child's own CPU is not load
    const load = Math.max(0, foreign - r.cpuSeconds / ((performance.now() - t0) / 1000));
    return {
      users: r.users,
      campaigns: r.campaigns,
      scoreSeconds: round(r.scoreSeconds, 1),
      rowsPerSecond: Math.round(r.users / r.scoreSeconds),
      campaignRowsPerSecond: Math.round((r.users * r.campaigns) / r.scoreSeconds),
      adaptSecondsPerCampaign: round(r.adaptSecondsPerCampaign, 2),
      adaptWallSeconds: round(r.adaptWallSeconds, 2),
      adaptationSteps: r.adaptationSteps,
      peakRssMiB: round(r.maxRssBytes / 2 ** 20, 0),
      otherCpuCores: round(load, 2),
    };
  };
  const small = run(Math.max(1024, Math.round(users / 10)), 1);
  const one = run(users, 1);
  const ten = run(multiUsers, 10);
  return { schema: 'tencent', threads, examplesPerCampaign: examples, oneCampaignSmallPool: small, oneCampaign: one, tenCampaigns: ten, tenOverOneTimePerRow: round(ten.scoreSeconds / ten.users / (one.scoreSeconds / one.users), 2) };
}

function round(x: number, d: number): number {
  return Math.round(x * 10 ** d) / 10 ** d;
}
