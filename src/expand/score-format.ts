/**
 * Scores are float32 (the model's output); written as the shortest decimal that reads back
 * to the same float32, so a CSV round-trips exactly and shards merge to the same bytes.
 */
export function formatScore(x: number): string {
  const f = Math.fround(x);
  if (!Number.isFinite(f)) return String(f);
  for (let d = 1; d <= 9; d++) {
    const s = f.toPrecision(d);
    if (Math.fround(Number(s)) === f) return String(Number(s));
  }
  return String(f);
}

/** A score read back from text, as its float32 value. */
export function parseScore(s: string): number {
  return Math.fround(Number(s));
}
