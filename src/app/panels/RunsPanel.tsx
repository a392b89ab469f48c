import { useState } from 'react';
import { DPO_OPTIONS, optionProblem, type ConfigOption } from '../../core/config';
import { LOSS_TYPES, type LossType } from '../../core/dpo/config';
import { deleteRun, duplicateRun, openRun, refreshStorageUsage, renameRun, resumeStoredRun, toggleCompare } from '../actions';
import { ChartGroups } from '../components/ChartGroups';
import { RunComparison } from './RunComparison';
import { formatBytes, formatDate, formatMetric, formatSetting } from '../format';
import { CHARTS, chartLines, chartRows, lastLogged, PALETTE } from '../metrics';
import { useStudio } from '../store';
import type { RunRecord } from '../../storage';
import { useResolvedTheme } from '../theme';

const STATUS_TEXT: Record<string, string> = {
  running: 'running',
  interrupted: 'interrupted',
  paused: 'paused',
  stopped: 'stopped',
  finished: 'finished',
  failed: 'failed',
};

/** The schema's message for what a setting's text holds, as the Configure panel and the CLI give it. */
function settingProblem(option: ConfigOption, text: string): string | null {
  const value = text.trim() === '' ? null : Number(text);
  return value !== null && Number.isNaN(value) ? `${option.name} must be a number` : optionProblem(option, value);
}

