import { memo, useEffect, useRef, useState, type RefObject } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatExact, formatMetric } from '../format';
import type { ChartRow, LineSpec } from '../metrics';

interface Props {
  title: string;
  rows: ChartRow[];
  lines: LineSpec[];
  domain?: [number, number];
  theme: 'light' | 'dark';
  /** Draw a legend under the chart (default: when it has several lines). */
  legend?: boolean;
  /** The title's heading level: 4 inside a titled group of charts. */
  level?: 3 | 4;
}

export const AXIS = { light: '#6b7280', dark: '#9aa4b2' };
export const GRID = { light: '#e5e7eb', dark: '#2a313b' };

/** The value axis every metric chart shares: compact numbers, the theme's colours. */
export function valueAxis(theme: 'light' | 'dark', domain?: [number, number]) {
  return (
    <YAxis
      domain={domain ?? ['auto', 'auto']}
      tickFormatter={(v: number) => formatMetric(v)}
      tick={{ fill: AXIS[theme], fontSize: 11 }}
      stroke={AXIS[theme]}
      tickLine={false}
      width={54}
    />
  );
}

/**
 * Whether the element is on screen or near it. Charts off screen are not drawn: a run logs to every
 * chart at once, and drawing fifteen SVG charts per logged step costs the page more than the run's own
 * updates (on a machine whose CPU also runs the training, the page would fall behind).
 */
function useNearViewport<T extends Element>(): [RefObject<T | null>, boolean] {
  const ref = useRef<T>(null);
  const [near, setNear] = useState(typeof IntersectionObserver === 'undefined');
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver(([entry]) => setNear(entry.isIntersecting), { rootMargin: '240px 0px' });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, near];
}

/**
 * A metric over optimizer steps: train solid, eval dashed, exact values on hover. Memoised: status
 * updates many times a second must not redraw charts whose points did not change.
 */
export const MetricChart = memo(function MetricChart({ title, rows, lines, domain, theme, legend = lines.length > 1, level = 3 }: Props) {
  const id = `chart-${title.replace(/[^a-z0-9]+/gi, '-')}`;
  const Heading = level === 4 ? 'h4' : 'h3';
  const [ref, near] = useNearViewport<HTMLElement>();
  const dots = rows.length <= 60;
  return (
    <figure className="chart" aria-labelledby={id} data-points={rows.length} ref={ref}>
      <Heading id={id} className="chart-title">
        {title}
      </Heading>
      {rows.length === 0 ? (
        <div className="chart-empty">No points yet</div>
      ) : !near ? (
        <div className="chart-body" data-offscreen="true" />
      ) : (
        <div className="chart-body">
          <ResponsiveContainer width="100%" height="100%">
            {/* The surface is a tab stop whose arrow keys move the tooltip from point to point; it carries the chart's name. */}
            <LineChart
              data={rows}
              margin={{ top: 6, right: 12, bottom: 0, left: 0 }}
              title={`${title} by step`}
              desc={`${rows.length} logged points; arrow keys move between them`}
            >
              <CartesianGrid stroke={GRID[theme]} strokeDasharray="2 4" />
              <XAxis
                dataKey="step"
                type="number"
                domain={['dataMin', 'dataMax']}
                allowDecimals={false}
                tick={{ fill: AXIS[theme], fontSize: 11 }}
                stroke={AXIS[theme]}
                tickLine={false}
              />
              {valueAxis(theme, domain)}
              <Tooltip
                formatter={(value) => (typeof value === 'number' ? formatExact(value) : String(value))}
                labelFormatter={(step) => `step ${step}`}
                contentStyle={{
                  background: theme === 'dark' ? '#161b22' : '#ffffff',
                  border: `1px solid ${GRID[theme]}`,
                  borderRadius: 6,
                  fontSize: 12,
                }}
                labelStyle={{ color: AXIS[theme] }}
              />
              {/* In the lines' own order (train before eval), not recharts' alphabetical one. */}
              {legend && (
                <Legend
                  iconType="plainline"
                  wrapperStyle={{ fontSize: 11 }}
                  itemSorter={(item) => lines.findIndex((l) => l.column === item.dataKey)}
                />
              )}
              {lines.map((l) => (
                <Line
                  key={l.column}
                  dataKey={l.column}
                  name={l.name}
                  stroke={l.color}
                  strokeWidth={l.dashed ? 1.6 : 2}
                  strokeDasharray={l.dashed ? '5 4' : undefined}
                  // Eval points are hollow rings, training points filled dots: told apart without colour.
                  dot={
                    l.dashed
                      ? { r: 3, strokeWidth: 1.5, strokeDasharray: '0', stroke: l.color, fill: theme === 'dark' ? '#161b22' : '#ffffff' }
                      : dots
                        ? { r: 2, strokeWidth: 0, fill: l.color }
                        : false
                  }
                  activeDot={{ r: 4 }}
                  connectNulls
                  isAnimationActive={false}
                  type="linear"
                />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </figure>
  );
});
