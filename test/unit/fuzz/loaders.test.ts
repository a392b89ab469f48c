import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePreferenceFile } from '../../../src/core/data/read';
import { dropInvalidUtf8Rows, findInvalidUtf8 } from '../../../src/core/data/utf8';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { loadAdapter, saveAdapter } from '../../../src/core/model/peft';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import { listModelTensors, parseSafetensors, serializeSafetensors } from '../../../src/core/model/safetensors';
import { memorySource } from '../../../src/core/model/sources';
import type { CausalLM, HostTensor } from '../../../src/core/model/types';
import { Rng } from '../../../src/core/random';

/**
 * Random mutations of valid files fed to the data reader and the safetensors, config.json and PEFT
 * loaders: each must read the file or refuse it with an Error that says why. A TypeError, RangeError
 * or ReferenceError (our code tripping over what it was given), a non-Error throw, a crash or a
 * hang (the test's time limit) is a defect. Seeded, so a failure names the case to replay.
 */
const CASES = 400;
const encoder = new TextEncoder();

/** What a reader may do with a bad file: read it, or refuse it with a message. */
async function expectGraceful(run: () => unknown, what: string): Promise<void> {
  try {
    await run();
  } catch (e) {
    expect(e, what).toBeInstanceOf(Error);
    expect(e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError, `${what}: ${(e as Error).stack}`).toBe(false);
    expect((e as Error).message.length, what).toBeGreaterThan(0);
  }
}

const INTERESTING = [
  '',
  '-1',
  '0',
  '1e309',
  'NaN',
  'null',
  'true',
  '[]',
  '{}',
  '"x"',
  '9007199254740993',
  '[[[[',
  '"\\ud800"',
  '1.5',
  '-0',
];

/** A byte-level mutation: flips, truncation, insertion, duplication or a splice of an interesting token. */
function mutateBytes(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = [...bytes];
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(Math.max(1, out.length));
    switch (rng.int(6)) {
      case 0:
        out[at] = rng.int(256);
        break;
      case 1:
        out.length = at;
        break;
      case 2:
        out.splice(at, 0, ...Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)));
        break;
      case 3:
        out.splice(at, 1 + rng.int(16));
        break;
      case 4:
        out.splice(at, 0, ...out.slice(rng.int(Math.max(1, out.length)), at));
        break;
      default:
        out.splice(at, rng.int(4), ...encoder.encode(INTERESTING[rng.int(INTERESTING.length)]));
    }
  }
  return new Uint8Array(out);
}

/** A structural mutation of a JSON value: a field replaced by an interesting value, removed, or added. */
function mutateJson(value: unknown, rng: Rng): unknown {
  if (value === null || typeof value !== 'object')
    return JSON.parse(INTERESTING[1 + rng.int(INTERESTING.length - 1)].replace('[[[[', '[[]]'));
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || rng.next() < 0.1) return mutateJson(null, rng);
  const key = keys[rng.int(keys.length)];
  const target = copy as Record<string, unknown>;
  const r = rng.next();
  if (r < 0.2) delete target[key];
  else if (r < 0.6) target[key] = mutateJson(target[key], rng);
  else target[key] = mutateJson(null, rng);
  return copy;
}

/** A mutated file: bytes mangled, or (for JSON) its structure. */
function mutant(text: string, rng: Rng): Uint8Array {
  if (rng.next() < 0.5) {
    try {
      return encoder.encode(JSON.stringify(mutateJson(JSON.parse(text), rng)));
    } catch {
      // not JSON: mangle bytes
    }
  }
  return mutateBytes(encoder.encode(text), rng);
}

const DIMS = {
  vocab_size: 40,
  hidden_size: 8,
  intermediate_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
};
let model: CausalLM;
let configText: string;
let weights: Uint8Array;
let adapterFiles: Map<string, Uint8Array | string>;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const { configJson, tensors } = randomCheckpoint('LlamaForCausalLM', DIMS, 3);
  configText = JSON.stringify(configJson);
  weights = serializeSafetensors(tensors);
  const host = new Map<string, HostTensor>([...tensors].map(([name, t]) => [name, { dtype: 'F32', shape: t.shape, data: t.data }]));
  model = createCausalLM(parseModelConfig(configJson, 'random'), host, 'random');
  const adapter = createLoraAdapter(
    model,
    { r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
    4,
  );
  adapterFiles = await saveAdapter(adapter, 'random');
  disposeAdapter(adapter);
});