function DuplicateForm({ run, onDone }: { run: RunRecord; onDone: () => void }) {
  const [name, setName] = useState(`${run.name} (copy)`);
  const [beta, setBeta] = useState(String(run.config.beta));
  const [loss, setLoss] = useState<LossType>(run.config.loss_type[0]);
  const [lr, setLr] = useState(String(run.config.learning_rate));
  const betaProblem = settingProblem(DPO_OPTIONS.beta, beta);
  const lrProblem = settingProblem(DPO_OPTIONS.learning_rate, lr);
  const betaOk = betaProblem === null;
  const lrOk = lrProblem === null;
  const nameOk = name.trim() !== '';
  const problems = [!nameOk && 'the copy needs a name', betaProblem, lrProblem].filter(Boolean);
  return (
    <form
      className="duplicate-form"
      aria-label={`Duplicate ${run.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        if (!betaOk || !lrOk) return;
        const sameLoss = loss === run.config.loss_type[0];
        void duplicateRun(run.id, {
          name,
          config: {
            beta: Number(beta),
            learning_rate: Number(lr),
            ...(sameLoss ? {} : { loss_type: [loss], loss_weights: null }),
          },
        });
        onDone();
      }}
    >
      <label>
        name <input value={name} onChange={(e) => setName(e.target.value)} aria-invalid={!nameOk || undefined} />
      </label>
      <label>
        copy beta <input value={beta} onChange={(e) => setBeta(e.target.value)} aria-invalid={!betaOk || undefined} inputMode="decimal" />
      </label>
      <label>
        copy loss type
        <select value={loss} onChange={(e) => setLoss(e.target.value as LossType)}>
          {LOSS_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <label>
        copy learning rate{' '}
        <input value={lr} onChange={(e) => setLr(e.target.value)} aria-invalid={!lrOk || undefined} inputMode="decimal" />
      </label>
      <button type="submit" className="btn small primary" disabled={problems.length > 0}>
        Create copy
      </button>
      <button type="button" className="btn small ghost" onClick={onDone}>
        Cancel
      </button>
      {problems.length > 0 ? (
        <span className="field-error" role="alert">
          {problems.join('; ')}
        </span>
      ) : (
        <span className="muted small">Other settings can be changed in Configure before pressing Train.</span>
      )}
    </form>
  );
}

/** `live`: what the run in the worker is doing now (null for a run only in storage). */
function RunRow({ run, color, live }: { run: RunRecord; color: string | null; live: 'training' | 'paused' | null }) {
  const compare = useStudio((s) => s.compare);
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(run.name);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [duplicating, setDuplicating] = useState(false);
  const selected = compare.includes(run.id);
  const notStarted = run.step === 0 && run.history.length === 0 && run.status === 'stopped';
  // Stored as running but not running in this page's worker: the page was reloaded or closed mid-run.
  const stored = run.status === 'running' && !live ? 'interrupted' : run.status;
  const resumable =
    !live &&
    (run.status === 'running' || run.status === 'paused' || run.status === 'stopped' || run.status === 'failed') &&
    run.step > 0 &&
    run.step < run.totalSteps;
  return (
    <>
      <tr className={selected ? 'selected' : undefined}>
        <td>
          <input type="checkbox" checked={selected} onChange={() => toggleCompare(run.id)} aria-label={`Compare ${run.name}`} />
        </td>
        <td className="run-name">
          <div className="run-cell">
            {renaming ? (
              <form
                className="inline-form"
                onSubmit={(e) => {
                  e.preventDefault();
                  if (name.trim()) void renameRun(run.id, name);
                  setRenaming(false);
                }}
              >
                <input aria-label={`New name for ${run.name}`} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
                <button type="submit" className="btn small">
                  Save
                </button>
              </form>
            ) : (
              <button type="button" className="link run-link" onClick={() => openRun(run)} title="Show in Train">
                {color && <span className="swatch" style={{ background: color }} aria-hidden="true" />}
                {run.name}
              </button>
            )}
            <span className="muted small block run-meta" title={`${run.model.name} · ${run.dataset.name} · ${formatDate(run.createdAt)}`}>
              {run.model.name} · {run.dataset.name} · {formatDate(run.createdAt)}
            </span>
          </div>
        </td>
        <td className="status-cell">
          <span className={`status-pill p-${notStarted ? 'draft' : live === 'training' ? 'running' : (live ?? stored)}`}>
            {notStarted ? 'not started' : (live ?? STATUS_TEXT[stored])}
          </span>
          <span className="muted small block">
            step {run.step} / {run.totalSteps || '?'}
          </span>
        </td>
        <td className="settings">
          <code>{run.config.loss_type.join('+')}</code> β {run.config.beta} · lr {formatSetting(run.config.learning_rate)}
          <span className="muted small block">
            checkpoint every {run.saveSteps} step{run.saveSteps === 1 ? '' : 's'}
          </span>
        </td>
        <td className="num">{formatMetric(lastLogged(run.history, 'loss'))}</td>
        <td className="num">{formatMetric(lastLogged(run.history, 'rewards/accuracies'))}</td>
        <td className="actions">
          {resumable && (
            <button type="button" className="btn small" onClick={() => void resumeStoredRun(run.id)}>
              Continue
            </button>
          )}
          <button
            type="button"
            className="btn small ghost"
            onClick={() => {
              setName(run.name);
              setRenaming((r) => !r);
            }}
            aria-label={`Rename ${run.name}`}
          >
            Rename
          </button>
          <button type="button" className="btn small ghost" onClick={() => setDuplicating((d) => !d)} aria-label={`Duplicate ${run.name}`}>
            Duplicate…
          </button>
          {confirmDelete ? (
            <button
              type="button"
              className="btn small danger"
              onClick={() => void deleteRun(run.id)}
              onBlur={() => setConfirmDelete(false)}
              autoFocus
            >
              Confirm delete
            </button>
          ) : (
            <button
              type="button"
              className="btn small ghost"
              onClick={() => setConfirmDelete(true)}
              aria-label={`Delete ${run.name}`}
              disabled={live !== null}
            >
              Delete
            </button>
          )}
        </td>
      </tr>
      {duplicating && (
        <tr className="subrow">
          <td colSpan={7}>
            <DuplicateForm run={run} onDone={() => setDuplicating(false)} />
          </td>
        </tr>
      )}
    </>
  );
}

export function RunsPanel() {
  const runs = useStudio((s) => s.runs);
  const compare = useStudio((s) => s.compare);
  const training = useStudio((s) => s.training);
  const storage = useStudio((s) => s.storage);
  const theme = useResolvedTheme(useStudio((s) => s.theme));
  const colors = PALETTE[theme];
  const liveId = training.state === 'running' || training.state === 'paused' || training.state === 'preparing' ? training.runId : null;
  // The live run's curves come from the worker's events; the stored history lags behind its checkpoints.
  // Its step too while it trains; afterwards the record's step is the one its checkpoint holds.
  const withLive = runs.map((r) =>
    r.id === training.runId && training.history.length >= r.history.length
      ? { ...r, history: training.history, step: r.id === liveId ? training.step : r.step }
      : r,
  );
  const compared = compare.map((id) => withLive.find((r) => r.id === id)).filter((r): r is RunRecord => r !== undefined);
  const colorOf = (id: string) => {
    const i = compare.indexOf(id);
    return i < 0 ? null : colors[i % colors.length];
  };
  const series = compared.map((r) => ({ id: r.id, name: r.name, color: colorOf(r.id)! }));

  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Runs</h2>
        <p className="muted">
          Every run is kept in this browser with its settings and metrics. Tick runs to overlay their curves.
          {storage && (
            <>
              {' '}
              Storage: <strong>{formatBytes(storage.usage)}</strong> used of {formatBytes(storage.quota)}.{' '}
              <button type="button" className="link" onClick={() => void refreshStorageUsage()}>
                refresh
              </button>
            </>
          )}
        </p>
      </div>
      {runs.length === 0 ? (
        <p className="empty">No runs yet. Press Train to start one.</p>
      ) : (
        <div className="table-wrap">
          <table className="table runs">
            <thead>
              <tr>
                <th scope="col">
                  <span className="visually-hidden">Compare</span>
                </th>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Settings</th>
                <th scope="col" className="num">
                  Loss
                </th>
                <th scope="col" className="num">
                  Accuracy
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {withLive.map((run) => (
                <RunRow
                  key={run.id}
                  run={run}
                  color={colorOf(run.id)}
                  live={run.id !== liveId ? null : training.state === 'paused' ? 'paused' : 'training'}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {compared.length > 0 && (
        <section aria-labelledby="compare-heading">
          <h2 id="compare-heading" className="section-title">
            Comparing {compared.length} run{compared.length === 1 ? '' : 's'}
          </h2>
          <RunComparison runs={compared} colors={series.map((s) => s.color)} />
          {/* One key for every chart; a chart keeps its own legend only where it draws several metrics. */}
          <ul className="compare-legend" aria-label="Compared runs">
            {series.map((s) => (
              <li key={s.id}>
                <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
                {s.name}
              </li>
            ))}
          </ul>
          <ChartGroups
            charts={CHARTS.map((spec) => {
              const rows = chartRows(compared, spec.keys);
              return { spec, rows, lines: chartLines(series, spec, rows) };
            })}
            theme={theme}
            // The compared runs share one key above; a chart names its own lines where it draws several
            // metrics, or eval points beside the training curves.
            legend={(spec, lines) => spec.keys.length > 1 || lines.some((l) => l.dashed)}
          />
        </section>
      )}
    </div>
  );
}
