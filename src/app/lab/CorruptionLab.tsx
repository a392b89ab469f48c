import { useId, useMemo, useState } from 'react';
import { DEMO_PRESET } from '../../core/demo/preset';
import type { LogEntry } from '../../core/dpo/trainer';
import { downloadFile } from '../download';
import { formatMetric, formatSetting } from '../format';
import { usePolicyLabel, useStudio } from '../store';
import { useResolvedTheme } from '../theme';
import {
  CLEAN_FILE,
  corruptedDatasetName,
  FRACTIONS,
  runCorruptionExercise,
  stopCorruptionExercise,
  updateSettings,
  useCorruption,
  type ExerciseStep,
  type StepStatus,
} from './CorruptionExercise';
import { corruptionReport, plainText, reportNumber, runFigures, type MeasuredPair, type RunFigures } from './lab-report';
import { OverlayChart, type OverlaySeries } from './lab-report-charts';

const STATUS_TEXT: Record<StepStatus, string> = { waiting: 'to do', running: 'running…', done: 'done', reused: 'reused', failed: 'failed' };

function fractionLabel(f: number): string {
  return f === 1 ? 'all pairs (100%)' : f === 0.5 ? 'half the pairs (50%)' : `${Math.round(f * 100)}% of the pairs`;
}

/** A whole number ≥ 1 typed in a small field, or the reason it is not one. */
function SmallIntField({
  label,
  value,
  onChange,
  hint,
  disabled,
}: {
  label: string;
  value: number;
  onChange: (v: number | null) => void;
  hint: string;
  disabled: boolean;
}) {
  const id = useId();
  const [text, setText] = useState(String(value));
  const n = Number(text);
  const ok = text.trim() !== '' && Number.isInteger(n) && n >= 1;
  return (
    <div className="field cx-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="text"
        inputMode="numeric"
        value={text}
        disabled={disabled}
        aria-invalid={!ok || undefined}
        aria-describedby={`${id}-hint`}
        onChange={(e) => {
          setText(e.target.value);
          const v = Number(e.target.value);
          onChange(e.target.value.trim() !== '' && Number.isInteger(v) && v >= 1 ? v : null);
        }}
      />
      <span id={`${id}-hint`} className={ok ? 'field-hint' : 'field-error'}>
        {ok ? hint : 'a whole number ≥ 1'}
      </span>
    </div>
  );
}

function Steps({ fraction }: { fraction: number }) {
  const steps = useCorruption((s) => s.steps);
  const { steps: n, batchSize } = useCorruption((s) => s.settings);
  const items: { id: ExerciseStep; title: string; about: string }[] = [
    {
      id: 'clean',
      title: 'Train a clean run',
      about: `${CLEAN_FILE}, ${n} steps of ${batchSize} pairs. Reused when the settings have not changed.`,
    },
    {
      id: 'corrupt',
      title: 'Corrupt the pairs',
      about: `rejected := chosen on ${fractionLabel(fraction)}, loaded as the dataset “${corruptedDatasetName(fraction)}”.`,
    },
    { id: 'corrupted', title: 'Train again', about: 'the same model, settings and seed on the corrupted pairs.' },
    { id: 'measure', title: 'Measure each pair', about: 'the loss’s slope and the gradient it sends to the adapter, pair by pair.' },
  ];
  return (
    <ol className="cx-steps" aria-label="Exercise steps">
      {items.map((it, i) => (
        <li key={it.id} className={`cx-step st-${steps[it.id]}`} data-status={steps[it.id]}>
          <span className="cx-step-num" aria-hidden="true">
            {steps[it.id] === 'done' || steps[it.id] === 'reused' ? '✓' : i + 1}
          </span>
          <span className="cx-step-text">
            <strong>{it.title}</strong> <span className="muted">{it.about}</span>
          </span>
          <span className="cx-step-status">{STATUS_TEXT[steps[it.id]]}</span>
        </li>
      ))}
    </ol>
  );
}

