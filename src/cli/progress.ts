/**
 * Progress bars on stderr (stdout stays clean for results and --json). On a terminal they
 * redraw in place; elsewhere (CI logs, pipes) they stay silent, since a redrawn bar in a log
 * is noise, and commands print their own periodic log lines instead.
 */
import cliProgress from 'cli-progress';
import { noProgress, type Progress, type ProgressFactory } from '../util/progress.js';

let quiet = false;

/** Turn all bars off (`--quiet`, `--json`). */
export function setProgressQuiet(q: boolean): void {
  quiet = q;
}

/** A bar on stderr, drawn only on a terminal and when not quiet. */
export const progressBar: ProgressFactory = (label, total, extra = ''): Progress => {
  if (quiet || !process.stderr.isTTY) return noProgress(label, total);
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {value}/{total} | {duration_formatted} < {eta_formatted}${extra}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  // the first frame is drawn before any update: without a payload it would show "{loss}"
  const blank = Object.fromEntries([...extra.matchAll(/\{(\w+)\}/g)].map((m) => [m[1]!, '-']));
  bar.start(total, 0, blank);
  return {
    update: (v, p) => bar.update(v, p),
    increment: (d = 1, p) => bar.increment(d, p),
    stop: () => bar.stop(),
  };
};
