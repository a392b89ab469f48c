import { useState } from 'react';
import { showTokenRatios } from '../actions';
import { formatExact, formatMetric } from '../format';
import { set, usePolicyLabel, useStudio } from '../store';
import { useResolvedTheme } from '../theme';
import { direction, largestMovers, sideSum, sideTokens, tintStrength, visibleText, type MovedToken } from '../token-ratios';

const MOVERS = 6;
/** Raised tokens blue, lowered ones vermillion (Okabe–Ito), per theme. */
const HUES = {
  light: { up: '11, 107, 203', down: '213, 94, 0' },
  dark: { up: '94, 168, 255', down: '255, 154, 82' },
} as const;

const signed = (v: number) => (v > 0 ? '+' : '') + formatMetric(v);

function TokenStrip({ side, tokens, largest, theme }: { side: string; tokens: MovedToken[]; largest: number; theme: 'light' | 'dark' }) {
  const sum = sideSum(tokens);
  return (
    <div className="tr-side">
      <h3>
        {side} <span className="muted small">Σ log-ratio {signed(sum)}</span>
      </h3>
      <p className="tr-tokens" aria-label={`${side} completion tokens coloured by log-ratio`}>
        {tokens.map((t) => {
          const way = direction(t.ratio);
          const strength = tintStrength(t.ratio, largest);
          const style = way === 'none' ? undefined : { background: `rgba(${HUES[theme][way]}, ${strength.toFixed(3)})` };
          return (
            <span
              key={t.position}
              className={`tr-token tr-${way}`}
              style={style}
              data-ratio={t.ratio}
              title={`log-ratio ${formatExact(t.ratio)} (policy ${formatExact(t.policy)}, reference ${formatExact(t.reference)})`}
            >
              {visibleText(t.text)}
            </span>
          );
        })}
      </p>
    </div>
  );
}

/**
 * What DPO changed in one pair: each completion token coloured by log π(token) − log π_ref(token),
 * blue where the policy made it more likely, vermillion where less, and the largest movers listed.
 */
export function TokenRatios() {
  const scores = useStudio((s) => s.scores);
  const view = useStudio((s) => s.tokenRatios);
  const busy = useStudio((s) => s.tokenRatiosBusy);
  const error = useStudio((s) => s.tokenRatiosError);
  const follow = useStudio((s) => s.tokenFollow);
  const ready = useStudio((s) => !!s.model && !!s.dataset);
  const training = useStudio((s) => s.training.state === 'running' || s.training.state === 'preparing');
  const theme = useResolvedTheme(useStudio((s) => s.theme));
  const policy = usePolicyLabel(view?.policy ?? '');
  const lines = scores?.pairs.map((p) => p.line) ?? [];
  const [line, setLine] = useState<number | null>(null);
  const chosenLine = line ?? view?.line ?? lines[0] ?? null;
  const following = useStudio((s) => s.followTokens);
  const byLoss = [...(scores?.pairs ?? [])].sort((a, b) => b.loss - a.loss);
  const show = (l: number) => {
    setLine(l);
    void showTokenRatios(l, following);
  };

  const chosen = view ? sideTokens(view, 'chosen') : [];
  const rejected = view ? sideTokens(view, 'rejected') : [];
  const largest = Math.max(0, ...[...chosen, ...rejected].map((t) => Math.abs(t.ratio)));
  const movers = view ? largestMovers(view, MOVERS) : [];
  return (
    <section className="card" aria-labelledby="token-ratios-heading">
      <div className="card-head">
        <h2 id="token-ratios-heading">What DPO changed, token by token</h2>
      </div>
      <p className="muted small">
        Each completion token of a scored pair, coloured by the policy&apos;s log-probability minus the reference&apos;s:{' '}
        <span className="tr-key tr-up">more likely</span> under the policy, <span className="tr-key tr-down">less likely</span>. A
        side&apos;s sum is its reward ÷ β. Score pairs first to pick from them.
      </p>
      <div className="tr-controls">
        <label>
          pair on line{' '}
          <select
            value={chosenLine ?? ''}
            onChange={(e) => setLine(Number(e.target.value))}
            disabled={lines.length === 0}
            aria-label="Pair to show, by line"
          >
            {lines.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="btn" disabled={!ready || busy || chosenLine === null} onClick={() => show(chosenLine!)}>
          Show tokens
        </button>
        <button type="button" className="btn ghost" disabled={!ready || busy || byLoss.length === 0} onClick={() => show(byLoss[0].line)}>
          Worst pair
        </button>
        <button
          type="button"
          className="btn ghost"
          disabled={!ready || busy || byLoss.length === 0}
          onClick={() => show(byLoss[byLoss.length - 1].line)}
        >
          Best pair
        </button>
        <label className="check-label">
          <input type="checkbox" checked={following} onChange={(e) => set({ followTokens: e.target.checked })} />
          <span>update at each logging step while a run trains</span>
        </label>
      </div>
      {error && <p className="error-text">{error}</p>}
      {training && follow && (!view || view.line !== follow.line) && (
        <p className="muted small" role="status">
          Line {follow.line} is shown at the run&apos;s next logging step.
        </p>
      )}
      {view && (
        <div className="tr-view" data-testid="token-ratios" data-line={view.line}>
          <p>
            Line <strong>{view.line}</strong> · policy <strong data-testid="token-ratios-policy">{policy}</strong> · rewards/chosen{' '}
            {signed(view.beta * sideSum(chosen))} · rewards/rejected {signed(view.beta * sideSum(rejected))}
          </p>
          <TokenStrip side="chosen" tokens={chosen} largest={largest} theme={theme} />
          <TokenStrip side="rejected" tokens={rejected} largest={largest} theme={theme} />
          {movers.length > 0 ? (
            <table className="table tr-movers" aria-label="Largest movers">
              <thead>
                <tr>
                  <th scope="col">token</th>
                  <th scope="col">side</th>
                  <th scope="col" className="num">
                    position
                  </th>
                  <th scope="col" className="num">
                    log-ratio
                  </th>
                </tr>
              </thead>
              <tbody>
                {movers.map((t) => (
                  <tr key={`${t.side}-${t.position}`}>
                    <td>
                      <code>{visibleText(t.text)}</code>
                    </td>
                    <td>{t.side}</td>
                    <td className="num">{t.position + 1}</td>
                    <td className="num" data-value={t.ratio}>
                      {signed(t.ratio)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted small">No token moved: the policy still equals the reference (train a run, or load an adapter).</p>
          )}
        </div>
      )}
    </section>
  );
}
