/** Small statistics helpers: percentiles over raw samples, medians over runs, the tables' number format. */

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  count: number;
}

/** A growable store of float samples that does not box numbers. */
export class Samples {
  private data = new Float64Array(1024);
  private length = 0;

  add(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  get count(): number {
    return this.length;
  }

  percentiles(): Percentiles {
    const sorted = this.data.slice(0, this.length).sort();
    const at = (q: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), count: sorted.length };
  }
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** The median of each numeric leaf over several runs of the same shape (non-numbers come from the first run). */
export function medianOf<T>(runs: readonly T[]): T {
  const first = runs[0];
  if (typeof first === 'number') return median(runs as readonly number[]) as T;
  if (first === null || typeof first !== 'object' || Array.isArray(first)) return first as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(first)) out[key] = medianOf(runs.map((r) => (r as Record<string, unknown>)[key]));
  return out as T;
}

/** A figure for a table: fewer decimals the larger it is; '-' when absent (NaN crosses IPC as null). */
export function fmt(n: number | null | undefined, digits = 0): string {
  if (typeof n !== 'number' || Number.isNaN(n)) return '-';
  const abs = Math.abs(n);
  const d = abs >= 100 ? 0 : abs >= 10 ? Math.max(digits, 1) : Math.max(digits, 2);
  return n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: 0 });
}
