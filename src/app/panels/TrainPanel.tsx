import { useEffect, useMemo, useState } from 'react';
import type { DPOConfig } from '../../core/dpo/config';
import type { GpuFailureInfo } from '../../worker/protocol';
import { ChartGroups } from '../components/ChartGroups';
import { formatBytes, formatDuration, formatMetric } from '../format';
import { CHARTS, chartLines, chartRows, lastLogged, PALETTE } from '../metrics';
import { canResume, continueWithChanges } from '../actions';
import { changeOptions, type SettingsChange } from '../continue-settings';
import { useStudio } from '../store';
import { useResolvedTheme } from '../theme';

const HEADLINE = ['loss', 'rewards/accuracies', 'rewards/margins', 'rewards/chosen', 'rewards/rejected', 'grad_norm'];

/** The worker's measured memory beside the plan's estimate for this run. */
function MeasuredMemory({ memory, plannedBytes }: { memory: { peakBytes: number; gpuBytes: number | null }; plannedBytes: number | null }) {
  return (
    <p className="muted small" data-testid="memory-measured">
      Memory: measured peak {formatBytes(memory.peakBytes)} of tensors
      {plannedBytes !== null && ` (planned ${formatBytes(plannedBytes)})`}
      {memory.gpuBytes !== null && ` · WebGPU buffer pool ${formatBytes(memory.gpuBytes)} (freed buffers are kept for reuse)`}
    </p>
  );
}

const FAILURE_KIND: Record<GpuFailureInfo['kind'], string> = {
  'out-of-memory': 'the GPU ran out of memory',
  validation: 'the GPU rejected a command',
  'device-lost': 'the GPU device was lost',
  stalled: 'the GPU stopped making progress',
};

/**
 * The time spent in the step under way, ticking every second, beside the usual step time: a slow
 * step keeps counting, a stuck one ends with a failure when its watchdog runs out.
 */
function StepClock({ step, startedAt, secondsPerStep }: { step: number; startedAt: number; secondsPerStep: number | null }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return (
    <p className="muted step-clock" data-testid="step-elapsed">
      Step {step}: {formatDuration((now - startedAt) / 1000)} so far
      {secondsPerStep !== null
        ? ` · a step has taken about ${formatDuration(secondsPerStep)}`
        : ' · the first step also compiles the GPU programs and takes longest'}
    </p>
  );
}

/** What failed on the GPU, in the device's words, and what to change. */
function GpuFailureBox({ failure, message }: { failure: GpuFailureInfo; message: string | null }) {
  return (
    <div className="error-text gpu-failure" role="alert" data-testid="gpu-failure">
      <strong>
        {failure.operation.charAt(0).toUpperCase() + failure.operation.slice(1)} failed: {FAILURE_KIND[failure.kind]}.
      </strong>
      {'\n'}The device said: {failure.deviceMessage || '(nothing)'}
      {'\n'}What to change: {failure.suggestion}
      {message && message !== failure.message ? `\n${message.slice(failure.message.length).trim()}` : ''}
    </div>
  );
}

/**
 * After a GPU failure: continue from the checkpoint with settings that need less memory. The picks
 * that keep the run the same experiment are ticked; a shorter max_length is offered, unticked.
 */
function ContinueWithChanges({ config }: { config: DPOConfig }) {
  const options = changeOptions(config);
  const [picked, setPicked] = useState<SettingsChange[]>(() => options.filter((o) => o.sameRun).map((o) => o.id));
  if (options.length === 0) return null;
  const toggle = (id: SettingsChange, on: boolean) => setPicked((p) => (on ? [...p, id] : p.filter((x) => x !== id)));
  return (
    <fieldset className="continue-changes" data-testid="continue-changes">
      <legend>Continue from the checkpoint with less memory</legend>
      {options.map((o) => (
        <label key={o.id} className="check-label">
          <input type="checkbox" checked={picked.includes(o.id)} onChange={(e) => toggle(o.id, e.target.checked)} />
          <span>
            {o.label} <span className="muted small">— {o.detail}</span>
          </span>
        </label>
      ))}
      <button type="button" className="btn primary" disabled={picked.length === 0} onClick={() => void continueWithChanges(picked)}>
        Continue with these settings
      </button>
    </fieldset>
  );
}

/** The run in progress (or the one opened from Runs): its numbers now and every metric over steps. */
export function TrainPanel() {
  const training = useStudio((s) => s.training);
  const runs = useStudio((s) => s.runs);
  const theme = useResolvedTheme(useStudio((s) => s.theme));
  const error = useStudio((s) => s.trainError);
  const run = runs.find((r) => r.id === training.runId);
  const history = training.history;
  // Rows only change with a new log entry, not with each progress report.
  const charts = useMemo(() => {
    const colors = PALETTE[theme];
    const series = [{ id: 'run', name: 'train', color: [colors[0], colors[1]] }];
    return CHARTS.map((spec) => {
      const rows = chartRows([{ id: 'run', history }], spec.keys);
      return { spec, rows, lines: chartLines(series, spec, rows) };
    });
  }, [history, theme]);
  const resumable = useStudio((s) => canResume(s));
  const hasEval = training.history.some((e) => Object.keys(e).some((k) => k.startsWith('eval_')));
  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Train</h2>
        <p className="muted">
          {run ? (
            <>
              <strong>{run.name}</strong> · {run.dataset.name} · {run.model.name} · batch {run.config.per_device_train_batch_size}
              {run.config.gradient_accumulation_steps > 1 && ` × ${run.config.gradient_accumulation_steps} accumulated`} · max_length{' '}
              {run.config.max_length ?? 'none'}
              {run.config.gradient_checkpointing && ' · gradient checkpointing'} · checkpoint every {run.saveSteps}
              {run.continuedWith?.map((note) => (
                <span key={note} className="continued" data-testid="continued-with">
                  <br />
                  Continued {note}
                </span>
              ))}
            </>
          ) : training.runId ? (
            'Starting…'
          ) : (
            'Press Train above: the charts fill in at every logging step. Solid lines are training metrics, dashed lines evaluation.'
          )}
        </p>
      </div>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {training.state === 'failed' && training.failure && <GpuFailureBox failure={training.failure} message={training.message} />}
      {training.state === 'failed' && training.failure && run && resumable && (
        <ContinueWithChanges key={run.id + training.step} config={run.config} />
      )}
      {training.state === 'failed' && training.message && !error && !training.failure && <p className="error-text">{training.message}</p>}
      {training.state === 'running' && training.current && (
        <StepClock step={training.current.step} startedAt={training.current.startedAt} secondsPerStep={training.secondsPerStep} />
      )}
      {training.memory && <MeasuredMemory memory={training.memory} plannedBytes={training.plannedBytes} />}
      <dl className="stats headline" aria-label="Latest metrics">
        {HEADLINE.map((k) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{formatMetric(lastLogged(training.history, k))}</dd>
          </div>
        ))}
        {hasEval && (
          <div>
            <dt>eval loss</dt>
            <dd>{formatMetric(lastLogged(training.history, 'eval_loss'))}</dd>
          </div>
        )}
      </dl>
      <ChartGroups charts={charts} theme={theme} />
    </div>
  );
}
