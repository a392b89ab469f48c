import { useMemo, useState, type ReactElement, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Scatter, Tooltip, XAxis } from 'recharts';
import { LOSS_TYPES, type LossType } from '../../core/dpo/config';
import {
  hasCurve,
  marginCurve,
  marginExtent,
  pairWeight,
  SPLIT_LOSSES,
  weightBins,
  type CurveSettings,
} from '../../core/dpo/margin-curves';
import type { PairScore } from '../../worker/protocol';
import { scorePairs } from '../actions';
import { AXIS, GRID, valueAxis } from '../components/MetricChart';
import { formatMetric } from '../format';
import { PALETTE } from '../metrics';
import { usePolicyLabel, useStudio } from '../store';
import { useResolvedTheme } from '../theme';

/** Pairs scored from here: enough for a histogram-like cloud on the weight curve, quick on the demo model. */
const EXPLORER_PAIRS = 32;
const CURVE_TYPES = LOSS_TYPES.filter(hasCurve);
/** exo_pair needs label smoothing > 0 (its loss holds log ε); without one it is drawn at TRL's example 1e-3. */
const EXO_PAIR_EPSILON = 1e-3;

function settingsFor(type: LossType, s: CurveSettings): CurveSettings {
  return type === 'exo_pair' && s.label_smoothing === 0 ? { ...s, label_smoothing: EXO_PAIR_EPSILON } : s;
}

/** A scored pair as the explorer sees it: its log-ratios, margin and weight under the first chosen loss. */
interface ExplorerPair {
  line: number;
  uC: number;
  uR: number;
  margin: number;
  weight: number;
  share: number;
}

type SortKey = 'weight' | 'margin';

const CHARTS = [
  { what: 'loss', title: 'loss ℓ by margin Δ = u_c − u_r' },
  { what: 'weight', title: 'gradient weight w = −dℓ/dΔ by margin Δ' },
] as const;

function explorerPairs(pairs: PairScore[], type: LossType, s: CurveSettings): ExplorerPair[] {
  const rows = pairs.map((p) => {
    const uC = p.policyChosen - p.referenceChosen;
    const uR = p.policyRejected - p.referenceRejected;
    return { line: p.line, uC, uR, margin: uC - uR, weight: pairWeight(type, uC, uR, settingsFor(type, s)), share: 0 };
  });
  const total = rows.reduce((sum, r) => sum + Math.abs(r.weight), 0);
  return rows.map((r) => ({ ...r, share: total > 0 ? Math.abs(r.weight) / total : 0 }));
}

interface CurveChartProps {
  title: string;
  what: 'loss' | 'weight';
  types: LossType[];
  settings: CurveSettings;
  extent: number;
  pairs: ExplorerPair[];
  /** Divide each curve (and the pairs, by the first curve's) by its largest |value| over the range. */
  scaled: boolean;
  theme: 'light' | 'dark';
}

/** An explorer chart in its titled figure; `id` names it for tests and for the figure's label. */
function ExplorerFigure({
  id,
  title,
  className,
  attributes,
  children,
}: {
  id: string;
  title: ReactNode;
  className: string;
  attributes: Record<`data-${string}`, string | number | boolean>;
  children: ReactElement;
}) {
  const titleId = `${id}-title`;
  return (
    <figure className={`chart ${className}`} aria-labelledby={titleId} data-testid={id} {...attributes}>
      <h4 id={titleId} className="chart-title">
        {title}
      </h4>
      <div className="chart-body">
        <ResponsiveContainer width="100%" height="100%">
          {children}
        </ResponsiveContainer>
      </div>
    </figure>
  );
}

