import type { ReactNode } from 'react';
import {
  DPO_OPTIONS,
  LORA_OPTIONS,
  optionHint,
  optionLabel,
  trlDefaultText,
  type ConfigOption,
  type DPOConfig,
  type LossType,
  type LrSchedulerType,
} from '../../core/config';
import type { LoraConfig } from '../../core/model/types';
import { evalCount } from '../../core/data/split';
import { planSteps, type PlanInput, type StepPlan } from '../../core/train/plan';
import { DEMO_PRESET } from '../../core/demo/preset';
import { applyDemoPreset, configProblems, isDemoPreset, resetConfig, setParseError, updateConfig } from '../actions';
import { CheckField, NumberField, SelectField } from '../components/Fields';
import { formatBytes, formatInt, formatSetting } from '../format';
import { memoryRefusal, planStudioMemory } from '../memory';
import { useStudio, type StudioConfig } from '../store';

/** One line per loss: what it optimises, in plain words. */
export const LOSS_EXPLANATIONS: Record<LossType, string> = {
  sigmoid: 'DPO: −log σ(β · margin). The standard choice.',
  hinge: 'SLiC hinge: max(0, 1 − β · margin); stops pushing once the margin reaches 1/β.',
  ipo: 'IPO: squared gap between the per-token margin and 1/(2β); resists overfitting certain preferences.',
  exo_pair: 'EXO: matches the policy to the preference distribution (reverse KL); needs label smoothing > 0.',
  nca_pair: 'NCA: scores chosen and rejected answers on their own, not only their difference.',
  robust: 'Robust DPO: unbiased when a fraction ε (label smoothing) of the labels are flipped.',
  bco_pair: 'BCO: a binary classifier that pushes chosen rewards up and rejected rewards down.',
  sppo_hard: 'SPPO (hard labels): moves chosen towards +1/(2β) and rejected towards −1/(2β).',
  aot: 'AOT: aligns the sorted policy margins of the batch with the sorted reference margins.',
  aot_unpaired: 'AOT unpaired: sorts chosen and rejected log-ratios separately, for unpaired data.',
  apo_zero: 'APO-zero: raises chosen and lowers rejected likelihood; when answers beat the model.',
  apo_down: 'APO-down: lowers both, the rejected more; when answers are worse than the model.',
  discopop: 'DiscoPOP: a discovered blend of logistic and exponential losses (τ = 0.05).',
  sigmoid_norm: 'Length-normalised DPO: the sigmoid loss on per-token average log-ratios.',
  sft: 'SFT only: cross-entropy on the chosen answers, no preference signal.',
};

/** How each schedule reads in its menu; the choices are the schema's. */
const SCHEDULE_TEXT: Record<LrSchedulerType, string> = {
  linear: 'linear decay (TRL default)',
  cosine: 'cosine',
  constant: 'constant',
  constant_with_warmup: 'constant after warmup',
};

const TRUNCATION_TEXT: Record<DPOConfig['truncation_mode'], string> = {
  keep_start: 'keep_start (cut the end)',
  keep_end: 'keep_end (cut the start)',
};

/** A select's options: the schema's choices, each with its text. */
function choicesOf<T extends string>(option: ConfigOption, text: Record<T, string>): { value: T; label: string }[] {
  return (option.choices as readonly T[]).map((value) => ({ value, label: text[value] }));
}

/** Label, hint and number kind of a field, from the schema. */
function fieldProps(option: ConfigOption) {
  return {
    label: optionLabel(option),
    hint: optionHint(option),
    integer: option.type === 'int',
    allowEmpty: option.nullable,
    placeholder: option.nullText,
  };
}

function Group({ title, children, note }: { title: string; children: ReactNode; note?: ReactNode }) {
  return (
    <fieldset className="group">
      <legend>{title}</legend>
      {note && <p className="muted small group-note">{note}</p>}
      <div className="grid-fields">{children}</div>
    </fieldset>
  );
}

