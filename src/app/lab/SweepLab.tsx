import { useMemo, useState } from 'react';
import type { LossType } from '../../core/dpo/config';
import type { LogEntry } from '../../core/dpo/trainer';
import { formatMetric, formatSetting } from '../format';
import { useStudio } from '../store';
import { useResolvedTheme } from '../theme';
import { OverlayChart, type OverlaySeries } from './lab-report-charts';
import { driftOf, plannedRuns, runSweep, stopSweep, SWEEP_LOSSES, updateSweepSettings, useSweep, type SweepRun } from './SweepRunner';

function lastOf(history: LogEntry[], read: (e: LogEntry) => number | undefined): number | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    if (typeof history[i].loss !== 'number') continue;
    const v = read(history[i]);
    if (typeof v === 'number') return v;
  }
  return undefined;
}

const shown = (v: number | undefined) => (v === undefined ? '—' : formatMetric(v));

const STATUS_TEXT: Record<SweepRun['status'], string> = {
  waiting: 'waiting',
  running: 'training…',
  finished: 'finished',
  stopped: 'stopped',
  failed: 'failed',
};

function Setup() {
  const { settings, running, error } = useSweep();
  const config = useStudio((s) => s.config.dpo);
  const model = useStudio((s) => s.model);
  const dataset = useStudio((s) => s.dataset);
  const [stepsText, setStepsText] = useState(String(settings.steps));
  const stepsOk = /^\d+$/.test(stepsText.trim()) && Number(stepsText) >= 1;
  const plan = plannedRuns(settings, config);
  const planError = typeof plan === 'string' ? plan : null;
  return (
    <section className="card sw-setup" aria-labelledby="sw-setup-title">
      <h3 id="sw-setup-title">Setup</h3>
      <div className="sw-controls">
        <div className="field sw-mode">
          <span className="field-label" id="sw-mode-label">
            Vary
          </span>
          <div className="segmented" role="group" aria-labelledby="sw-mode-label">
            <button
              type="button"
              aria-pressed={settings.mode === 'beta'}
              disabled={running}
              onClick={() => updateSweepSettings({ mode: 'beta' })}
            >
              β
            </button>
            <button
              type="button"
              aria-pressed={settings.mode === 'loss'}
              disabled={running}
              onClick={() => updateSweepSettings({ mode: 'loss' })}
            >
              loss type
            </button>
          </div>
        </div>
        {settings.mode === 'beta' ? (
          <div className="field sw-betas">
            <label htmlFor="sw-betas">β values</label>
            <input
              id="sw-betas"
              type="text"
              value={settings.betas}
              disabled={running}
              aria-invalid={planError !== null || undefined}
              aria-describedby="sw-betas-hint"
              onChange={(e) => updateSweepSettings({ betas: e.target.value })}
            />
            <span id="sw-betas-hint" className={planError ? 'field-error' : 'field-hint'}>
              {planError ?? `loss ${config.loss_type.join('+')}, as in Configure`}
            </span>
          </div>
        ) : (
          <fieldset className="field sw-losses">
            <legend className="field-label">Loss types</legend>
            <div className="checks">
              {SWEEP_LOSSES.map(({ type, about }) => (
                <label key={type} className="check-label" title={about}>
                  <input
                    type="checkbox"
                    checked={settings.losses.includes(type)}
                    disabled={running}
                    onChange={(e) => {
                      const losses: LossType[] = e.target.checked ? [...settings.losses, type] : settings.losses.filter((t) => t !== type);
                      updateSweepSettings({ losses: SWEEP_LOSSES.map((l) => l.type).filter((t) => losses.includes(t)) });
                    }}
                  />
                  <code>{type}</code>
                </label>
              ))}
            </div>
            <span className={planError ? 'field-error' : 'field-hint'}>{planError ?? `β ${config.beta}, as in Configure`}</span>
          </fieldset>
        )}
        <div className="field sw-steps">
          <label htmlFor="sw-steps">Steps per run</label>
          <input
            id="sw-steps"
            aria-describedby="sw-steps-hint"
            type="text"
            inputMode="numeric"
            value={stepsText}
            disabled={running}
            aria-invalid={!stepsOk || undefined}
            onChange={(e) => {
              setStepsText(e.target.value);
              if (/^\d+$/.test(e.target.value.trim()) && Number(e.target.value) >= 1)
                updateSweepSettings({ steps: Number(e.target.value) });
            }}
          />
          <span id="sw-steps-hint" className={stepsOk ? 'field-hint' : 'field-error'}>
            {stepsOk ? 'short runs: a quick sweep' : 'a whole number ≥ 1'}
          </span>
        </div>
        <div className="sw-actions">
          <button
            type="button"
            className="btn primary"
            disabled={running || !stepsOk || planError !== null}
            onClick={() => void runSweep()}
          >
            Run sweep
          </button>
          {running && (
            <button type="button" className="btn danger" onClick={stopSweep}>
              Stop sweep
            </button>
          )}
        </div>
      </div>
      <p className="muted small sw-about">
        {model?.name ?? 'No model'} · {dataset?.name ?? 'no dataset'} · the Configure settings for everything else (batch{' '}
        {config.per_device_train_batch_size}, lr {formatSetting(config.learning_rate)}, seed {config.seed}): the same for every run. Each
        run is stored in Runs.
      </p>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** What the sweep shows about the rule of thumb, in words, from the final drifts. */
function Observation({ runs }: { runs: { beta: number; drift: number | undefined }[] }) {
  const known = runs.filter((r): r is { beta: number; drift: number } => r.drift !== undefined).sort((a, b) => a.beta - b.beta);
  if (known.length < 2) return null;
  const falling = known.every((r, i) => i === 0 || Math.abs(r.drift) <= Math.abs(known[i - 1].drift));
  const first = known[0];
  const last = known[known.length - 1];
  return (
    <p className={`sw-observed ${falling ? 'agrees' : 'differs'}`} data-testid="sweep-observation">
      {falling ? (
        <>
          Here too: |drift| {formatMetric(Math.abs(first.drift))} at β {first.beta} down to {formatMetric(Math.abs(last.drift))} at β{' '}
          {last.beta}.
        </>
      ) : (
        <>
          Not (yet) in this sweep: with few steps, AdamW moves every run by about the same amount at first; the gap opens as the higher-β
          runs saturate. Try more steps.
        </>
      )}
    </p>
  );
}

function RuleOfThumb({ varied, runs }: { varied: 'beta' | 'loss'; runs: { beta: number; drift: number | undefined }[] }) {
  return (
    <aside className="sw-rule" aria-label="Rule of thumb">
      <h4>Rule of thumb: lower β moves further from the reference</h4>
      <p>
        DPO&apos;s reward is β·(log π − log π<sub>ref</sub>). The loss is satisfied once β times the log-ratio margin is large, so a small β
        needs the policy&apos;s log-probs to move further before the pull fades. β is the strength of the leash to the reference.
      </p>
      <p className="muted small">
        <strong>drift</strong> = mean log π − log π<sub>ref</sub> of the chosen answers = rewards/chosen ÷ β, in nats. Margins are in reward
        units, so they carry a factor β; drift does not.
      </p>
      {varied === 'beta' ? (
        <Observation runs={runs} />
      ) : (
        <ul className="sw-loss-notes small">
          {SWEEP_LOSSES.map((l) => (
            <li key={l.type}>
              <code>{l.type}</code> {l.about}
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}

function ResultTable({ runs }: { runs: (SweepRun & { drift: number | undefined })[] }) {
  return (
    <div className="table-wrap">
      <table className="table sw-table" aria-label="Sweep results">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col" className="num sym">
              β
            </th>
            <th scope="col">Loss</th>
            <th scope="col" className="num">
              Final margin
            </th>
            <th scope="col" className="num">
              Final drift
            </th>
            <th scope="col" className="num">
              Final accuracy
            </th>
            <th scope="col" className="num">
              Final loss
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const margin = lastOf(r.history, (e) => e['rewards/margins']);
            const accuracy = lastOf(r.history, (e) => e['rewards/accuracies']);
            const loss = lastOf(r.history, (e) => e.loss);
            return (
              <tr key={r.name} data-run={r.label}>
                <td>{r.name}</td>
                <td className="num">{r.beta}</td>
                <td>
                  <code>{r.lossType.join('+')}</code>
                </td>
                <td className="num" data-field="margin" data-value={margin}>
                  {shown(margin)}
                </td>
                <td className="num" data-field="drift" data-value={r.drift}>
                  {shown(r.drift)}
                </td>
                <td className="num" data-field="accuracy" data-value={accuracy}>
                  {shown(accuracy)}
                </td>
                <td className="num" data-field="loss" data-value={loss}>
                  {shown(loss)}
                </td>
                <td>
                  <span className={`sw-status s-${r.status}`}>{STATUS_TEXT[r.status]}</span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The lab's "β / loss sweep" tab: several short runs with the same seed, overlaid. */
export function SweepLab() {
  const { runs, varied } = useSweep();
  const liveRunId = useStudio((s) => s.training.runId);
  const liveHistory = useStudio((s) => s.training.history);
  const theme = useResolvedTheme(useStudio((s) => s.theme));
  const { withDrift, series, driftSeries } = useMemo(() => {
    const withLive = runs.map((r) => (r.status === 'running' && r.runId === liveRunId ? { ...r, history: liveHistory } : r));
    const started = withLive.filter((r) => r.status !== 'waiting');
    return {
      withDrift: withLive.map((r) => ({ ...r, drift: lastOf(r.history, (e) => driftOf(e, r.beta)) })),
      series: started.map((r): OverlaySeries => ({ id: r.name, name: r.label, history: r.history })),
      driftSeries: started.map((r): OverlaySeries => ({
        id: r.name,
        name: r.label,
        history: r.history.map((e) => ({ ...e, drift: driftOf(e, r.beta) ?? NaN })),
      })),
    };
  }, [runs, liveRunId, liveHistory]);
  return (
    <div className="sw">
      <h2 className="visually-hidden">β / loss sweep</h2>
      <p className="sw-intro">
        One press trains several short runs one after another, all from the same seed, changing only β or the loss type, and overlays how
        far each moves the policy from the reference.
      </p>
      <Setup />
      {varied && runs.length > 0 && (
        <section aria-labelledby="sw-results-title">
          <h3 id="sw-results-title" className="section-title">
            {varied === 'beta' ? 'β sweep' : 'Loss-type sweep'}: {runs.filter((r) => r.status === 'finished').length} of {runs.length} runs
            finished
          </h3>
          <div className="cx-results">
            <div className="cx-charts">
              <OverlayChart title="drift from the reference (chosen)" value="drift" series={driftSeries} theme={theme} />
              <OverlayChart title="rewards/margins" value="rewards/margins" series={series} theme={theme} />
              <OverlayChart title="loss" value="loss" series={series} theme={theme} />
              <OverlayChart title="rewards/accuracies" value="rewards/accuracies" series={series} theme={theme} domain={[0, 1]} />
            </div>
            <RuleOfThumb varied={varied} runs={withDrift} />
          </div>
          <h3 className="section-title">Where each run ended</h3>
          <ResultTable runs={withDrift} />
        </section>
      )}
    </div>
  );
}
