import type { ReactNode } from 'react';
import { DEFAULT_DPO_CONFIG, LOSS_TYPES, type DPOConfig, type LossType, type LrSchedulerType } from '../../core/dpo/config';
import type { LoraConfig } from '../../core/model/types';
import { configProblems, resetConfig, setParseError, updateConfig } from '../actions';
import { CheckField, NumberField, SelectField } from '../components/Fields';
import { formatInt, formatSetting } from '../format';
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

const SCHEDULES: { value: LrSchedulerType; label: string }[] = [
  { value: 'linear', label: 'linear decay (TRL default)' },
  { value: 'cosine', label: 'cosine' },
  { value: 'constant', label: 'constant' },
  { value: 'constant_with_warmup', label: 'constant after warmup' },
];

function Group({ title, children, note }: { title: string; children: ReactNode; note?: ReactNode }) {
  return (
    <fieldset className="group">
      <legend>{title}</legend>
      {note && <p className="muted small group-note">{note}</p>}
      <div className="grid-fields">{children}</div>
    </fieldset>
  );
}

export function ConfigPanel() {
  const state = useStudio();
  const { config, model, dataset, tokenStats, draftRunId, runs } = state;
  const dpo = config.dpo;
  const lora = config.lora;
  const problems = configProblems(state);
  const draft = draftRunId ? runs.find((r) => r.id === draftRunId) : undefined;

  const setDpo = <K extends keyof DPOConfig>(field: K, value: DPOConfig[K]) =>
    updateConfig((c: StudioConfig) => ({ ...c, dpo: { ...c.dpo, [field]: value } }));
  const setLora = <K extends keyof LoraConfig>(field: K, value: LoraConfig[K]) =>
    updateConfig((c: StudioConfig) => ({ ...c, lora: { ...c.lora, [field]: value } }));

  const num = (
    field: keyof DPOConfig,
    label: string,
    options: { hint?: ReactNode; integer?: boolean; allowEmpty?: boolean; placeholder?: string } = {},
  ) => (
    <NumberField
      label={label}
      value={dpo[field] as number | null}
      onChange={(v) => setDpo(field, v as never)}
      onParseError={(e) => setParseError(field, e)}
      error={problems[field]}
      {...options}
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
  const trainPairs =
    dpo.eval_split > 0 ? pairs - (dpo.eval_split < 1 ? Math.round(dpo.eval_split * pairs) : Math.floor(dpo.eval_split)) : pairs;
  const perEpoch = Math.max(
    1,
    Math.ceil(
      Math.ceil(Math.max(trainPairs, 0) / Math.max(1, dpo.per_device_train_batch_size)) / Math.max(1, dpo.gradient_accumulation_steps),
    ),
  );
  const totalSteps = dpo.max_steps > 0 ? dpo.max_steps : Math.ceil(perEpoch * dpo.num_train_epochs);
  const targets = model?.linearModuleNames ?? [];
  const chosenTargets =
    lora.target_modules === 'all-linear' ? targets : lora.target_modules.length > 0 ? lora.target_modules : (model?.defaultTargets ?? []);
  const problemCount = Object.keys(problems).length;

  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Configure</h2>
        <p className="muted">
          TRL&apos;s DPOConfig names and defaults, with a learning rate suited to LoRA ({formatSetting(DEFAULT_DPO_CONFIG.learning_rate)}{' '}
          instead of TRL&apos;s 1e-6).
        </p>
      </div>
      {draft && (
        <p className="info-box">
          Editing <strong>{draft.name}</strong>, a copy that has not run yet: change what you want to compare, then press Train.
        </p>
      )}
      <div className="config-summary" aria-live="polite">
        {dataset ? (
          <span>
            {formatInt(Math.max(trainPairs, 0))} training pairs → {formatInt(perEpoch)} steps per epoch →{' '}
            <strong>{formatInt(totalSteps)} steps</strong>
          </span>
        ) : (
          <span>Load a dataset to see the number of steps.</span>
        )}
        {problemCount > 0 ? (
          <span className="bad-text">
            {problemCount} setting{problemCount === 1 ? '' : 's'} to fix before training
          </span>
        ) : (
          <span className="good-text">Ready to train</span>
        )}
        <button type="button" className="btn small ghost" onClick={resetConfig}>
          Reset to defaults
        </button>
      </div>

      <Group title="Preference loss">
        {num('beta', 'beta', { hint: 'How far the policy may move from the reference (τ for IPO). TRL: 0.1' })}
        <SelectField
          label="loss type"
          value={primaryLoss}
          options={LOSS_TYPES.map((t) => ({ value: t, label: t }))}
          onChange={(t) => setLoss(t, rpoAlpha)}
          hint={LOSS_EXPLANATIONS[primaryLoss]}
          error={problems.loss_type ?? problems.loss_weights}
        />
        {num('label_smoothing', 'label smoothing', { hint: 'ε: conservative DPO on sigmoid; used by robust, exo_pair and aot' })}
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
        {num('learning_rate', 'learning rate', { hint: 'Peak AdamW rate. LoRA: 1e-5 to 1e-4' })}
        {num('per_device_train_batch_size', 'batch size', { integer: true, hint: 'Pairs per micro-batch. TRL: 8' })}
        {num('gradient_accumulation_steps', 'gradient accumulation', { integer: true, hint: 'Micro-batches per optimizer step' })}
        {num('max_steps', 'max steps', { integer: true, hint: 'Optimizer steps; −1 uses epochs' })}
        {num('num_train_epochs', 'epochs', { hint: 'Passes over the pairs when max steps is −1. TRL: 3' })}
        {num('warmup_steps', 'warmup steps', { integer: true, hint: 'Linear warmup; 0 uses the warmup ratio' })}
        {num('warmup_ratio', 'warmup ratio', { hint: 'Fraction of all steps' })}
        <SelectField label="schedule" value={dpo.lr_scheduler_type} options={SCHEDULES} onChange={(v) => setDpo('lr_scheduler_type', v)} />
        {num('weight_decay', 'weight decay', { hint: 'AdamW decoupled decay. TRL: 0' })}
        {num('max_grad_norm', 'max grad norm', { hint: 'Clip the gradient norm; 0 is off. TRL: 1' })}
        {num('seed', 'seed', { integer: true, hint: 'Shuffling, LoRA initialisation, dropout' })}
      </Group>

      <Group title="Sequences">
        {num('max_length', 'max length', {
          integer: true,
          allowEmpty: true,
          placeholder: 'none',
          hint: 'Tokens per prompt + completion. TRL: 1024',
        })}
        <SelectField
          label="truncation mode"
          value={dpo.truncation_mode}
          options={[
            { value: 'keep_start', label: 'keep_start (cut the end)' },
            { value: 'keep_end', label: 'keep_end (cut the start)' },
          ]}
          onChange={(v) => setDpo('truncation_mode', v)}
          hint="keep_start drops pairs whose prompt alone reaches max length, as TRL does"
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
        <NumberField
          label="LoRA r"
          integer
          value={lora.r}
          onChange={(v) => setLora('r', v ?? 0)}
          onParseError={(e) => setParseError('lora_r', e)}
          error={problems.lora_r}
          hint="Rank of the update"
        />
        <NumberField
          label="LoRA alpha"
          value={lora.lora_alpha}
          onChange={(v) => setLora('lora_alpha', v ?? 0)}
          onParseError={(e) => setParseError('lora_alpha', e)}
          error={problems.lora_alpha}
          hint="Scaling α / r"
        />
        <NumberField
          label="LoRA dropout"
          value={lora.lora_dropout}
          onChange={(v) => setLora('lora_dropout', v ?? 0)}
          onParseError={(e) => setParseError('lora_dropout', e)}
          error={problems.lora_dropout}
          hint="Only with dropout on (below)"
        />
        <CheckField label="rank-stabilised LoRA (α / √r)" checked={lora.use_rslora} onChange={(v) => setLora('use_rslora', v)} />
        <div className="field wide">
          <span className="field-label" id="targets-label">
            LoRA target modules
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
          hint="Same numbers; precomputing saves a forward pass per step"
        />
        {num('eval_split', 'eval split', { hint: 'Held-out fraction (< 1) or count of pairs; 0 is none' })}
        {num('eval_steps', 'eval steps', {
          integer: true,
          allowEmpty: true,
          placeholder: 'end only',
          hint: 'Evaluate every N steps (and at the end)',
        })}
        <CheckField
          label="LoRA dropout on"
          checked={!dpo.disable_dropout}
          onChange={(v) => setDpo('disable_dropout', !v)}
          hint="TRL turns dropout off, so chosen and rejected rows compute alike"
        />
      </Group>

      <Group title="Logging and checkpoints">
        {num('logging_steps', 'logging steps', { integer: true, hint: 'Chart a point every N steps (averaged). TRL: 10' })}
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