/** Says when the settings are the demo preset (or just left it), with the way to the other. */
function PresetNote({ onPreset, switchedFrom }: { onPreset: boolean; switchedFrom: string | null }) {
  const p = DEMO_PRESET.dpo;
  if (onPreset) {
    return (
      <div className="info-box preset-note" data-testid="preset-note">
        <span>
          <strong>The demo preset</strong>: settings sized to the demo model on its colour task (learning rate{' '}
          {formatSetting(p.learning_rate)}, {p.max_steps} steps of {p.per_device_train_batch_size} pairs, {p.eval_split} pairs held out for
          eval, LoRA r {DEMO_PRESET.lora.r}). Another model or dataset switches to TRL&apos;s defaults.
        </span>
        <button type="button" className="btn small" onClick={resetConfig}>
          Use TRL&apos;s defaults
        </button>
      </div>
    );
  }
  if (switchedFrom === null) return null;
  return (
    <div className="info-box preset-note" data-testid="preset-note">
      <span>
        Switched from the demo preset to TRL&apos;s defaults when <strong>{switchedFrom}</strong> loaded: the preset is sized to the demo
        model.
      </span>
      <button type="button" className="btn small" onClick={applyDemoPreset}>
        Back to the demo preset
      </button>
    </div>
  );
}

