import { useMemo, useState } from 'react';
import type { AnswerModel, LabPromptSource } from '../../worker/protocol';
import { downloadMadePairs, loadMadePairs, madePairs, pickAnswer, rankWithChecker, sampleAnswers, useLabSamples } from '../actions';
import type { CheckerReport, SampledAnswers } from '../actions/lab-samples';
import { BusyLine } from '../components/ProgressBar';
import { usePolicyLabel, useStudio } from '../store';
import { AnswerText, displayPrompt, GradeMark } from './BeforeAfterMarks';
import type { SkipReason } from './MakePairsData';

const TASK_NAME = { colors: 'colour task', tone: 'tone task' } as const;

/** A number field's text and whether it reads as a valid value. */
function useNumberField(initial: string, valid: (n: number) => boolean) {
  const [text, setText] = useState(initial);
  const value = Number(text);
  return { text, setText, value, ok: text.trim() !== '' && Number.isFinite(value) && valid(value) };
}

function NumberField({ label, field, hint }: { label: string; field: ReturnType<typeof useNumberField>; hint?: string }) {
  return (
    <label className="field narrow">
      <span>{label}</span>
      <input
        value={field.text}
        onChange={(e) => field.setText(e.target.value)}
        inputMode="decimal"
        aria-invalid={!field.ok || undefined}
        title={hint}
      />
    </label>
  );
}

function Settings() {
  const model = useStudio((s) => s.model);
  const dataset = useStudio((s) => s.dataset);
  const policy = useStudio((s) =>
    s.training.runId !== null ? `the run's adapter` : s.model?.startAdapter ? s.model.startAdapter.name : null,
  );
  const busy = useLabSamples((s) => s.sampleBusy);
  const error = useLabSamples((s) => s.sampleError);
  const trainingNow = useStudio((s) => s.training.state === 'running' || s.training.state === 'preparing');
  const [from, setFrom] = useState<'dataset' | 'typed'>(dataset ? 'dataset' : 'typed');
  const [typed, setTyped] = useState('');
  const [which, setWhich] = useState<AnswerModel>('reference');
  const count = useNumberField('8', (n) => Number.isInteger(n) && n >= 1 && n <= 256);
  const k = useNumberField('4', (n) => Number.isInteger(n) && n >= 2 && n <= 16);
  const temperature = useNumberField('1.0', (n) => n > 0 && n <= 5);
  const seed = useNumberField('0', (n) => Number.isInteger(n) && n >= 0);
  const maxNew = useNumberField('24', (n) => Number.isInteger(n) && n >= 1 && n <= 256);
  const typedPrompts = typed.split('\n').filter((l) => l.trim() !== '');
  const promptsOk = from === 'dataset' ? !!dataset && count.ok : typedPrompts.length > 0;
  const canRun = !!model && !busy && !trainingNow && promptsOk && k.ok && temperature.ok && seed.ok && maxNew.ok;

  const run = () => {
    const prompts: LabPromptSource = from === 'dataset' ? { kind: 'first', count: count.value } : { kind: 'texts', texts: typedPrompts };
    void sampleAnswers({
      prompts,
      model: which,
      answersPerPrompt: k.value,
      temperature: temperature.value,
      seed: seed.value,
      maxNewTokens: maxNew.value,
    });
  };

  return (
    <section className="card" aria-labelledby="mp-heading">
      <div className="card-head">
        <h2 id="mp-heading">Make pairs</h2>
        <button
          type="button"
          className="btn primary"
          onClick={run}
          disabled={!canRun}
          title={trainingNow ? 'Pause or stop the run first' : undefined}
        >
          {busy ? 'Sampling…' : 'Sample answers'}
        </button>
      </div>
      <p className="muted mp-intro">
        The step before DPO: sample several answers to each prompt, pick the best and the worst, and keep them as a preference pair. Pick by
        hand, or let the demo task&apos;s checker rank them.
      </p>
      <div className="mp-settings">
        <fieldset className="mp-box">
          <legend>Prompts</legend>
          <label className="check-label">
            <input type="radio" name="mp-from" checked={from === 'dataset'} onChange={() => setFrom('dataset')} disabled={!dataset} />
            <span>
              The first{' '}
              <input
                className="mp-inline-number"
                value={count.text}
                onChange={(e) => count.setText(e.target.value)}
                onFocus={() => dataset && setFrom('dataset')}
                aria-label="number of dataset prompts"
                aria-invalid={!count.ok || undefined}
                inputMode="numeric"
              />{' '}
              prompts of {dataset ? <strong>{dataset.name}</strong> : 'the dataset'}
            </span>
          </label>
          <label className="check-label">
            <input type="radio" name="mp-from" checked={from === 'typed'} onChange={() => setFrom('typed')} />
            Prompts typed here, one per line
          </label>
          {from === 'typed' && (
            <textarea
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              rows={4}
              aria-label="Typed prompts"
              placeholder={'answer in lowercase. What color is a lemon?\nUSE CAPS. Color of the sea?'}
            />
          )}
        </fieldset>
        <fieldset className="mp-box">
          <legend>Answers from</legend>
          <label className="check-label">
            <input type="radio" name="mp-model" checked={which === 'reference'} onChange={() => setWhich('reference')} />
            <span>
              The reference <span className="muted">(adapter off)</span>
            </span>
          </label>
          <label className="check-label">
            <input type="radio" name="mp-model" checked={which === 'policy'} onChange={() => setWhich('policy')} />
            <span>
              The policy <span className="muted">({policy ?? 'no adapter yet: the same as the reference'})</span>
            </span>
          </label>
        </fieldset>
        <fieldset className="mp-box mp-numbers">
          <legend>Sampling</legend>
          <NumberField label="answers per prompt" field={k} hint="2 to 16" />
          <NumberField label="temperature" field={temperature} hint="above 0; 1 samples the model as it is" />
          <NumberField label="seed" field={seed} />
          <NumberField label="max new tokens" field={maxNew} />
        </fieldset>
      </div>
      {busy && <BusyLine label={busy.label} fraction={busy.fraction} />}
      {error && <p className="error-text">{error}</p>}
    </section>
  );
}

