/**
 * How long-running work reports itself. The work takes a Reporter from its caller, so a
 * library user, the CLI (bars on a terminal) and the service (per-job progress) each decide
 * what a log line or a progress update becomes; the default says nothing.
 */
export interface Progress {
  /** Set the absolute position; `payload` fills the {tokens} of the format. */
  update(value: number, payload?: Record<string, string | number>): void;
  increment(delta?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress display for `total` units. `extra` is a format suffix with {tokens} filled from
 * payloads, e.g. ' | loss {loss}'.
 */
export type ProgressFactory = (label: string, total: number, extra?: string) => Progress;

export interface Reporter {
  log: (line: string) => void;
  progress: ProgressFactory;
}

const NO_PROGRESS: Progress = { update: () => {}, increment: () => {}, stop: () => {} };

export const noProgress: ProgressFactory = () => NO_PROGRESS;

export const silent: Reporter = { log: () => {}, progress: noProgress };
