import { CHART_GROUPS, type ChartRow, type ChartSpec, type LineSpec } from '../metrics';
import { MetricChart } from './MetricChart';

export interface DrawnChart {
  spec: ChartSpec;
  rows: ChartRow[];
  lines: LineSpec[];
}

/** The metric charts in their sections (rewards, tokens, optimizer, speed and memory), each under its heading. */
export function ChartGroups({
  charts,
  theme,
  legend,
}: {
  charts: DrawnChart[];
  theme: 'light' | 'dark';
  /** Whether a chart draws its own legend (default: when it has several lines). */
  legend?: (spec: ChartSpec, lines: LineSpec[]) => boolean;
}) {
  return (
    <>
      {CHART_GROUPS.map((group) => {
        const inGroup = charts.filter((c) => c.spec.group === group);
        if (inGroup.length === 0) return null;
        const id = `charts-${group.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
        return (
          <section key={group} className="chart-group" aria-labelledby={id}>
            <h3 id={id} className="chart-group-title">
              {group}
            </h3>
            <div className="charts">
              {inGroup.map(({ spec, rows, lines }) => (
                <MetricChart
                  key={spec.title}
                  title={spec.title}
                  rows={rows}
                  lines={lines}
                  domain={spec.domain}
                  theme={theme}
                  legend={legend?.(spec, lines)}
                  level={4}
                />
              ))}
            </div>
          </section>
        );
      })}
    </>
  );
}
