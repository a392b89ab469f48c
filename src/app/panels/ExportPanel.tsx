import { useState } from 'react';
import { downloadMetrics, exportAdapter, exportMerged, exportTrl } from '../actions';
import { useStudio } from '../store';

export function ExportPanel() {
  const runs = useStudio((s) => s.runs);
  const training = useStudio((s) => s.training);
  const busy = useStudio((s) => s.exportBusy);
  const error = useStudio((s) => s.exportError);
  const model = useStudio((s) => s.model);
  const dataset = useStudio((s) => s.dataset);
  const [runId, setRunId] = useState<string>('');
  const [format, setFormat] = useState<'csv' | 'json'>('csv');
  const chosenId = runId || training.runId || runs[0]?.id || '';
  const chosen = runs.find((r) => r.id === chosenId);
  const history =
    chosen && chosen.id === training.runId && training.history.length >= chosen.history.length ? training.history : (chosen?.history ?? []);
  const hasAdapter = training.runId !== null || !!model?.startAdapter;
  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Export</h2>
        <p className="muted">
          Take the result elsewhere: PEFT and transformers load these files; the TRL script reruns the experiment on GPUs.
        </p>
      </div>
      {busy && <p className="muted">{busy}…</p>}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      <div className="export-grid">
        <section className="card" aria-labelledby="ex-adapter">
          <h2 id="ex-adapter">Adapter (PEFT)</h2>
          <p className="muted small">
            <code>adapter_config.json</code> and <code>adapter_model.safetensors</code> in a zip:{' '}
            <code>PeftModel.from_pretrained(base, folder)</code> loads it, and so does Model → Load PEFT adapter here.
          </p>
          <button type="button" className="btn primary" onClick={() => void exportAdapter()} disabled={busy !== null || !hasAdapter}>
            Export adapter
          </button>
          {!hasAdapter && <p className="muted small">Train a run (or load an adapter in Model) to have one to export.</p>}
        </section>
        <section className="card" aria-labelledby="ex-merged">
          <h2 id="ex-merged">Merged model</h2>
          <p className="muted small">
            The adapter folded into the base weights: <code>config.json</code>, <code>model.safetensors</code> (float32) and the tokenizer
            files. Loads with <code>AutoModelForCausalLM</code>, no PEFT needed.
          </p>
          <button type="button" className="btn" onClick={() => void exportMerged()} disabled={busy !== null || !hasAdapter}>
            Export merged model
          </button>
          {!hasAdapter && <p className="muted small">Needs an adapter too.</p>}
        </section>
        <section className="card" aria-labelledby="ex-metrics">
          <h2 id="ex-metrics">Metrics</h2>
          <p className="muted small">Every logged step with TRL&apos;s metric names; eval metrics with the eval_ prefix.</p>
          <div className="row-gap">
            <select aria-label="Run" value={chosenId} onChange={(e) => setRunId(e.target.value)} disabled={runs.length === 0}>
              {runs.length === 0 && <option value="">no runs yet</option>}
              {runs.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name}
                </option>
              ))}
            </select>
            <select aria-label="Format" value={format} onChange={(e) => setFormat(e.target.value as 'csv' | 'json')}>
              <option value="csv">CSV</option>
              <option value="json">JSON</option>
            </select>
            <button
              type="button"
              className="btn"
              disabled={!chosen || history.length === 0}
              onClick={() => chosen && downloadMetrics({ name: chosen.name, history }, format)}
            >
              Download metrics
            </button>
          </div>
        </section>
        <section className="card" aria-labelledby="ex-trl">
          <h2 id="ex-trl">TRL script</h2>
          <p className="muted small">
            <code>train_dpo.py</code> with a DPOConfig holding these settings, the pairs as <code>train.jsonl</code> (and{' '}
            <code>eval.jsonl</code>) beside it; the demo model comes along. Run it with <code>accelerate launch train_dpo.py</code>.
          </p>
          <button type="button" className="btn" onClick={() => void exportTrl()} disabled={busy !== null || !model || !dataset}>
            Export TRL script
          </button>
        </section>
      </div>
    </div>
  );
}
