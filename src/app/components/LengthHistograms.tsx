import { memo } from 'react';
import { Bar, BarChart, CartesianGrid, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatInt } from '../format';
import { useStudio } from '../store';
import { useResolvedTheme } from '../theme';
import type { TokenStats } from '../../worker/protocol';

/** Counts on the axis as 4,500 or 18K: a large file's bins hold tens of thousands of pairs. */
const COMPACT = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

const COLORS = {
  light: { prompt: '#5a6473', chosen: '#0f8a5f', rejected: '#c2410c', axis: '#6b7280', grid: '#e5e7eb', limit: '#b91c1c' },
  dark: { prompt: '#a8b3c2', chosen: '#3fd3a4', rejected: '#ff9a52', axis: '#9aa4b2', grid: '#2a313b', limit: '#f87171' },
};

/**
 * Token lengths of prompts, chosen and rejected completions, with max_length marked. Memoised: the
 * panel around it redraws on every progress report.
 */
export const LengthHistograms = memo(function LengthHistograms({ stats, tokenizer }: { stats: TokenStats; tokenizer: string }) {
  const theme = useResolvedTheme(useStudio((s) => s.theme));
  const c = COLORS[theme];
  const h = stats.histogram;
  // max_length is marked only where it falls inside the drawn range.
  const tickInterval = Math.max(0, Math.ceil(h.edges.length / 8) - 1);
  const limitShown = stats.maxLength !== null && stats.maxLength <= h.edges[h.edges.length - 1] + h.width;
  const parts = [
    { key: 'prompt', title: 'prompt tokens', color: c.prompt },
    { key: 'chosen', title: 'chosen tokens', color: c.chosen },
    { key: 'rejected', title: 'rejected tokens', color: c.rejected },
  ] as const;
  return (
    <section className="card" aria-labelledby="lengths-heading">
      <div className="card-head">
        <h2 id="lengths-heading">Token lengths</h2>
        <span className="muted small">
          tokenizer of {tokenizer} · bins of {h.width} token{h.width === 1 ? '' : 's'}
          {limitShown
            ? ' · red line: max_length (prompt + completion)'
            : stats.maxLength !== null && ` · max_length ${stats.maxLength} lies beyond these lengths`}
        </span>
      </div>
      <div className="histograms">
        {parts.map((p) => {
          const data = h.edges.map((edge, i) => ({ bin: edge, label: `${edge}–${edge + h.width - 1}`, count: h[p.key][i] }));
          return (
            <figure className="histogram" key={p.key} aria-label={`${p.title} histogram`}>
              <figcaption>{p.title}</figcaption>
              <div className="histogram-body">
                <ResponsiveContainer width="100%" height="100%">
                  <BarChart
                    data={data}
                    margin={{ top: 4, right: 8, bottom: 0, left: 0 }}
                    barCategoryGap={1}
                    title={`${p.title} histogram`}
                    desc={`pairs per bin of ${h.width} tokens; arrow keys move between bins`}
                  >
                    <CartesianGrid stroke={c.grid} strokeDasharray="2 4" vertical={false} />
                    {/* Every k-th bin labelled, evenly, rather than recharts' uneven fit. */}
                    <XAxis dataKey="bin" tick={{ fill: c.axis, fontSize: 10 }} stroke={c.axis} tickLine={false} interval={tickInterval} />
                    <YAxis
                      allowDecimals={false}
                      tick={{ fill: c.axis, fontSize: 10 }}
                      stroke={c.axis}
                      tickLine={false}
                      width={36}
                      tickFormatter={(v: number) => (v < 10_000 ? formatInt(v) : COMPACT.format(v))}
                    />
                    <Tooltip
                      formatter={(v) => [formatInt(Number(v)), 'pairs']}
                      labelFormatter={(_, payload) => `${payload?.[0]?.payload?.label ?? ''} tokens`}
                      contentStyle={{ background: theme === 'dark' ? '#161b22' : '#fff', border: `1px solid ${c.grid}`, fontSize: 12 }}
                    />
                    <Bar dataKey="count" fill={p.color} isAnimationActive={false} />
                    {limitShown && (
                      <ReferenceLine x={Math.floor(stats.maxLength! / h.width) * h.width} stroke={c.limit} strokeDasharray="4 3" />
                    )}
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </figure>
          );
        })}
      </div>
    </section>
  );
});
