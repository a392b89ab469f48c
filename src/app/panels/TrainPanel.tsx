import { useMemo } from 'react';
import type { LogEntry } from '../../core/dpo/trainer';
import { MetricChart } from '../components/MetricChart';
import { formatMetric } from '../format';
import { CHARTS, chartLines, chartRows, PALETTE } from '../metrics';
import { useStudio } from '../store';
import { useResolvedTheme } from '../theme';

const HEADLINE = ['loss', 'rewards/accuracies', 'rewards/margins', 'rewards/chosen', 'rewards/rejected', 'grad_norm'];

function latest(history: LogEntry[], key: string): number | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (typeof history[i][key] === 'number') return history[i][key];
  return undefined;
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
  const hasEval = training.history.some((e) => Object.keys(e).some((k) => k.startsWith('eval_')));
  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Train</h2>
        <p className="muted">
          {run ? (
            <>
              <strong>{run.name}</strong> · {run.dataset.name} · {run.model.name} · batch {run.config.per_device_train_batch_size} ·
              max_length {run.config.max_length ?? 'none'} · checkpoint every {run.saveSteps}
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
      {training.state === 'failed' && training.message && !error && <p className="error-text">{training.message}</p>}
      <dl className="stats headline" aria-label="Latest metrics">
        {HEADLINE.map((k) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{formatMetric(latest(training.history, k))}</dd>
          </div>
        ))}
        {hasEval && (
          <div>
            <dt>eval loss</dt>
            <dd>{formatMetric(latest(training.history, 'eval_loss'))}</dd>
          </div>
        )}
      </dl>
      <div className="charts">
        {charts.map(({ spec, rows, lines }) => (
          <MetricChart key={spec.title} title={spec.title} rows={rows} lines={lines} domain={spec.domain} theme={theme} />
        ))}
      </div>
    </div>
  );
}
