/**
 * SIGINT / SIGTERM: remove the temporary files and folders in use (util/atomic registers
 * them) and exit with 128 + the signal number. Completed outputs are never temporary, so
 * they stay: a training run keeps the epochs it finished. The handler runs when the event
 * loop turns, so long computations yield regularly (yieldToSignals).
 */
import { removeTemps } from './atomic.js';

const EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function installInterruptHandler(note: (line: string) => void): void {
  for (const sig of Object.keys(EXIT) as NodeJS.Signals[]) {
    process.once(sig, () => {
      removeTemps();
      note(`interrupted (${sig}): temporary files removed; completed outputs kept`);
      process.exit(EXIT[sig]);
    });
  }
}

let last = 0;

/**
 * Let a pending signal be handled, at most every `ms` milliseconds of computation (a
 * setImmediate turn costs microseconds).
 */
export async function yieldToSignals(ms = 50): Promise<void> {
  const now = performance.now();
  if (now - last < ms) return;
  last = now;
  await new Promise<void>((resolve) => setImmediate(resolve));
}
