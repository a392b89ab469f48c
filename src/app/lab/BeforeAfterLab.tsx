import { useState } from 'react';
import type { AnswerGrade, PreferredRate } from '../../core/demo/answer-grading';
import { DEMO_PRESET } from '../../core/demo/preset';
import { answerBeforeAfter, prepareDemoExperiment, useLabSamples } from '../actions';
import { DATASET_PROMPTS, HELDOUT_COLOR_PROMPTS, type BeforeAfterPrompts, type BeforeAfterResult } from '../actions/lab-samples';
import { message } from '../actions/session';
import { BusyLine } from '../components/ProgressBar';
import { usePolicyLabel, useStudio } from '../store';
import { AnswerText, displayPrompt, GradeMark } from './BeforeAfterMarks';

const percent = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 100)}%`);

const CHECKER_ABOUT = {
  colors: 'by the colour task’s checker: the right colour, in the letter case the prompt asks for',
  tone: 'by the tone task’s checker: a polite reply',
} as const;

/** Shares of each kind of answer, as one bar. */
function KindBar({ grades, who }: { grades: AnswerGrade[]; who: string }) {
  const counts = new Map<string, { n: number; tone: string }>();
  for (const g of grades) {
    const tone = g.preferred ? 'good' : g.kind === 'other-case' || g.kind === 'curt' ? 'near' : 'miss';
    const c = counts.get(g.kind) ?? { n: 0, tone };
    c.n++;
    counts.set(g.kind, c);
  }
  const order = ['good', 'near', 'miss'];
  const parts = [...counts.entries()].sort((a, b) => order.indexOf(a[1].tone) - order.indexOf(b[1].tone));
  return (
    <div className="kind-bar-wrap">
      <div className="kind-bar" role="img" aria-label={`${who}: ${parts.map(([k, c]) => `${c.n} ${k}`).join(', ')}`}>
        {parts.map(([kind, c]) => (
          <span key={kind} className={`kind-seg g-${c.tone}`} style={{ width: `${(100 * c.n) / grades.length}%` }} />
        ))}
      </div>
      <span className="kind-legend small muted">{parts.map(([kind, c]) => `${c.n} ${kind.replace('-', ' ')}`).join(' · ')}</span>
    </div>
  );
}

function RateCard({
  who,
  detail,
  rate,
  grades,
  testId,
}: {
  who: string;
  detail: string;
  rate: PreferredRate;
  grades: AnswerGrade[];
  testId: string;
}) {
  const named = usePolicyLabel(detail);
  return (
    <div className="ba-rate">
      <span className="ba-who">
        {who} <span className="muted">· {named}</span>
      </span>
      <strong className="ba-percent" data-testid={testId} data-preferred={rate.preferred} data-total={rate.total}>
        {percent(rate.rate)}
      </strong>
      <span className="muted small">
        {rate.preferred} of {rate.total} answers preferred
      </span>
      <KindBar grades={grades} who={who} />
    </div>
  );
}

function Headline({ result }: { result: BeforeAfterResult }) {
  const { rates, grades, task } = result;
  if (!rates || !grades || !task) {
    return (
      <p className="info-box">
        These prompts are not all from a demo task, so there is no checker to grade them: read the answers side by side.
      </p>
    );
  }
  const delta =
    rates.policy.rate !== null && rates.reference.rate !== null
      ? Math.round(rates.policy.rate * 100) - Math.round(rates.reference.rate * 100)
      : null;
  return (
    <section className="ba-headline" aria-labelledby="ba-rate-heading">
      <h3 id="ba-rate-heading" className="ba-title">
        Preferred answers: {percent(rates.reference.rate)} → {percent(rates.policy.rate)}
        {delta !== null && (
          <span className={`ba-delta ${delta > 0 ? 'up' : delta < 0 ? 'down' : ''}`}>
            {delta > 0 ? '+' : delta < 0 ? '−' : '±'}
            {Math.abs(delta)} points
          </span>
        )}
      </h3>
      <p className="muted small ba-about">{CHECKER_ABOUT[task]}</p>
      <div className="ba-rates">
        <RateCard
          who="Reference"
          detail="adapter off"
          rate={rates.reference}
          grades={grades.map((g) => g.reference)}
          testId="rate-reference"
        />
        <span className="ba-arrow" aria-hidden="true">
          →
        </span>
        <RateCard
          who="Policy"
          detail={result.answers.policy}
          rate={rates.policy}
          grades={grades.map((g) => g.policy)}
          testId="rate-policy"
        />
      </div>
    </section>
  );
}

function AnswersTable({ result }: { result: BeforeAfterResult }) {
  const [onlyChanged, setOnlyChanged] = useState(false);
  const rows = result.answers.prompts.map((p, i) => ({ p, i, changed: p.reference![0] !== p.policy![0] }));
  const changed = rows.filter((r) => r.changed).length;
  const shown = onlyChanged ? rows.filter((r) => r.changed) : rows;
  return (
    <>
      <div className="card-head ba-table-head">
        <h3>
          {result.source} · answered in {result.seconds.toFixed(1)} s
        </h3>
        <label className="check-label small">
          <input type="checkbox" checked={onlyChanged} onChange={(e) => setOnlyChanged(e.target.checked)} disabled={changed === 0} />
          Only the {changed} prompts whose answers differ
        </label>
      </div>
      <div className="table-wrap ba-table-wrap">
        <table className="table ba-table" aria-label="Answers before and after">
          <thead>
            <tr>
              <th scope="col" className="num">
                #
              </th>
              <th scope="col">Prompt</th>
              <th scope="col">Reference (before)</th>
              <th scope="col">Policy (after)</th>
            </tr>
          </thead>
          <tbody>
            {shown.map(({ p, i, changed }) => (
              <tr key={i} className={changed ? 'changed' : undefined}>
                <td className="num muted">{i + 1}</td>
                <td className="ba-prompt">{displayPrompt(p.prompt)}</td>
                <td data-side="reference">
                  <div className="ba-answer">
                    <AnswerText text={p.reference![0]} />
                    {result.grades && <GradeMark grade={result.grades[i].reference} />}
                  </div>
                </td>
                <td data-side="policy">
                  <div className="ba-answer">
                    <AnswerText text={p.policy![0]} />
                    {result.grades && <GradeMark grade={result.grades[i].policy} />}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** The lab's "Before / after" tab: held-out prompts answered by the reference and the policy, side by side. */
export function BeforeAfterLab() {
  const model = useStudio((s) => s.model);
  const dataset = useStudio((s) => s.dataset);
  const training = useStudio((s) => s.training);
  const { beforeAfter: result, beforeAfterBusy: busy, beforeAfterError: error } = useLabSamples();
  const [from, setFrom] = useState<BeforeAfterPrompts>(() =>
    dataset === null || dataset.name.startsWith('colors') ? 'heldout' : 'dataset',
  );
  const [preparing, setPreparing] = useState(false);
  const [prepared, setPrepared] = useState<string | null>(null);
  const trainingNow = training.state === 'running' || training.state === 'preparing';
  const noPolicy = training.runId === null && !model?.startAdapter;

  const applyDemo = async () => {
    setPreparing(true);
    setPrepared(null);
    try {
      await prepareDemoExperiment();
      setFrom('heldout');
      setPrepared(
        `Demo model, colors-train.jsonl and the demo preset are ready: press Train (${useStudio.getState().config.dpo.max_steps} steps), then answer again.`,
      );
    } catch (e) {
      setPrepared(`Could not prepare the demo experiment: ${message(e)}`);
    } finally {
      setPreparing(false);
    }
  };

  return (
    <div className="lab-before-after">
      <section className="card" aria-labelledby="ba-heading">
        <div className="card-head">
          <h2 id="ba-heading">Before / after</h2>
          <div className="row-gap">
            <button type="button" className="btn" onClick={() => void applyDemo()} disabled={preparing || trainingNow}>
              {preparing ? 'Preparing…' : 'Use demo preset'}
            </button>
            <button
              type="button"
              className="btn primary"
              onClick={() => void answerBeforeAfter(from)}
              disabled={!model || busy !== null || trainingNow || (from === 'dataset' && !dataset)}
              title={trainingNow ? 'Pause or stop the run first' : undefined}
            >
              {busy ? 'Answering…' : 'Answer prompts'}
            </button>
          </div>
        </div>
        <p className="muted ba-intro">
          The same prompts answered greedily by the <strong>reference</strong> (the model with its adapter off) and by the{' '}
          <strong>policy</strong> (the latest run&apos;s adapter, or a loaded one). On a demo task the checker marks every answer, and the
          share of preferred answers shows what DPO changed.
        </p>
        <div className="row-gap ba-source" role="radiogroup" aria-label="Prompts">
          <label className="check-label">
            <input type="radio" name="ba-prompts" checked={from === 'heldout'} onChange={() => setFrom('heldout')} />
            {HELDOUT_COLOR_PROMPTS.length} held-out colour prompts <span className="muted">(colors-heldout.jsonl)</span>
          </label>
          <label className="check-label">
            <input type="radio" name="ba-prompts" checked={from === 'dataset'} onChange={() => setFrom('dataset')} disabled={!dataset} />
            The dataset&apos;s eval split <span className="muted">(or its first {DATASET_PROMPTS} prompts)</span>
          </label>
        </div>
        {prepared && <p className="info-box ba-note">{prepared}</p>}
        {noPolicy && !prepared && (
          <p className="muted small ba-note">
            No run yet: the policy is the base model, so both columns will match. Train a run first (the demo preset trains{' '}
            {DEMO_PRESET.dpo.max_steps} steps).
          </p>
        )}
        {busy && <BusyLine label={busy.label} fraction={busy.fraction} />}
        {error && <p className="error-text">{error}</p>}
      </section>
      {result && (
        <section className="card" aria-label="Before and after results">
          <Headline result={result} />
          <AnswersTable result={result} />
        </section>
      )}
    </div>
  );
}