function Setup() {
  const { settings, running } = useCorruption();
  const [invalid, setInvalid] = useState<Record<string, boolean>>({});
  const p = DEMO_PRESET.dpo;
  const number = (field: 'steps' | 'batchSize') => (v: number | null) => {
    setInvalid((s) => ({ ...s, [field]: v === null }));
    if (v !== null) updateSettings({ [field]: v });
  };
  return (
    <section className="card cx-setup" aria-labelledby="cx-setup-title">
      <h3 id="cx-setup-title">Setup</h3>
      <div className="cx-controls">
        <div className="field cx-field">
          <label htmlFor="cx-fraction">Corrupted pairs</label>
          <select
            id="cx-fraction"
            value={settings.fraction}
            disabled={running}
            aria-describedby="cx-fraction-hint"
            onChange={(e) => updateSettings({ fraction: Number(e.target.value) })}
          >
            {FRACTIONS.map((f) => (
              <option key={f} value={f}>
                {fractionLabel(f)}
              </option>
            ))}
          </select>
          <span id="cx-fraction-hint" className="field-hint">
            rejected := chosen, seed {p.seed}
          </span>
        </div>
        <SmallIntField label="Steps" value={settings.steps} hint="per run" onChange={number('steps')} disabled={running} />
        <SmallIntField
          label="Batch size"
          value={settings.batchSize}
          hint="pairs per step"
          onChange={number('batchSize')}
          disabled={running}
        />
        <div className="cx-actions">
          <button
            type="button"
            className="btn primary"
            disabled={running || Object.values(invalid).some(Boolean)}
            onClick={() => void runCorruptionExercise()}
          >
            Run the exercise
          </button>
          {running && (
            <button type="button" className="btn danger" onClick={stopCorruptionExercise}>
              Stop
            </button>
          )}
        </div>
      </div>
      <p className="muted small cx-preset">
        Demo model · demo preset for both runs: <code>{p.loss_type.join('+')}</code> · β {p.beta} · lr {formatSetting(p.learning_rate)} ·
        LoRA r {DEMO_PRESET.lora.r} · seed {p.seed}. The runs are stored with the others in Runs.
      </p>
      <Steps fraction={settings.fraction} />
    </section>
  );
}

/** A measured figure next to what the theory says: checked when the theory makes an exact claim. */
function Check({ ok, label, children }: { ok?: boolean; label: string; children: React.ReactNode }) {
  const mark = ok === undefined ? '•' : ok ? '✓' : '!';
  return (
    <li className={`cx-check ${ok === undefined ? 'note' : ok ? 'ok' : 'off'}`}>
      <span
        className="cx-check-mark"
        aria-label={ok === undefined ? undefined : ok ? 'as expected' : 'not as expected'}
        aria-hidden={ok === undefined || undefined}
      >
        {mark}
      </span>
      <span>
        <strong>{label}</strong> {children}
      </span>
    </li>
  );
}

function FullyCorrupted({ c }: { c: RunFigures }) {
  return (
    <>
      <ul className="cx-checks">
        <Check ok={c.maxLossGap <= 1e-4} label="Loss pinned at ln 2 ≈ 0.693.">
          Largest gap over {c.steps} steps: <span data-testid="loss-gap">{formatMetric(c.maxLossGap)}</span>.
        </Check>
        <Check ok={c.maxAbsMargin === 0} label="Margins 0.">
          Chosen and rejected get the same reward.
        </Check>
        <Check ok={c.meanAccuracy === 0} label="Accuracy 0, not 0.5.">
          Ties count as wrong: TRL needs chosen &gt; rejected.
        </Check>
        <Check ok={c.gradNormMax <= 1e-6} label="grad_norm ≈ 0.">
          Largest <span data-testid="grad-max">{formatMetric(c.gradNormMax)}</span>
          {c.gradNormMax > 0 && ': float32 rounding, not signal'}.
        </Check>
      </ul>
      <p className="cx-why">
        <strong>Why.</strong> log π(chosen) = log π(rejected), so the loss is −log σ(0) = ln 2 whatever the weights. The slope there is β/2,
        far from flat; but the gradient is slope × (∇log π(chosen) − ∇log π(rejected)) = slope × 0.
      </p>
      {c.gradNormMax > 0 && (
        <p className="muted small cx-footnote">
          AdamW divides each step by the gradient&apos;s running size, so even rounding noise nudges the adapter a little, in no useful
          direction.
        </p>
      )}
    </>
  );
}

