/** Plain-text tables and numbers for command output. */

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

export function fmtFixed(x: number, digits = 4): string {
  return Number.isNaN(x) ? 'n/a' : x.toFixed(digits);
}

export function fmtPct(x: number, digits = 2): string {
  return Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(digits)}%`;
}

/** Left-aligned first column, right-aligned others. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd()).join('\n');
}