export function ConfigPanel() {
  const state = useStudio();
  const { config, model, dataset, tokenStats, draftRunId, runs, presetSwitch } = state;
  const dpo = config.dpo;
  const lora = config.lora;
  const problems = configProblems(state);
  const draft = draftRunId ? runs.find((r) => r.id === draftRunId) : undefined;

  const setDpo = <K extends keyof DPOConfig>(field: K, value: DPOConfig[K]) =>
    updateConfig((c: StudioConfig) => ({ ...c, dpo: { ...c.dpo, [field]: value } }));
  const setLora = <K extends keyof LoraConfig>(field: K, value: LoraConfig[K]) =>
    updateConfig((c: StudioConfig) => ({ ...c, lora: { ...c.lora, [field]: value } }));

  const num = (field: keyof DPOConfig) => (
    <NumberField
      {...fieldProps(DPO_OPTIONS[field])}
      value={dpo[field] as number | null}
      onChange={(v) => setDpo(field, v as never)}
      onParseError={(e) => setParseError(field, e)}
      error={problems[field]}
    />
  );
  const loraNum = (field: 'lora_r' | 'lora_alpha' | 'lora_dropout', key: 'r' | 'lora_alpha' | 'lora_dropout') => (
    <NumberField
      {...fieldProps(LORA_OPTIONS[field])}
      value={lora[key]}
      onChange={(v) => setLora(key, v ?? 0)}
      onParseError={(e) => setParseError(field, e)}
      error={problems[field]}
    />
  );

  const primaryLoss = dpo.loss_type[0] ?? 'sigmoid';
  const rpoAlpha = dpo.loss_type.includes('sft') && dpo.loss_type.length > 1 ? (dpo.loss_weights?.[dpo.loss_type.indexOf('sft')] ?? 1) : 0;
  const setLoss = (primary: LossType, alpha: number) => {
    const combine = alpha > 0 && primary !== 'sft';
    updateConfig((c) => ({
      ...c,
      dpo: { ...c.dpo, loss_type: combine ? [primary, 'sft'] : [primary], loss_weights: combine ? [1, alpha] : null },
    }));
  };

  const pairs = tokenStats?.pairs ?? dataset?.rows ?? 0;
  const trainPairs = pairs - evalCount(pairs, dpo.eval_split);
  const plan = stepPlan({ ...dpo, examples: Math.max(trainPairs, 0) });
  const targets = model?.linearModuleNames ?? [];
  const chosenTargets =
    lora.target_modules === 'all-linear' ? targets : lora.target_modules.length > 0 ? lora.target_modules : (model?.defaultTargets ?? []);
  const problemCount = Object.keys(problems).length;
  // The memory plan of these settings, once they are valid and a model is loaded.
  const memoryInput = model && problemCount === 0 ? { model, config, engine: state.engine, tokenStats } : null;
  const memoryTotal = memoryInput ? planStudioMemory(memoryInput).total : null;
  const memoryProblem = memoryInput ? memoryRefusal(memoryInput, state.memoryBudget) : null;

  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Configure</h2>
        <p className="muted">
          TRL&apos;s DPOConfig names and defaults, with a learning rate suited to LoRA ({formatSetting(DPO_OPTIONS.learning_rate.default)}{' '}
          instead of TRL&apos;s {trlDefaultText(DPO_OPTIONS.learning_rate)}).
        </p>
      </div>
      {draft && (
        <p className="info-box">
          Editing <strong>{draft.name}</strong>, a copy that has not run yet: change what you want to compare, then press Train.
        </p>
      )}
      <PresetNote onPreset={isDemoPreset(config)} switchedFrom={presetSwitch?.from ?? null} />
      <div className="config-summary" aria-live="polite">
        {dataset ? (
          plan ? (
            <span>
              {formatInt(Math.max(trainPairs, 0))} training pairs → {formatInt(plan.stepsPerEpoch)} steps per epoch →{' '}
              <strong>{formatInt(plan.totalSteps)} steps</strong>
            </span>
          ) : (
            <span>The number of steps shows once the training settings are valid.</span>
          )
        ) : (
          <span>Load a dataset to see the number of steps.</span>
        )}
        {memoryTotal !== null && (
          <span data-testid="config-memory">
            memory plan {formatBytes(memoryTotal)} (budget {formatBytes(state.memoryBudget)}, Model shows the parts)
          </span>
        )}
        {problemCount > 0 ? (
          <span className="bad-text">
            {problemCount} setting{problemCount === 1 ? '' : 's'} to fix before training
          </span>
        ) : memoryProblem ? (
          <span className="bad-text">Not enough memory: {memoryProblem}</span>
        ) : (
          <span className="good-text">Ready to train</span>
        )}
        <button type="button" className="btn small ghost" onClick={resetConfig}>
          Reset to defaults
        </button>
      </div>

      <Group title="Preference loss">
        {num('beta')}
        <SelectField
          label={optionLabel(DPO_OPTIONS.loss_type)}
          value={primaryLoss}
          options={(DPO_OPTIONS.loss_type.choices as readonly LossType[]).map((t) => ({ value: t, label: t }))}
          onChange={(t) => setLoss(t, rpoAlpha)}
          hint={LOSS_EXPLANATIONS[primaryLoss]}
          error={problems.loss_type ?? problems.loss_weights}
        />
        {num('label_smoothing')}
        <NumberField
          label="RPO alpha (SFT weight)"
          value={rpoAlpha}
          onChange={(v) => {
            if ((v ?? 0) < 0) return setParseError('rpo_alpha', 'RPO alpha must be ≥ 0 (0 is off)');
            setLoss(primaryLoss, v ?? 0);
          }}
          onParseError={(e) => setParseError('rpo_alpha', e)}
          error={problems.rpo_alpha}
          hint="Adds α × the SFT loss on chosen answers (RPO); 0 is off"
        />
      </Group>

      <Group title="Optimisation">
        {num('learning_rate')}
        {num('per_device_train_batch_size')}
        {num('gradient_accumulation_steps')}
        {num('max_steps')}
        {num('num_train_epochs')}
        {num('warmup_steps')}
        {num('warmup_ratio')}
        <SelectField
          label={optionLabel(DPO_OPTIONS.lr_scheduler_type)}
          value={dpo.lr_scheduler_type}
          options={choicesOf(DPO_OPTIONS.lr_scheduler_type, SCHEDULE_TEXT)}
          onChange={(v) => setDpo('lr_scheduler_type', v)}
          error={problems.lr_scheduler_type}
        />
        {num('weight_decay')}
        {num('max_grad_norm')}
        {num('seed')}
        <CheckField
          label="gradient checkpointing"
          checked={dpo.gradient_checkpointing}
          onChange={(v) => setDpo('gradient_checkpointing', v)}
          hint={optionHint(DPO_OPTIONS.gradient_checkpointing)}
        />
      </Group>

      <Group title="Sequences">
        {num('max_length')}
        <SelectField
          label={optionLabel(DPO_OPTIONS.truncation_mode)}
          value={dpo.truncation_mode}
          options={choicesOf(DPO_OPTIONS.truncation_mode, TRUNCATION_TEXT)}
          onChange={(v) => setDpo('truncation_mode', v)}
          hint={optionHint(DPO_OPTIONS.truncation_mode)}
          error={problems.truncation_mode}
        />
      </Group>

      <Group
        title="LoRA adapter"
        note={
          model?.startAdapter
            ? `Training continues the loaded adapter ${model.startAdapter.name}; these settings apply to fresh adapters.`
            : undefined
        }
      >
        {loraNum('lora_r', 'r')}
        {loraNum('lora_alpha', 'lora_alpha')}
        {loraNum('lora_dropout', 'lora_dropout')}
        <CheckField label={optionLabel(LORA_OPTIONS.use_rslora)} checked={lora.use_rslora} onChange={(v) => setLora('use_rslora', v)} />
        <div className="field wide">
          <span className="field-label" id="targets-label">
            {optionLabel(LORA_OPTIONS.lora_target_modules)}
          </span>
          <div className="checks" role="group" aria-labelledby="targets-label">
            {targets.length === 0 && <span className="muted small">Load a model to choose its modules.</span>}
            {targets.map((t) => (
              <label key={t} className="check-label">
                <input
                  type="checkbox"
                  checked={chosenTargets.includes(t)}
                  onChange={(e) => {
                    const next = e.target.checked ? [...chosenTargets, t] : chosenTargets.filter((x) => x !== t);
                    setLora('target_modules', next.length === targets.length ? 'all-linear' : next);
                  }}
                />
                <code>{t}</code>
              </label>
            ))}
          </div>
          <p className="field-hint">
            PEFT&apos;s default for this architecture is {model?.defaultTargets.join(', ') ?? '—'}; all of them is &quot;all-linear&quot;.
          </p>
        </div>
      </Group>

      <Group title="Reference and evaluation">
        <SelectField
          label="reference"
          value={dpo.precompute_ref_log_probs ? 'precomputed' : 'adapters-off'}
          options={[
            { value: 'adapters-off', label: 'adapters off, every step' },
            { value: 'precomputed', label: 'precomputed before training' },
          ]}
          onChange={(v) => setDpo('precompute_ref_log_probs', v === 'precomputed')}
          hint={optionHint(DPO_OPTIONS.precompute_ref_log_probs)}
        />
        {num('eval_split')}
        {num('eval_steps')}
        <CheckField
          label="LoRA dropout on"
          checked={!dpo.disable_dropout}
          onChange={(v) => setDpo('disable_dropout', !v)}
          hint="TRL turns dropout off, so chosen and rejected rows compute alike"
        />
      </Group>

      <Group title="Logging and checkpoints">
        {num('logging_steps')}
        <NumberField
          label="checkpoint every"
          integer
          value={config.saveSteps}
          onChange={(v) => updateConfig((c) => ({ ...c, saveSteps: v ?? 0 }))}
          onParseError={(e) => setParseError('save_steps', e)}
          error={problems.save_steps}
          hint="Steps between saves to browser storage (also on pause and stop)"
        />
      </Group>
    </div>
  );
}

/** The run's step plan, or null while a setting it needs is invalid (that field says why). */
function stepPlan(input: PlanInput): StepPlan | null {
  try {
    return planSteps(input);
  } catch {
    return null;
  }
}