function PartlyCorrupted({ c, clean, fraction }: { c: RunFigures; clean: RunFigures | null; fraction: number }) {
  const share = 1 - fraction;
  return (
    <>
      <ul className="cx-checks">
        <Check label="The loss leaves ln 2.">
          {formatMetric(c.finalLoss)} after {c.steps} steps{clean && <> (clean run: {formatMetric(clean.finalLoss)})</>}: the clean pairs
          still move it.
        </Check>
        <Check label="Accuracy is capped by the clean share.">
          Mean {formatMetric(c.meanAccuracy)}. Corrupted pairs always tie, and ties count as wrong, so a batch scores at most its share of
          clean pairs: {formatMetric(share)} on average.
        </Check>
        <Check label="The step is diluted.">
          Mean grad_norm {formatMetric(c.gradNormMean)}
          {clean && <> (clean run: {formatMetric(clean.gradNormMean)})</>}: corrupted pairs add no gradient but still count in the batch
          mean.
        </Check>
      </ul>
      <p className="cx-why">
        <strong>Why.</strong> The batch gradient is (1/B)·Σ∇ℓᵢ. Corrupted pairs add exactly 0 to the sum but stay in B, so the gradient
        shrinks to about the clean share: under plain SGD, a learning rate {formatMetric(share)}× as large. AdamW rescales by the
        gradient&apos;s running size, which hides much of a steady shrink; what is left is fewer useful pairs per step.
      </p>
    </>
  );
}

function Explanation({
  clean,
  corrupted,
  fraction,
  done,
}: {
  clean: RunFigures | null;
  corrupted: RunFigures | null;
  fraction: number;
  done: boolean;
}) {
  if (!corrupted || !done) {
    return (
      <aside className="cx-explain" aria-label="What the runs show">
        <h4>Predict first</h4>
        <p>
          With rejected = chosen, what will the loss do? The margins? The accuracy: 0.5 or 0? And the gradient: large, because the model
          cannot tell the answers apart, or small?
        </p>
        <p className="muted small">
          The clean run is the baseline: its loss starts at ln 2 ≈ 0.693 (policy = reference at step 1) and falls as the margins grow.
        </p>
      </aside>
    );
  }
  return (
    <aside className="cx-explain" aria-label="What the runs show">
      <h4>What the corrupted run shows</h4>
      {fraction === 1 ? <FullyCorrupted c={corrupted} /> : <PartlyCorrupted c={corrupted} clean={clean} fraction={fraction} />}
    </aside>
  );
}

function Bar({ value, max, tone }: { value: number; max: number; tone: string }) {
  const pct = max > 0 ? Math.max(0, Math.min(100, (100 * value) / max)) : 0;
  return (
    <span className={`cx-bar ${tone}`} aria-hidden="true">
      <span style={{ width: `${pct}%` }} />
    </span>
  );
}

/** A pair and, when it is the clean original of the next row, how many rows its prompt spans. */
function rowSpans(pairs: MeasuredPair[]): number[] {
  return pairs.map((p, i) => {
    if (p.originalOf !== null && pairs[i + 1]?.row.line === p.originalOf) return 2;
    if (i > 0 && pairs[i - 1].originalOf === p.row.line) return 0;
    return 1;
  });
}