const SKIP_TEXT: Record<SkipReason, string> = {
  'not picked': 'pick a best and a worst answer',
  'best and worst are the same answer': 'best and worst are the same answer',
  'best and worst read the same': 'best and worst read the same: a tie teaches nothing',
};

function PromptCard({ sampled, index, skip }: { sampled: SampledAnswers; index: number; skip: SkipReason | undefined }) {
  const item = sampled.answers.prompts[index];
  const answers = item[sampled.model] ?? [];
  const pick = useLabSamples((s) => s.picks[index]);
  const unpaired = useLabSamples((s) => s.checker?.unpaired.find((x) => x.index === index));
  const prompt = displayPrompt(item.prompt);
  const legendId = `mp-prompt-${index}`;
  return (
    <fieldset className={`mp-prompt${skip ? ' open' : ' paired'}`} aria-labelledby={legendId}>
      <legend id={legendId} className="mp-legend">
        <span className="muted mp-index">{index + 1}</span> {prompt}
      </legend>
      <table className="mp-answers">
        <thead>
          <tr>
            <th scope="col">Answer</th>
            <th scope="col" className="mp-pick-col">
              Best
            </th>
            <th scope="col" className="mp-pick-col">
              Worst
            </th>
          </tr>
        </thead>
        <tbody>
          {answers.map((answer, j) => (
            <tr key={j} className={pick?.best === j ? 'best' : pick?.worst === j ? 'worst' : undefined}>
              <td>
                <div className="mp-answer">
                  <span className="muted mp-index">{j + 1}</span>
                  <AnswerText text={answer} />
                  {sampled.grades && <GradeMark grade={sampled.grades[index][j]} />}
                </div>
              </td>
              <td className="mp-pick-col">
                <input
                  type="radio"
                  name={`mp-best-${index}`}
                  aria-label={`answer ${j + 1} is the best`}
                  checked={pick?.best === j}
                  onChange={() => pickAnswer(index, 'best', j)}
                />
              </td>
              <td className="mp-pick-col">
                <input
                  type="radio"
                  name={`mp-worst-${index}`}
                  aria-label={`answer ${j + 1} is the worst`}
                  checked={pick?.worst === j}
                  onChange={() => pickAnswer(index, 'worst', j)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {unpaired ? (
        <p className="mp-skip small warn-text">No pair from the checker: {unpaired.reason}</p>
      ) : (
        skip && skip !== 'not picked' && <p className="mp-skip small warn-text">{SKIP_TEXT[skip]}</p>
      )}
    </fieldset>
  );
}

function Results({ sampled }: { sampled: SampledAnswers }) {
  const picks = useLabSamples((s) => s.picks);
  const made = useMemo(() => madePairs({ sampled, picks }), [sampled, picks]);
  const skipped = useMemo(() => new Map(made.skipped.map((x) => [x.index, x.reason])), [made]);
  const checker = useLabSamples((s) => s.checker);
  const loadedAs = useLabSamples((s) => s.loadedAs);
  const datasetBusy = useStudio((s) => s.datasetBusy);
  const n = sampled.answers.prompts.length;
  const k = sampled.answers.prompts[0]?.[sampled.model]?.length ?? 0;
  const policy = usePolicyLabel(sampled.answers.policy);
  const from = sampled.model === 'reference' ? 'the reference' : `the policy (${policy})`;
  return (
    <section className="card" aria-labelledby="mp-results-heading">
      <div className="card-head mp-results-head">
        <div>
          <h2 id="mp-results-heading">
            {n} prompts × {k} answers
          </h2>
          <p className="muted small mp-from">from {from}</p>
        </div>
        <div className="row-gap">
          <button
            type="button"
            className="btn"
            onClick={rankWithChecker}
            disabled={!sampled.task}
            title={sampled.task ? undefined : 'Only when every prompt is from the colour or the tone task'}
          >
            Rank with checker
          </button>
          <span className="mp-count" data-testid="made-pairs" data-count={made.pairs.length}>
            <strong>{made.pairs.length}</strong> {made.pairs.length === 1 ? 'pair' : 'pairs'} ready
          </span>
          <button type="button" className="btn" onClick={downloadMadePairs} disabled={made.pairs.length === 0}>
            Download JSONL
          </button>
          <button
            type="button"
            className="btn primary"
            onClick={() => void loadMadePairs()}
            disabled={made.pairs.length === 0 || datasetBusy !== null}
          >
            Use as dataset
          </button>
        </div>
      </div>
      {!sampled.task && <p className="muted small">These prompts are not all from a demo task, so there is no checker: pick by hand.</p>}
      {checker && (
        <p className="info-box mp-checker" role="status">
          The {TASK_NAME[sampled.task!]}&apos;s checker paired {checker.paired} of {n} prompts: a preferred answer is chosen, a near miss
          (else another non-preferred answer) rejected.
          {checker.unpaired.length > 0 && (
            <>
              {' '}
              No pair for {checker.unpaired.length} {checker.unpaired.length === 1 ? 'prompt' : 'prompts'}:{' '}
              {summarize(checker.unpaired.map((u) => u.reason))}.
            </>
          )}
        </p>
      )}
      {loadedAs && (
        <p className="info-box mp-loaded" role="status">
          Loaded as the current dataset: <strong>{loadedAs}</strong>, {made.pairs.length} pairs.{' '}
          <button type="button" className="link" onClick={() => useStudio.setState({ section: 'dataset' })}>
            See it in Dataset
          </button>
        </p>
      )}
      <div className="mp-prompts">
        {sampled.answers.prompts.map((_, i) => (
          <PromptCard key={i} sampled={sampled} index={i} skip={skipped.get(i)} />
        ))}
      </div>
    </section>
  );
}

type Unpaired = CheckerReport['unpaired'][number]['reason'];

const UNPAIRED_TEXT: Record<Unpaired, string> = {
  'no answer is preferred': 'with no preferred answer',
  'every answer is preferred': 'where every answer is preferred',
};

/** "3 with no preferred answer, 1 where every answer is preferred". */
function summarize(reasons: Unpaired[]): string {
  const counts = new Map<Unpaired, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, c]) => `${c} ${UNPAIRED_TEXT[r]}`).join(', ');
}

/** The lab's "Make pairs" tab: sample answers, pick best and worst, save the pairs as a dataset. */
export function MakePairsLab() {
  const sampled = useLabSamples((s) => s.sampled);
  return (
    <div className="lab-make-pairs">
      <Settings />
      {sampled && <Results sampled={sampled} />}
    </div>
  );
}
