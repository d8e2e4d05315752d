/**
 * Progress bars on stderr (stdout stays clean for results and --json). On a terminal they
 * redraw in place; elsewhere (CI logs, pipes) they stay silent, since a redrawn bar in a log
 * is noise, and commands print their own periodic log lines instead.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Set the absolute position; `payload` fills the {tokens} of the format. */
  update(value: number, payload?: Record<string, string | number>): void;
  increment(delta?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

let quiet = false;

/** Turn all bars off (`--quiet`, `--json`). */
export function setProgressQuiet(q: boolean): void {
  quiet = q;
}

/**
 * A bar for `total` units. `extra` is a format suffix with {tokens} filled from payloads,
 * e.g. ' | loss {loss}'.
 */
export function progressBar(label: string, total: number, extra = ''): Progress {
  if (quiet || !process.stderr.isTTY) {
    return { update: () => {}, increment: () => {}, stop: () => {} };
  }
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
  bar.start(total, 0);
  return {
    update: (v, p) => bar.update(v, p),
    increment: (d = 1, p) => bar.increment(d, p),
    stop: () => bar.stop(),
  };
}