function PairTable({ pairs, policy, beta }: { pairs: MeasuredPair[]; policy: string; beta: number }) {
  const maxSlope = Math.max(...pairs.map((p) => Math.abs(p.measured.slope)), beta / 2);
  const maxGrad = Math.max(...pairs.map((p) => p.measured.gradNorm));
  const spans = rowSpans(pairs);
  const named = usePolicyLabel(policy);
  const twins = spans.includes(2);
  return (
    <section className="cx-pairs" aria-labelledby="cx-pairs-title">
      <h3 id="cx-pairs-title" className="section-title">
        Per pair: how steep the loss is, and how much gradient it sends
      </h3>
      <p className="muted cx-pairs-about">
        Under {named}. <strong>Δ</strong> is how much more than the reference the policy prefers the chosen answer (log-ratio difference).
        The <strong>slope</strong> |∂loss/∂Δ| is how hard the loss pulls: for sigmoid β·σ(−βΔ): β/2 = {reportNumber(beta / 2)} at Δ = 0,
        smaller once the policy prefers the chosen answer, up to β while it prefers the rejected one. <strong>‖∇θ loss‖</strong> is the size
        of the pair&apos;s gradient over every LoRA parameter: what the optimizer actually gets.
        {twins && ' Each prompt appears twice: its clean pair and its corrupted copy.'}
      </p>
      <div className="table-wrap">
        <table className="table cx-table" aria-label="Per-pair slope and gradient">
          <thead>
            <tr>
              <th scope="col" className="num">
                Line
              </th>
              <th scope="col">Prompt</th>
              <th scope="col">Chosen</th>
              <th scope="col">Rejected</th>
              <th scope="col">Pair</th>
              <th scope="col" className="num sym">
                Δ
              </th>
              <th scope="col" className="num">
                Loss
              </th>
              <th scope="col" className="sym">
                slope |∂loss/∂Δ|
              </th>
              <th scope="col" className="sym">
                ‖∇θ loss‖
              </th>
            </tr>
          </thead>
          <tbody>
            {pairs.map((p, i) => {
              const m = p.measured;
              const kind = m.identical ? 'corrupted' : 'clean';
              return (
                <tr key={i} className={`k-${kind}${spans[i] === 2 ? ' twin-first' : ''}`} data-kind={kind}>
                  {spans[i] > 0 && (
                    <>
                      <td className="num muted" rowSpan={spans[i]}>
                        {p.row.line}
                      </td>
                      <td className="cx-text" rowSpan={spans[i]}>
                        {plainText(p.row.prompt)}
                      </td>
                      <td className="cx-text mono" rowSpan={spans[i]}>
                        {plainText(p.row.chosen)}
                      </td>
                    </>
                  )}
                  <td className="cx-text mono">{plainText(p.row.rejected)}</td>
                  <td>
                    <span className={`cx-kind ${kind}`}>{kind}</span>
                  </td>
                  <td className="num" data-field="delta" data-value={m.logRatioDiff}>
                    {formatMetric(m.logRatioDiff)}
                  </td>
                  <td className="num" data-field="loss" data-value={m.loss}>
                    {formatMetric(m.loss)}
                  </td>
                  <td data-field="slope" data-value={Math.abs(m.slope)}>
                    <span className="cx-measure">
                      <Bar value={Math.abs(m.slope)} max={maxSlope} tone="slope" />
                      {formatMetric(Math.abs(m.slope))}
                    </span>
                  </td>
                  <td data-field="grad" data-value={m.gradNorm}>
                    <span className="cx-measure">
                      <Bar value={m.gradNorm} max={maxGrad} tone={m.gradNorm === 0 ? 'zero' : 'grad'} />
                      {m.gradNorm === 0 ? <strong>0</strong> : formatMetric(m.gradNorm)}
                    </span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p className="cx-lesson">
        <strong>Same slope, different gradient.</strong> The loss pulls on a corrupted pair as hard as on a clean one, but the pull acts
        through ∇log π(chosen) − ∇log π(rejected), and for a corrupted pair those are the same vector: the pull cancels inside the pair and
        nothing reaches the weights.
      </p>
    </section>
  );
}

function StepNumbers({ series }: { series: OverlaySeries[] }) {
  const keys = ['loss', 'rewards/margins', 'rewards/accuracies', 'grad_norm'];
  return (
    <details className="cx-numbers">
      <summary>The numbers behind the charts</summary>
      <div className="table-wrap">
        <table className="table" aria-label="Logged steps">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col" className="num">
                Step
              </th>
              {keys.map((k) => (
                <th key={k} scope="col" className="num">
                  {k}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {series.flatMap((s) =>
              s.history
                .filter((e) => typeof e.loss === 'number')
                .map((e) => (
                  <tr key={`${s.id}-${e.step}`} data-run={s.id}>
                    <td>{s.name}</td>
                    <td className="num">{e.step}</td>
                    {keys.map((k) => (
                      <td key={k} className="num" data-key={k} data-value={e[k]}>
                        {reportNumber(e[k])}
                      </td>
                    ))}
                  </tr>
                )),
            )}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function downloadReport(): void {
  const ex = useCorruption.getState();
  const model = useStudio.getState().model;
  const clean = ex.clean && runFigures(ex.clean.history);
  const corrupted = ex.corrupted && runFigures(ex.corrupted.history);
  if (!ex.clean || !ex.corrupted || !clean || !corrupted) return;
  const c = ex.corrupted.config;
  const text = corruptionReport({
    date: new Date(),
    model: model
      ? `${model.name} (${model.modelType}, ${model.layers} layers, hidden ${model.hiddenSize}, vocabulary ${model.vocabSize})`
      : 'the demo model',
    cleanDataset: CLEAN_FILE,
    corruptedDataset: ex.corrupted.datasetName,
    corruptedCount: ex.corrupted.corruptedCount,
    totalPairs: ex.corrupted.totalPairs,
    fraction: ex.corrupted.fraction,
    corruptionSeed: c.seed,
    config: c,
    lora: DEMO_PRESET.lora,
    clean,
    corrupted,
    table: ex.table,
  });
  downloadFile('dpo-corruption-report.md', text, 'text/markdown');
}

/** The lab's "Corruption exercise" tab: what DPO does when rejected = chosen, measured and explained. */
export function CorruptionLab() {
  const ex = useCorruption();
  const liveRunId = useStudio((s) => s.training.runId);
  const liveHistory = useStudio((s) => s.training.history);
  const theme = useResolvedTheme(useStudio((s) => s.theme));
  const live = ex.live && liveRunId === ex.live.runId ? liveHistory : null;
  const fraction = ex.corrupted?.fraction ?? ex.settings.fraction;
  const cleanHistory: LogEntry[] | null = ex.clean?.history ?? (ex.live?.role === 'clean' ? live : null);
  const corruptedHistory: LogEntry[] | null = ex.corrupted?.history ?? (ex.live?.role === 'corrupted' ? live : null);
  const series = useMemo(() => {
    const out: OverlaySeries[] = [];
    if (cleanHistory) out.push({ id: 'clean', name: 'clean', history: cleanHistory });
    if (corruptedHistory) out.push({ id: 'corrupted', name: `corrupted (${Math.round(fraction * 100)}%)`, history: corruptedHistory });
    return out;
  }, [cleanHistory, corruptedHistory, fraction]);
  const cleanFigures = cleanHistory ? runFigures(cleanHistory) : null;
  const corruptedFigures = corruptedHistory ? runFigures(corruptedHistory) : null;
  const done = ex.corrupted !== null;
  const beta = ex.corrupted?.config.beta ?? DEMO_PRESET.dpo.beta;

  return (
    <div className="cx">
      <h2 className="visually-hidden">Corruption exercise</h2>
      <p className="cx-intro">
        Train DPO on the colour task and watch the loss; then make each rejected answer a copy of its chosen answer, train again with the
        same seed, and see what the loss and the gradients do. Everything runs here, on the demo model.
      </p>
      <Setup />
      {ex.error && (
        <p className="error-text" role="alert">
          {ex.error}
        </p>
      )}
      {series.length > 0 && (
        <section aria-labelledby="cx-runs-title">
          <h3 id="cx-runs-title" className="section-title">
            Clean vs corrupted, step by step
          </h3>
          <div className="cx-results">
            <div className="cx-charts">
              <OverlayChart title="loss" value="loss" series={series} theme={theme} />
              <OverlayChart title="rewards/margins" value="rewards/margins" series={series} theme={theme} />
              <OverlayChart title="rewards/accuracies" value="rewards/accuracies" series={series} theme={theme} domain={[0, 1]} />
              <OverlayChart title="grad_norm" value="grad_norm" series={series} theme={theme} />
            </div>
            <Explanation clean={cleanFigures} corrupted={corruptedFigures} fraction={fraction} done={done} />
          </div>
          <StepNumbers series={series} />
        </section>
      )}
      {ex.table && <PairTable pairs={ex.table.pairs} policy={ex.table.policy} beta={beta} />}
      {done && ex.clean && cleanFigures && corruptedFigures && (
        <section className="card cx-report" aria-labelledby="cx-report-title">
          <div className="cx-report-text">
            <h3 id="cx-report-title">Hand it in</h3>
            <p className="muted small">
              A short markdown report: the setup, the figures of both runs, the per-pair table and what they imply about gradient magnitudes
              when the preference is ambiguous.
            </p>
          </div>
          <button type="button" className="btn primary" onClick={downloadReport}>
            Download report
          </button>
        </section>
      )}
    </div>
  );
}
