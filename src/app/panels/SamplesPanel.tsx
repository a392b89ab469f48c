import { useEffect, useState } from 'react';
import type { PreviewRow } from '../../worker/protocol';
import { generateSamples, scorePairs, showTokenRatios } from '../actions';
import { engine } from '../engine';
import { BusyLine } from '../components/ProgressBar';
import { formatExact, formatMetric } from '../format';
import { usePolicyLabel, useStudio } from '../store';
import { TokenRatios } from './TokenRatios';

const PROMPT_CHOICES = 12;
const SCORED_PAIRS = 8;

function Scores() {
  const scores = useStudio((s) => s.scores);
  const busy = useStudio((s) => s.scoreBusy);
  const error = useStudio((s) => s.scoreError);
  const ready = useStudio((s) => !!s.model && !!s.dataset);
  const policy = usePolicyLabel(scores?.policy ?? '');
  const tokenFollow = useStudio((s) => s.followTokens);
  return (
    <section className="card" aria-labelledby="scores-heading">
      <div className="card-head">
        <h2 id="scores-heading">Evaluate log-probs</h2>
        <button type="button" className="btn" onClick={() => void scorePairs(SCORED_PAIRS)} disabled={busy || !ready}>
          {busy ? 'Scoring…' : 'Score pairs'}
        </button>
      </div>
      <p className="muted small">
        Summed completion log-probs of the policy (the latest run&apos;s adapter, or a loaded one) and the reference, on the eval split or
        the first {SCORED_PAIRS} pairs.
      </p>
      {error && <p className="error-text">{error}</p>}
      {scores && (
        <>
          <p>
            Policy: <strong data-testid="scored-policy">{policy}</strong> · {scores.split} pairs · loss {formatMetric(scores.metrics.loss)}{' '}
            · accuracy {formatMetric(scores.metrics['rewards/accuracies'])} · margin {formatMetric(scores.metrics['rewards/margins'])}
          </p>
          <table className="table scores" aria-label="Pair log-probs">
            <thead>
              <tr>
                <th scope="col">Line</th>
                <th scope="col">policy chosen</th>
                <th scope="col">policy rejected</th>
                <th scope="col">reference chosen</th>
                <th scope="col">reference rejected</th>
                <th scope="col">loss</th>
                <th scope="col">
                  <span className="visually-hidden">Tokens</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {scores.pairs.map((p) => (
                <tr key={p.line}>
                  <td className="num">{p.line}</td>
                  <td className="num" data-value={p.policyChosen}>
                    {formatExact(p.policyChosen)}
                  </td>
                  <td className="num" data-value={p.policyRejected}>
                    {formatExact(p.policyRejected)}
                  </td>
                  <td className="num">{formatExact(p.referenceChosen)}</td>
                  <td className="num">{formatExact(p.referenceRejected)}</td>
                  <td className="num">{formatExact(p.loss)}</td>
                  <td>
                    <button
                      type="button"
                      className="btn small ghost"
                      onClick={() => void showTokenRatios(p.line, tokenFollow)}
                      aria-label={`Token log-ratios of line ${p.line}`}
                    >
                      Tokens
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/** A generated answer; one that is empty or only whitespace says so rather than showing nothing. */
function SampleText({ text }: { text: string }) {
  if (text.trim() === '') {
    return (
      <p className="sample-text muted">
        {text.length === 0 ? '(nothing: the model stopped at once)' : `(${text.length} whitespace characters)`}
      </p>
    );
  }
  return <p className="sample-text">{text}</p>;
}

function Samples() {
  const dataset = useStudio((s) => s.dataset);
  const model = useStudio((s) => s.model);
  const samples = useStudio((s) => s.samples);
  const busy = useStudio((s) => s.sampleBusy);
  const error = useStudio((s) => s.sampleError);
  const [choices, setChoices] = useState<PreviewRow[]>([]);
  const [picked, setPicked] = useState<number[]>([0, 1]);
  const [free, setFree] = useState('');
  const [maxNew, setMaxNew] = useState('24');
  const [temperature, setTemperature] = useState('0');

  useEffect(() => {
    if (!dataset) return;
    let live = true;
    engine()
      .call('previewRows', { offset: 0, count: PROMPT_CHOICES })
      .then(
        (r) => live && setChoices(r.rows),
        () => undefined,
      );
    return () => {
      live = false;
    };
  }, [dataset]);

  const maxNewOk = Number.isInteger(Number(maxNew)) && Number(maxNew) >= 1 && Number(maxNew) <= 512;
  const temperatureOk = Number(temperature) >= 0;
  const rowIndices = picked.filter((i) => i < choices.length);
  const canRun = !!model && maxNewOk && temperatureOk && (rowIndices.length > 0 || free.trim() !== '') && !busy;

  return (
    <section className="card" aria-labelledby="samples-heading">
      <div className="card-head">
        <h2 id="samples-heading">Samples: policy vs reference</h2>
      </div>
      <div className="sample-setup">
        <div className="prompt-choices" role="group" aria-label="Prompts from the dataset">
          {choices.map((row, i) => (
            <label key={row.line} className="check-label prompt-choice">
              <input
                type="checkbox"
                checked={picked.includes(i)}
                onChange={(e) => setPicked((p) => (e.target.checked ? [...p, i] : p.filter((x) => x !== i)))}
              />
              <span className="clip">{row.prompt}</span>
            </label>
          ))}
          {choices.length === 0 && <span className="muted small">Load a dataset to pick its prompts.</span>}
        </div>
        <div className="sample-options">
          <label className="field">
            <span>Your own prompt</span>
            <textarea value={free} onChange={(e) => setFree(e.target.value)} rows={3} placeholder="Type a prompt…" />
          </label>
          <div className="row-gap">
            <label className="field narrow">
              <span>max new tokens</span>
              <input value={maxNew} onChange={(e) => setMaxNew(e.target.value)} inputMode="numeric" aria-invalid={!maxNewOk || undefined} />
            </label>
            <label className="field narrow">
              <span>temperature</span>
              <input
                value={temperature}
                onChange={(e) => setTemperature(e.target.value)}
                inputMode="decimal"
                aria-invalid={!temperatureOk || undefined}
              />
            </label>
          </div>
          <button
            type="button"
            className="btn primary"
            disabled={!canRun}
            onClick={() => void generateSamples(rowIndices, free.trim() === '' ? null : free, Number(maxNew), Number(temperature))}
          >
            Generate
          </button>
          <p className="muted small">Temperature 0 is greedy. Sampling uses the run&apos;s seed, so policy and reference draw alike.</p>
        </div>
      </div>
      {busy && <BusyLine label={busy.label} fraction={busy.fraction} />}
      {error && <p className="error-text">{error}</p>}
      {samples && (
        <div className="samples">
          {samples.map((s, i) => (
            <article key={i} className="sample">
              <header>
                <span className="muted small">{s.line !== null ? `line ${s.line}` : 'your prompt'}</span>
                <p className="sample-prompt">{s.prompt}</p>
              </header>
              <div className="sample-pair">
                <div>
                  <h3>Policy</h3>
                  <SampleText text={s.policy} />
                </div>
                <div>
                  <h3>Reference</h3>
                  <SampleText text={s.reference} />
                </div>
              </div>
            </article>
          ))}
        </div>
      )}
    </section>
  );
}

export function SamplesPanel() {
  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Evaluate &amp; sample</h2>
        <p className="muted">What the trained adapter changed: log-probs of the pairs, and answers next to the reference&apos;s.</p>
      </div>
      <Scores />
      <TokenRatios />
      <Samples />
    </div>
  );
}
