import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../../src/app/run-comparison';
import { DEFAULT_DPO_CONFIG } from '../../../src/core/dpo/config';

const lora = { r: 8, lora_alpha: 16, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false };

function run(overrides: { beta?: number; loss_type?: ('sigmoid' | 'ipo')[] }, history: Record<string, number>[]) {
  return {
    config: { ...DEFAULT_DPO_CONFIG, ...overrides },
    lora,
    model: { kind: 'demo' as const, id: 'demo', name: 'Demo model' },
    dataset: { name: 'tone.jsonl', fingerprint: 'f', pairs: 10 },
    saveSteps: 10,
    history: history.map((h, i) => ({ step: i + 1, epoch: 0, ...h })),
  };
}

describe('compareRuns', () => {
  const a = run({ beta: 0.1 }, [
    { loss: 0.69, 'rewards/accuracies': 0.5 },
    { loss: 0.41, 'rewards/accuracies': 1 },
    { loss: 0.45, 'rewards/accuracies': 0.75 },
  ]);
  const b = run({ beta: 0.5, loss_type: ['ipo'] }, [
    { loss: 0.7, 'rewards/accuracies': 0.25 },
    { loss: 0.3, 'rewards/accuracies': 0.75, eval_loss: 0.5 },
  ]);

  it("gives each run's final and best value, and marks the leader by the metric's direction", () => {
    const { metrics } = compareRuns([a, b]);
    const loss = metrics.find((m) => m.key === 'loss')!;
    expect(loss.cells).toEqual([
      { final: 0.45, best: { value: 0.41, step: 2 } },
      { final: 0.3, best: { value: 0.3, step: 2 } },
    ]);
    expect(loss.leaders).toEqual([1]);
    const accuracy = metrics.find((m) => m.key === 'rewards/accuracies')!;
    expect(accuracy.cells[0].best).toEqual({ value: 1, step: 2 });
    // Both ended at 0.75: both lead.
    expect(accuracy.leaders).toEqual([0, 1]);
    // A metric only one run logged is listed, with nothing for the other; one nobody logged is not.
    expect(metrics.find((m) => m.key === 'eval_loss')!.cells.map((c) => c.final)).toEqual([null, 0.5]);
    expect(metrics.some((m) => m.key === 'entropy')).toBe(false);
  });

  it('lists the settings that differ, and counts the rest', () => {
    const { differing, same } = compareRuns([a, b]);
    expect(differing).toEqual([
      { name: 'beta', values: ['0.1', '0.5'] },
      { name: 'loss_type', values: ['sigmoid', 'ipo'] },
    ]);
    expect(same).toBeGreaterThan(30);
  });

  it('one run: no leaders and no differences', () => {
    const { metrics, differing } = compareRuns([a]);
    expect(metrics.every((m) => m.leaders.length === 0)).toBe(true);
    expect(differing).toEqual([]);
  });
});
