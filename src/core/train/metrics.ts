/**
 * Collects metric values over a logging interval (or an eval pass) and reports each as the mean of its
 * values, as TRL averages its per-batch metrics; keys named in `totals` are summed instead (token counts).
 */
export class MetricWindow {
  values: Record<string, number[]> = {};

  constructor(private readonly totals: readonly string[] = []) {}

  add(metrics: Record<string, number>): void {
    for (const [k, v] of Object.entries(metrics)) (this.values[k] ??= []).push(v);
  }

  drain(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, vs] of Object.entries(this.values)) {
      const sum = vs.reduce((a, b) => a + b, 0);
      out[k] = this.totals.includes(k) ? sum : sum / vs.length;
    }
    this.values = {};
    return out;
  }
}
