import { useId, useState } from 'react';
import { setMemoryBudget } from '../actions/training';
import { formatBytes } from '../format';
import { deviceLimitsOf, memoryRefusal, planStudioMemory } from '../memory';
import { useStudio } from '../store';

const GiB = 2 ** 30;

/**
 * The memory plan of a run with the current settings on this engine, part by part, beside the
 * device's buffer limits and the person's memory budget; Train is refused when it does not fit.
 */
export function MemoryPlanBox() {
  const model = useStudio((s) => s.model);
  const config = useStudio((s) => s.config);
  const engine = useStudio((s) => s.engine);
  const tokenStats = useStudio((s) => s.tokenStats);
  const budget = useStudio((s) => s.memoryBudget);
  const budgetId = useId();
  const [draft, setDraft] = useState<string | null>(null);
  if (!model) return null;
  const input = { model, config, engine, tokenStats };
  const plan = planStudioMemory(input);
  const limits = deviceLimitsOf(engine);
  const refusal = memoryRefusal(input, budget);
  const onGpu = engine?.backend === 'webgpu';
  const rows: [string, number][] = [
    ['weights (float32)', plan.weights],
    ['adapter, gradient, AdamW moments', plan.adapter],
    [plan.peakPass === 'training step' ? 'activations kept for backward' : 'activations of the forward pass', plan.activations],
    [onGpu ? 'LM head (logit blocks)' : 'LM head (logits)', plan.lmHead],
  ];
  const budgetText = draft ?? String(Number((budget / GiB).toPrecision(3)));
  const readBudget = (text: string) => {
    const gib = Number(text);
    if (Number.isFinite(gib) && gib > 0) setMemoryBudget(gib * GiB);
  };
  return (
    <div className="memory" data-testid="memory-plan">
      <h3>
        Estimated {onGpu ? 'GPU memory' : 'memory'} for training: <strong data-testid="memory-estimate">{formatBytes(plan.total)}</strong>
      </h3>
      <p className="muted small">
        {plan.rows / 2} pairs ({plan.rows} rows) of {plan.seq} tokens, gradient checkpointing{' '}
        {config.dpo.gradient_checkpointing ? 'on' : 'off'}; the peak is in the {plan.peakPass}. Change batch size, max length and
        checkpointing in Configure.
      </p>
      <table className="table memory-parts" aria-label="Memory plan">
        <tbody>
          {rows.map(([label, bytes]) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td className="num">{formatBytes(bytes)}</td>
            </tr>
          ))}
          <tr>
            <th scope="row">largest single buffer: {plan.largestBuffer.what}</th>
            <td className="num" data-testid="memory-largest">
              {formatBytes(plan.largestBuffer.bytes)}
              {onGpu && <span className="muted"> of {formatBytes(limits.maxStorageBufferBindingSize)} per binding</span>}
            </td>
          </tr>
        </tbody>
      </table>
      <p className="muted small">
        {onGpu
          ? `This device binds at most ${formatBytes(limits.maxStorageBufferBindingSize)} per buffer (maxStorageBufferBindingSize) and creates buffers of at most ${formatBytes(limits.maxBufferSize)} (maxBufferSize): a tensor over either fails the step.`
          : engine?.backend === 'wasm'
            ? 'WebAssembly has no buffer limits: tensors live in the worker’s WebAssembly memory, at most 4 GiB.'
            : 'The CPU backend has no buffer limits: tensors live in this tab’s memory.'}
      </p>
      <label className="small memory-budget" htmlFor={budgetId}>
        Memory budget (GiB){' '}
        <input
          id={budgetId}
          type="number"
          min="0.1"
          step="0.5"
          inputMode="decimal"
          value={budgetText}
          onChange={(e) => setDraft(e.target.value)}
          onBlur={(e) => {
            readBudget(e.target.value);
            setDraft(null);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') readBudget((e.target as HTMLInputElement).value);
          }}
        />
      </label>
      <p className="muted small">
        An estimate: WebGPU tells a page the per-buffer limits but not how much memory the device has, so Train checks the plan against this
        budget (4 GiB unless you set it). Raise it if your GPU has more to spare; the plan counts what tfjs keeps for the backward pass,
        rows at their longest.
      </p>
      {refusal && (
        <p className="warn-box" role="alert" data-testid="memory-refusal">
          Train is off: {refusal}.
        </p>
      )}
    </div>
  );
}