describe('fuzzing the readers of files a person brings', () => {
  it(`the data reader never throws and never loses a row it reports valid (${CASES} mutants)`, () => {
    const rng = new Rng(101);
    const rows = [
      { prompt: 'a', chosen: 'b', rejected: 'c' },
      {
        prompt: [{ role: 'user', content: 'q' }],
        chosen: [{ role: 'assistant', content: 'x' }],
        rejected: [{ role: 'assistant', content: 'y' }],
      },
      { chosen: 'Human: hi Assistant: yes', rejected: 'Human: hi Assistant: no' },
    ];
    const texts = [rows.map((r) => JSON.stringify(r)).join('\n') + '\n', JSON.stringify(rows, null, 1)];
    for (let n = 0; n < CASES; n++) {
      const bytes = mutant(texts[n % 2], rng);
      const parsed = dropInvalidUtf8Rows(parsePreferenceFile(new TextDecoder().decode(bytes), `mutant-${n}`), findInvalidUtf8(bytes));
      // Every row is a row of the file or reported: valid rows and issues never both vanish.
      expect(parsed.rows.length + parsed.issues.length, `mutant ${n}`).toBeGreaterThan(0);
      for (const issue of parsed.issues) expect(issue.line, `mutant ${n}`).toBeGreaterThanOrEqual(1);
    }
  });

  it(`safetensors: parsing and header reading refuse bad files with a message (${CASES} mutants)`, async () => {
    const rng = new Rng(102);
    for (let n = 0; n < CASES; n++) {
      // Half of the mutations go to the header, where the structure is.
      const headerEnd = 8 + Number(new DataView(weights.buffer, weights.byteOffset).getBigUint64(0, true));
      const bytes =
        rng.next() < 0.5
          ? mutateBytes(weights, rng)
          : new Uint8Array(
              [...weights.subarray(0, headerEnd), ...weights.subarray(headerEnd)].map((b, i) =>
                i < headerEnd && rng.next() < 0.01 ? rng.int(256) : b,
              ),
            );
      await expectGraceful(() => parseSafetensors(bytes, `mutant-${n}`), `safetensors mutant ${n}`);
      await expectGraceful(
        () => listModelTensors(memorySource(new Map([['model.safetensors', bytes]]), `mutant-${n}`)),
        `header mutant ${n}`,
      );
    }
  });

  it(`config.json: refused with a message or read (${CASES} mutants)`, async () => {
    const rng = new Rng(103);
    for (let n = 0; n < CASES; n++) {
      const bytes = mutant(configText, rng);
      await expectGraceful(
        () => parseModelConfig(JSON.parse(new TextDecoder().decode(bytes)) as unknown, `mutant-${n}`),
        `config mutant ${n}`,
      );
    }
  });

  it(`PEFT adapters: refused with a message or loaded (${CASES} mutants)`, async () => {
    const rng = new Rng(104);
    const config = adapterFiles.get('adapter_config.json') as string;
    const tensors = adapterFiles.get('adapter_model.safetensors') as Uint8Array;
    for (let n = 0; n < CASES; n++) {
      const files = new Map<string, Uint8Array | string>(
        rng.next() < 0.5
          ? [
              ['adapter_config.json', new TextDecoder().decode(mutant(config, rng))],
              ['adapter_model.safetensors', tensors],
            ]
          : [
              ['adapter_config.json', config],
              ['adapter_model.safetensors', mutateBytes(tensors, rng)],
            ],
      );
      await expectGraceful(async () => disposeAdapter(await loadAdapter(memorySource(files, `mutant-${n}`), model)), `adapter mutant ${n}`);
    }
  });
});
