import { describe, expect, it } from 'vitest';
import { DEFAULT_DPO_CONFIG, DEFAULT_LORA_CONFIG, DPO_OPTIONS, inVersionRange, optionList } from '../../../src/core/config';
import { trlScript } from '../../../src/core/export/trl-script';

const script = (config = DEFAULT_DPO_CONFIG) => trlScript({ config, lora: DEFAULT_LORA_CONFIG, modelId: 'm', datasetFile: 'pairs.jsonl' });

/** The DPOConfig(...) call's argument names. */
const dpoConfigArgs = (text: string) =>
  text
    .slice(text.indexOf('training_args = DPOConfig('))
    .split('\n)\n')[0]
    .split('\n')
    .map((line) => /^ {4}(\w+)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);

describe('the TRL script writes what the schema says', () => {
  it('passes every option TRL 1.9 has to DPOConfig, except the warmup and eval settings written apart', () => {
    const expected = optionList(DPO_OPTIONS)
      .filter((o) => o.trl !== false && inVersionRange(o.trl, '1.9'))
      .map((o) => o.name)
      .filter((n) => !['warmup_ratio', 'warmup_steps', 'eval_steps'].includes(n));
    const written = dpoConfigArgs(script());
    expect(written.filter((n) => !['output_dir', 'optim', 'bf16', 'report_to'].includes(n))).toEqual(expected);
  });

  it('keeps the options TRL removed out of DPOConfig(...) and in the legacy block, each explained', () => {
    const text = script({ ...DEFAULT_DPO_CONFIG, reference_free: true, max_prompt_length: 32 });
    const legacy = optionList(DPO_OPTIONS).filter((o) => o.trl !== false && o.trl.until !== undefined);
    expect(legacy.length).toBeGreaterThan(0);
    for (const o of legacy) {
      expect(dpoConfigArgs(text)).not.toContain(o.name);
      expect(text).toContain(`#   ${o.name}: `);
      expect(text).toContain(`    "${o.name}": `);
      expect(text).toContain(`${o.name}=`);
      expect(text).toContain(`TRL ${o.trl && o.trl.until} still has them`);
    }
  });

  it('leaves out the studio’s own options', () => {
    expect(script()).not.toContain('eval_split');
  });
});