/** One quantity of every chosen loss type over the margin; the scored pairs as points on the weight chart. */
function CurveChart({ title, what, types, settings, extent, pairs, scaled, theme }: CurveChartProps) {
  const { rows, scales } = useMemo(() => {
    // Every curve is sampled at the same margins (marginCurve's even grid over ±extent).
    const curves = types.map((t) => marginCurve(t, settingsFor(t, settings), extent));
    const scales = curves.map((c) => (scaled ? Math.max(...c.map((p) => Math.abs(p[what]))) || 1 : 1));
    return {
      rows: (curves[0] ?? []).map(({ margin }, i) => ({
        margin,
        ...Object.fromEntries(types.map((t, k) => [t, curves[k][i][what] / scales[k]])),
      })),
      scales,
    };
  }, [types, settings, extent, what, scaled]);
  const colors = PALETTE[theme];
  const id = `mx-chart-${what}`;
  const points = what === 'weight' ? pairs.map((p) => ({ margin: p.margin, pair: p.weight / scales[0], line: p.line })) : [];
  return (
    <ExplorerFigure
      id={id}
      title={scaled ? `${title}, each curve ÷ its largest |value|` : title}
      className="mx-chart"
      attributes={{ 'data-types': types.join(' '), 'data-pairs': points.length, 'data-scaled': scaled }}
    >
      <ComposedChart
        data={rows}
        margin={{ top: 6, right: 12, bottom: 0, left: 0 }}
        title={title}
        desc={`${types.join(', ')} at β ${settings.beta}${points.length ? `, with ${points.length} scored pairs` : ''}`}
      >
        <CartesianGrid stroke={GRID[theme]} strokeDasharray="2 4" />
        <XAxis
          dataKey="margin"
          type="number"
          domain={[-extent, extent]}
          tickFormatter={(v: number) => formatMetric(v)}
          tick={{ fill: AXIS[theme], fontSize: 11 }}
          stroke={AXIS[theme]}
          tickLine={false}
        />
        {valueAxis(theme)}
        <Tooltip
          formatter={(v) => formatMetric(Number(v))}
          labelFormatter={(v) => `Δ ${formatMetric(Number(v))}`}
          contentStyle={{ fontSize: 12 }}
        />
        {types.map((t, k) => (
          <Line key={t} dataKey={t} name={t} stroke={colors[k % colors.length]} dot={false} strokeWidth={2} isAnimationActive={false} />
        ))}
        {points.length > 0 && (
          <Scatter
            data={points}
            dataKey="pair"
            name={`scored pairs (${types[0]})`}
            fill={colors[colors.length - 1]}
            isAnimationActive={false}
          />
        )}
        <Legend wrapperStyle={{ fontSize: 12, paddingTop: 8 }} />
      </ComposedChart>
    </ExplorerFigure>
  );
}

function WeightHistogram({ pairs, theme }: { pairs: ExplorerPair[]; theme: 'light' | 'dark' }) {
  const bins = useMemo(
    () => weightBins(pairs.map((p) => p.weight)).map((b) => ({ ...b, label: `${formatMetric(b.from)}–${formatMetric(b.to)}` })),
    [pairs],
  );
  return (
    <ExplorerFigure
      id="mx-histogram"
      title="pairs by gradient weight w"
      className="mx-histogram"
      attributes={{ 'data-counts': bins.map((b) => b.count).join(' ') }}
    >
      <BarChart
        data={bins}
        margin={{ top: 6, right: 12, bottom: 0, left: 0 }}
        barCategoryGap={1}
        title="pairs by gradient weight w"
        desc={`${pairs.length} scored pairs in ${bins.length} bins of weight`}
      >
        <CartesianGrid stroke={GRID[theme]} strokeDasharray="2 4" vertical={false} />
        <XAxis dataKey="label" tick={{ fill: AXIS[theme], fontSize: 10 }} stroke={AXIS[theme]} tickLine={false} interval={1} />
        {valueAxis(theme)}
        <Tooltip formatter={(v) => [`${String(v)} pairs`, 'count']} contentStyle={{ fontSize: 12 }} />
        <Bar dataKey="count" fill={PALETTE[theme][0]} isAnimationActive={false} />
      </BarChart>
    </ExplorerFigure>
  );
}

