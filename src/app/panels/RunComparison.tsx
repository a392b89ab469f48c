import { formatExact, formatMetric } from '../format';
import { compareRuns } from '../run-comparison';
import type { RunRecord } from '../../storage';

/**
 * The compared runs side by side in numbers: each metric's final value (the leading run's in bold)
 * and its best value with the step it came at, then the settings in which the runs differ.
 */
export function RunComparison({ runs, colors }: { runs: RunRecord[]; colors: string[] }) {
  const { metrics, differing, same } = compareRuns(runs);
  const runHeads = runs.map((r, i) => (
    <th scope="col" key={r.id} className="num">
      <span className="swatch" style={{ background: colors[i] }} aria-hidden="true" />
      {r.name}
    </th>
  ));
  return (
    <div className="run-comparison">
      <div className="table-wrap" role="region" aria-label="Final and best metrics" tabIndex={0}>
        <table className="table compare-table" aria-label="Final and best metrics of the compared runs">
          <thead>
            <tr>
              <th scope="col">Metric</th>
              {runHeads}
            </tr>
          </thead>
          <tbody>
            {metrics.map((m) => (
              <tr key={m.key} data-metric={m.key}>
                <th scope="row">
                  <code>{m.key}</code>
                  {m.better && <span className="muted small block">{m.better} is better</span>}
                </th>
                {m.cells.map((c, i) => {
                  const leads = m.leaders.includes(i);
                  return (
                    <td
                      key={runs[i].id}
                      className={`num${leads ? ' leader' : ''}`}
                      data-final={c.final ?? ''}
                      data-leader={leads || undefined}
                    >
                      {c.final === null ? (
                        <span className="muted">—</span>
                      ) : (
                        <span title={formatExact(c.final)}>
                          {leads ? <strong>{formatMetric(c.final)}</strong> : formatMetric(c.final)}
                          {leads && <span className="visually-hidden"> (best of the runs)</span>}
                        </span>
                      )}
                      {c.best && c.best.value !== c.final && (
                        <span className="muted small block">
                          best {formatMetric(c.best.value)} at step {c.best.step}
                        </span>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {runs.length > 1 && (
        <div className="table-wrap" role="region" aria-label="Settings that differ" tabIndex={0}>
          <table className="table compare-table" aria-label="Settings that differ between the compared runs">
            <thead>
              <tr>
                <th scope="col">Setting</th>
                {runHeads}
              </tr>
            </thead>
            <tbody>
              {differing.map((s) => (
                <tr key={s.name} data-setting={s.name}>
                  <th scope="row">
                    <code>{s.name}</code>
                  </th>
                  {s.values.map((v, i) => (
                    <td key={runs[i].id} className="num differs">
                      {v}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted small compare-same">
            {differing.length === 0 ? 'The runs share every setting' : `The other ${same} settings are the same in every run`}
            {differing.length === 0 ? ` (${same}).` : '.'}
          </p>
        </div>
      )}
    </div>
  );
}