function PairTable({ pairs, type, beta, theme }: { pairs: ExplorerPair[]; type: LossType; beta: number; theme: 'light' | 'dark' }) {
  const [sort, setSort] = useState<SortKey>('weight');
  const sorted = useMemo(
    () => [...pairs].sort((a, b) => (sort === 'weight' ? Math.abs(b.weight) - Math.abs(a.weight) : a.margin - b.margin) || a.line - b.line),
    [pairs, sort],
  );
  const top = sorted.slice(0, Math.max(1, Math.ceil(pairs.length / 4)));
  const topShare = [...pairs]
    .sort((a, b) => b.share - a.share)
    .slice(0, top.length)
    .reduce((s, p) => s + p.share, 0);
  const header = (key: SortKey, label: string) => (
    <th scope="col" aria-sort={sort === key ? (key === 'weight' ? 'descending' : 'ascending') : 'none'}>
      <button type="button" className="mx-sort" onClick={() => setSort(key)}>
        {label}
        <span aria-hidden="true">{sort === key ? (key === 'weight' ? ' ▼' : ' ▲') : ' ↕'}</span>
      </button>
    </th>
  );
  return (
    <section className="card mx-pairs" aria-labelledby="mx-pairs-title">
      <h3 id="mx-pairs-title">Which pairs drive the gradient</h3>
      <p className="small" data-testid="mx-dominance">
        Under <code>{type}</code> at β {beta}, the {top.length} heaviest of {pairs.length} pairs carry {formatMetric(100 * topShare)}% of
        the total gradient weight.
      </p>
      <WeightHistogram pairs={pairs} theme={theme} />
      <div className="table-wrap">
        <table className="table" aria-label="Scored pairs by gradient weight">
          <thead>
            <tr>
              <th scope="col">Line</th>
              {header('margin', 'margin Δ')}
              <th scope="col">reward chosen</th>
              <th scope="col">reward rejected</th>
              {header('weight', 'weight w')}
              <th scope="col">share</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((p) => (
              <tr key={p.line} data-line={p.line}>
                <td className="num">{p.line}</td>
                <td className="num" data-value={p.margin}>
                  {formatMetric(p.margin)}
                </td>
                <td className="num">{formatMetric(beta * p.uC)}</td>
                <td className="num">{formatMetric(beta * p.uR)}</td>
                <td className="num" data-value={p.weight}>
                  {formatMetric(p.weight)}
                </td>
                <td className="num">{formatMetric(100 * p.share)}%</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/**
 * The β / margin explorer: every loss type's per-pair loss and gradient weight as functions of the
 * margin, at a β of the person's choosing (Configure's by default, never changed from here), with the
 * scored pairs of the latest run plotted on the weight curve and ranked by how much of the gradient
 * they carry.
 */
export function MarginExplorer() {
  const config = useStudio((s) => s.config.dpo);
  const scores = useStudio((s) => s.scores);
  const scoreBusy = useStudio((s) => s.scoreBusy);
  const scoreError = useStudio((s) => s.scoreError);
  const ready = useStudio((s) => !!s.model && !!s.dataset);
  const policy = usePolicyLabel(scores?.policy ?? '');
  const theme = useResolvedTheme(useStudio((s) => s.theme));
  const configured = config.loss_type.filter(hasCurve);
  const [types, setTypes] = useState<LossType[]>(configured.length > 0 ? configured : ['sigmoid']);
  const [betaText, setBetaText] = useState(String(config.beta));
  const [scaled, setScaled] = useState(false);
  const betaValue = Number(betaText);
  const betaOk = betaText.trim() !== '' && Number.isFinite(betaValue) && betaValue > 0 && betaValue <= 100;
  const beta = betaOk ? betaValue : config.beta;
  const settings = useMemo<CurveSettings>(
    () => ({
      beta,
      label_smoothing: config.label_smoothing,
      discopop_tau: config.discopop_tau,
      f_divergence_type: config.f_divergence_type,
      f_alpha_divergence_coef: config.f_alpha_divergence_coef,
    }),
    [beta, config.label_smoothing, config.discopop_tau, config.f_divergence_type, config.f_alpha_divergence_coef],
  );
  const shownTypes = useMemo(() => CURVE_TYPES.filter((t) => types.includes(t)), [types]);
  const pairs = useMemo(
    () => (scores && shownTypes.length > 0 ? explorerPairs(scores.pairs, shownTypes[0], settings) : []),
    [scores, shownTypes, settings],
  );
  const extent = marginExtent(
    beta,
    pairs.map((p) => p.margin),
  );
  const split = shownTypes.filter((t) => SPLIT_LOSSES.includes(t));
  return (
    <div className="mx">
      <h2 className="visually-hidden">β / margin explorer</h2>
      <p className="sw-intro">
        DPO never looks at a log-probability on its own: each pair enters through its log-ratios u = log π(y|x) − log π_ref(y|x), and most
        loss types only through the margin Δ = u_c − u_r. The gradient on a pair is its weight w = −dℓ/dΔ times (∇log π(y_c) − ∇log π(y_r));
        the curves show ℓ and w for each loss type. Nothing here changes Configure.
      </p>
      <section className="card" aria-labelledby="mx-setup-title">
        <h3 id="mx-setup-title">Setup</h3>
        <div className="sw-controls">
          <div className="field mx-beta">
            <label htmlFor="mx-beta">β</label>
            <input
              id="mx-beta"
              type="number"
              step="any"
              min="0"
              value={betaText}
              aria-invalid={!betaOk || undefined}
              aria-describedby="mx-beta-hint"
              onChange={(e) => setBetaText(e.target.value)}
            />
            <span id="mx-beta-hint" className={betaOk ? 'field-hint' : 'field-error'}>
              {betaOk ? `Configure has β ${config.beta}` : `β must be a number in (0, 100]; showing β ${config.beta}`}
            </span>
          </div>
          <fieldset className="field sw-losses mx-losses">
            <legend className="field-label">Loss types</legend>
            <div className="checks">
              {CURVE_TYPES.map((type) => (
                <label key={type} className="check-label">
                  <input
                    type="checkbox"
                    checked={types.includes(type)}
                    onChange={(e) => setTypes(e.target.checked ? [...types, type] : types.filter((t) => t !== type))}
                  />
                  <code>{type}</code>
                </label>
              ))}
            </div>
            <span className="field-hint">
              {shownTypes.length === 0
                ? 'choose at least one loss type'
                : `label_smoothing ${settings.label_smoothing}, ${config.f_divergence_type}, as in Configure` +
                  (shownTypes.includes('exo_pair') && settings.label_smoothing === 0 ? `; exo_pair at ε ${EXO_PAIR_EPSILON}` : '')}
            </span>
          </fieldset>
          <label className="check-label mx-scale">
            <input type="checkbox" checked={scaled} onChange={(e) => setScaled(e.target.checked)} />
            Scale each curve to its largest value
          </label>
          <div className="sw-actions">
            <button type="button" className="btn" disabled={!ready || scoreBusy} onClick={() => void scorePairs(EXPLORER_PAIRS)}>
              {scoreBusy ? 'Scoring…' : scores ? 'Score again' : `Score ${EXPLORER_PAIRS} pairs`}
            </button>
          </div>
        </div>
        <p className="muted small sw-about" data-testid="mx-pairs-source">
          {scores
            ? `Points: ${scores.pairs.length} ${scores.split} pairs scored with ${policy}, weighted under ${shownTypes[0] ?? '—'}.`
            : ready
              ? 'Score pairs to plot the latest run’s pairs (or the base model’s, before any run) on the weight curve.'
              : 'Load a model and a dataset to plot their pairs on the weight curve.'}
          {split.length > 0 && ` ${split.join(', ')} read each log-ratio on its own: drawn along u_c = −u_r = Δ/2.`}
          {(shownTypes.includes('ipo') || shownTypes.includes('sigmoid_norm')) && ' ipo and sigmoid_norm are drawn for one-token answers.'}
        </p>
        {scoreError && (
          <p className="error-text" role="alert">
            {scoreError}
          </p>
        )}
      </section>
      {shownTypes.length > 0 && (
        <div className="charts mx-charts">
          {CHARTS.map(({ what, title }) => (
            <CurveChart
              key={what}
              title={title}
              what={what}
              types={shownTypes}
              settings={settings}
              extent={extent}
              pairs={pairs}
              scaled={scaled}
              theme={theme}
            />
          ))}
        </div>
      )}
      {pairs.length > 0 && shownTypes.length > 0 && <PairTable pairs={pairs} type={shownTypes[0]} beta={beta} theme={theme} />}
      <aside className="sw-rule" aria-label="Why rewards/chosen can fall">
        <h4>Why rewards/chosen can fall while the margin rises</h4>
        <p className="small">
          The weight depends on the margin, not on either log-ratio: sigmoid pushes log π(y_c) up and log π(y_r) down by the same w. Because
          the chosen and rejected answers share most of their tokens&apos; patterns, pushing the rejected answer down also pulls the chosen
          one down; when the rejected side falls faster, rewards/chosen drops below 0 while rewards/margins and accuracy climb. The loss is
          satisfied either way, and w shrinks once Δ passes a few 1/β (at βΔ = 4.6 sigmoid&apos;s weight is 1% of its peak), which is why a
          larger β stops pushing sooner. Loss types drawn along u_c = −u_r (nca_pair, bco_pair, sppo_hard, apo_zero, apo_down) score each
          answer on its own and can hold the chosen answer up.
        </p>
      </aside>
    </div>
  );
}
