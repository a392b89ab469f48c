import { describe, it, expect } from 'vitest';
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  loadModelTensors,
  parseSafetensors,
  serializeSafetensors,
} from '../../../src/core/model/safetensors';
import { memorySource } from '../../../src/core/model/sources';
import type { FileSource } from '../../../src/core/model/types';
import { Rng } from '../../../src/core/random';

const encoder = new TextEncoder();

/** A safetensors file put together by hand: 8-byte LE header length, header text as given (no padding), data. */
function handMadeFile(headerText: string, data: Uint8Array): Uint8Array {
  const header = encoder.encode(headerText);
  const file = new Uint8Array(8 + header.length + data.length);
  const view = new DataView(file.buffer);
  view.setUint32(0, header.length, true);
  view.setUint32(4, 0, true);
  file.set(header, 8);
  file.set(data, 8 + header.length);
  return file;
}

function headerOf(file: Uint8Array): { length: number; text: string } {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  expect(view.getUint32(4, true)).toBe(0);
  const length = view.getUint32(0, true);
  return { length, text: new TextDecoder().decode(file.subarray(8, 8 + length)) };
}

function bitsOf(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// Reference decoders written from the format definitions, apart from the code under test.
function halfValueFromDefinition(bits: number): number {
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  if (e === 31) return m !== 0 ? NaN : bits & 0x8000 ? -Infinity : Infinity;
  const magnitude = e === 0 ? m * Math.pow(2, -24) : (1 + m / 1024) * Math.pow(2, e - 15);
  return bits & 0x8000 ? -magnitude : magnitude;
}
function bfloatValueFromDefinition(bits: number): number {
  const e = (bits >> 7) & 255;
  const m = bits & 127;
  if (e === 255) return m !== 0 ? NaN : bits & 0x8000 ? -Infinity : Infinity;
  const magnitude = e === 0 ? m * Math.pow(2, -133) : (1 + m / 128) * Math.pow(2, e - 127);
  return bits & 0x8000 ? -magnitude : magnitude;
}

/**
 * Nearest-even rounding by search: positive finite values ascend with their bit patterns, so the
 * answer is one of the two neighbours of x in that list; `overflowFrom` is where rounding gives inf.
 */
function nearestEvenBits(x: number, positiveValues: number[], infBits: number, overflowFrom: number): number {
  if (x < 0 || Object.is(x, -0)) return 0x8000 | nearestEvenBits(-x, positiveValues, infBits, overflowFrom);
  if (x >= overflowFrom) return infBits;
  let lo = 0;
  let hi = positiveValues.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (positiveValues[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  if (lo === positiveValues.length - 1) return lo;
  const below = x - positiveValues[lo];
  const above = positiveValues[lo + 1] - x;
  if (below < above) return lo;
  if (above < below) return lo + 1;
  return lo % 2 === 0 ? lo : lo + 1;
}
const positiveHalves = Array.from({ length: 0x7c00 }, (_, bits) => halfValueFromDefinition(bits));
const positiveBfloats = Array.from({ length: 0x7f80 }, (_, bits) => bfloatValueFromDefinition(bits));
const halfBitsByDefinition = (x: number) => nearestEvenBits(x, positiveHalves, 0x7c00, 65520);
const bfloatBitsByDefinition = (x: number) => nearestEvenBits(x, positiveBfloats, 0x7f80, 2 ** 128 - 2 ** 119);

/** Finite float32 values over the whole range: random bit patterns, and random magnitudes around the 16-bit ranges. */
function sampleFloats(seed: number, count: number): Float32Array {
  const rng = new Rng(seed);
  const values = new Float32Array(count);
  const bits = new Uint32Array(values.buffer);
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) {
      do bits[i] = Math.floor(rng.next() * 2 ** 32);
      while (!Number.isFinite(values[i]));
    } else {
      values[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(1, 2) * 2 ** (rng.int(60) - 35);
    }
  }
  return values;
}

describe('16-bit float helpers', () => {
  it('decode known binary16 bit patterns', () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x7c00)).toBe(Infinity);
    expect(float16ToFloat32(0xfc00)).toBe(-Infinity);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(float16ToFloat32(0x0400)).toBe(2 ** -14);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(Object.is(float16ToFloat32(0x8000), -0)).toBe(true);
    expect(float16ToFloat32(0x7e00)).toBeNaN();
  });

  it('encode binary16 with ties to even, overflow to inf and subnormal rounding', () => {
    expect(float32ToFloat16(1)).toBe(0x3c00);
    expect(float32ToFloat16(-2)).toBe(0xc000);
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie, 1.0 is even
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, rounds up to the even neighbour
    expect(float32ToFloat16(65519)).toBe(0x7bff);
    expect(float32ToFloat16(65520)).toBe(0x7c00);
    expect(float32ToFloat16(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16(2 ** -25)).toBe(0x0000); // tie with zero
    expect(float32ToFloat16(3 * 2 ** -25)).toBe(0x0002);
    expect(float32ToFloat16(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up out of the subnormals
    expect(float32ToFloat16(-0)).toBe(0x8000);
    expect(float32ToFloat16(-Infinity)).toBe(0xfc00);
    expect(float32ToFloat16(NaN)).toBe(0x7e00);
  });

  it('binary16 encoding equals nearest-even rounding found by search, on random and tie values', () => {
    const values = sampleFloats(1, 4000);
    const ties = Array.from({ length: 0x7bff }, (_, b) => (positiveHalves[b] + positiveHalves[b + 1]) / 2).filter((_, b) => b % 7 === 0);
    for (const x of [...values, ...ties, ...ties.map((t) => -t)]) {
      expect(float32ToFloat16(x), `value ${x}`).toBe(halfBitsByDefinition(x));
    }
  });

  it('decode and encode bfloat16', () => {
    expect(bfloat16ToFloat32(0x3f80)).toBe(1);
    expect(bfloat16ToFloat32(0xc040)).toBe(-3);
    expect(bfloat16ToFloat32(0x7f80)).toBe(Infinity);
    expect(bfloat16ToFloat32(0x0001)).toBe(2 ** -133);
    expect(float32ToBfloat16(1)).toBe(0x3f80);
    expect(float32ToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie, 1.0 is even
    expect(float32ToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16(3.4028234663852886e38)).toBe(0x7f80);
    const nan = float32ToBfloat16(NaN);
    expect(bfloat16ToFloat32(nan)).toBeNaN();
    for (const x of sampleFloats(2, 4000)) expect(float32ToBfloat16(x), `value ${x}`).toBe(bfloatBitsByDefinition(x));
  });
});

describe('parseSafetensors on a file built by hand', () => {
  // Tensors in an order other than by name, the F32 and F64 data at offsets that are not aligned,
  // and a header length that is not a multiple of 8.
  const data = new Uint8Array(54);
  const view = new DataView(data.buffer);
  [0x3f80, 0xc040, 0x7f80, 0x0001, 0x3eab].forEach((bits, i) => view.setUint16(2 * i, bits, true));
  const halfBits = [0x3c00, 0xc000, 0x7c00, 0xfc00, 0x0001, 0x03ff, 0x7bff, 0x8000, 0x3555, 0x7e00];
  halfBits.forEach((bits, i) => view.setUint16(10 + 2 * i, bits, true));
  view.setFloat32(30, 1.5, true);
  view.setFloat32(34, -0.15625, true);
  view.setFloat64(38, 0.1, true);
  view.setFloat64(46, -2.5, true);
  const headerText =
    '{"brain":{"dtype":"BF16","shape":[5],"data_offsets":[0,10]},' +
    '"half":{"dtype":"F16","shape":[2,5],"data_offsets":[10,30]},' +
    '"__metadata__":{"format":"pt","note":"by hand"},' +
    '"odd":{"dtype":"F32","shape":[2,1],"data_offsets":[30,38]},' +
    '"wide":{"dtype":"F64","shape":[2],"data_offsets":[38,54]}}';
  const file = handMadeFile(headerText, data);

  function expectHandMadeValues(parsed: ReturnType<typeof parseSafetensors>) {
    const { tensors, metadata } = parsed;
    expect(metadata).toEqual({ format: 'pt', note: 'by hand' });
    expect([...tensors.keys()].sort()).toEqual(['brain', 'half', 'odd', 'wide']);

    const half = tensors.get('half')!;
    expect(half.dtype).toBe('F16');
    expect(half.shape).toEqual([2, 5]);
    const h = Array.from(half.data);
    expect(h.slice(0, 9)).toEqual([1, -2, Infinity, -Infinity, 2 ** -24, 1023 * 2 ** -24, 65504, -0, (1 + 341 / 1024) / 4]);
    expect(Object.is(h[7], -0)).toBe(true);
    expect(h[9]).toBeNaN();

    const brain = tensors.get('brain')!;
    expect(brain.dtype).toBe('BF16');
    expect(Array.from(brain.data)).toEqual([1, -3, Infinity, 2 ** -133, (1 + 43 / 128) / 4]);

    const odd = tensors.get('odd')!;
    expect(odd).toMatchObject({ dtype: 'F32', shape: [2, 1] });
    expect(Array.from(odd.data)).toEqual([1.5, -0.15625]);

    const wide = tensors.get('wide')!;
    expect(wide.dtype).toBe('F32'); // F64 is narrowed on reading
    expect(Array.from(wide.data)).toEqual([Math.fround(0.1), -2.5]);
  }

  it('reads F16 (subnormals, infinities, NaN, -0), BF16, unaligned F32 and F64 narrowed to float32', () => {
    expectHandMadeValues(parseSafetensors(file, 'hand.safetensors'));
  });

  it('reads the same from a view that starts at an odd offset of a larger buffer', () => {
    const larger = new Uint8Array(file.length + 4);
    larger.set(file, 3);
    expectHandMadeValues(parseSafetensors(larger.subarray(3, 3 + file.length), 'hand.safetensors'));
  });

  it('reads a file without __metadata__ as empty metadata', () => {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, 7, true);
    const parsed = parseSafetensors(handMadeFile('{"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}', bytes), 'x');
    expect(parsed.metadata).toEqual({});
    expect(parsed.tensors.get('x')).toMatchObject({ shape: [] });
    expect(Array.from(parsed.tensors.get('x')!.data)).toEqual([7]);
  });
});

describe('serializeSafetensors', () => {
  it('F32 round-trips bit for bit', () => {
    const values = sampleFloats(3, 257);
    values[0] = -0;
    values[1] = NaN;
    values[2] = 1e-45;
    values[3] = -Infinity;
    const bytes = serializeSafetensors({ 'm.w': { shape: [257], data: values }, 'm.b': { shape: [1, 1], data: new Float32Array([0.5]) } });
    const { tensors } = parseSafetensors(bytes, 'roundtrip');
    expect(tensors.get('m.w')).toMatchObject({ dtype: 'F32', shape: [257] });
    expect(bitsOf(tensors.get('m.w')!.data)).toEqual(bitsOf(values));
    expect(Array.from(tensors.get('m.b')!.data)).toEqual([0.5]);
  });

  it('F16 and BF16 round-trip to the nearest representable value', () => {
    const values = sampleFloats(4, 500);
    for (const [dtype, reference, decode, relative] of [
      ['F16', halfBitsByDefinition, halfValueFromDefinition, 2 ** -11],
      ['BF16', bfloatBitsByDefinition, bfloatValueFromDefinition, 2 ** -8],
    ] as const) {
      const bytes = serializeSafetensors(new Map([['t', { shape: [5, 100], data: values }]]), { dtype });
      const t = parseSafetensors(bytes, dtype).tensors.get('t')!;
      expect(t).toMatchObject({ dtype, shape: [5, 100] });
      values.forEach((x, i) => {
        const expected = decode(reference(x));
        expect(t.data[i], `${dtype} value ${x}`).toBe(Math.fround(expected));
        // Within half a unit in the last place for normal values that do not overflow.
        if (Number.isFinite(expected) && Math.abs(x) > (dtype === 'F16' ? 2 ** -14 : 2 ** -126)) {
          expect(Math.abs(t.data[i] - x)).toBeLessThanOrEqual(Math.abs(x) * relative);
        }
      });
    }
  });

  it('lays the header out as the Python library does: LE length, sorted names, contiguous offsets, space padding', () => {
    const bytes = serializeSafetensors(
      new Map([
        ['z', { shape: [3], data: new Float32Array([1, 2, 3]) }],
        ['a.10', { shape: [], data: new Float32Array([4]) }],
        ['B', { shape: [1, 2], data: new Float32Array([5, 6]) }],
        ['a.2', { shape: [0, 4], data: new Float32Array(0) }],
      ]),
      { dtype: 'F16' },
    );
    const { length, text } = headerOf(bytes);
    expect(length % 8).toBe(0);
    const json = text.trimEnd();
    expect(text.slice(json.length)).toMatch(/^ {0,7}$/);
    expect(json).toBe(
      '{"B":{"dtype":"F16","shape":[1,2],"data_offsets":[0,4]},' +
        '"a.10":{"dtype":"F16","shape":[],"data_offsets":[4,6]},' +
        '"a.2":{"dtype":"F16","shape":[0,4],"data_offsets":[6,6]},' +
        '"z":{"dtype":"F16","shape":[3],"data_offsets":[6,12]}}',
    );
    expect(bytes.length).toBe(8 + length + 12);
  });

  // Produced by the Python safetensors 0.8.0 library (safetensors.numpy.save with metadata {"format": "pt"})
  // from float32 values, saved as float32 and as float16 (numpy's float16 cast rounds to nearest even).
  const pythonValues = new Float32Array([
    1,
    -2,
    65504,
    65519,
    65520,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    2 ** -24,
    2 ** -25,
    3 * 2 ** -25,
    1e-8,
    0.1,
    -1 / 3,
    Infinity,
    -0,
    NaN,
  ]);
  const pythonTensors = {
    'w.weight': { shape: [4, 4], data: pythonValues },
    'a.10': { shape: [], data: new Float32Array([5]) },
    'a.2': { shape: [0, 3], data: new Float32Array(0) },
    B: { shape: [2], data: new Float32Array([-7.5, 3]) },
  };
  const pythonFiles = {
    F32: 'CAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJCIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMCw4XX0sImEuMTAiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6W10sImRhdGFfb2Zmc2V0cyI6WzgsMTJdfSwiYS4yIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlswLDNdLCJkYXRhX29mZnNldHMiOlsxMiwxMl19LCJ3LndlaWdodCI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbNCw0XSwiZGF0YV9vZmZzZXRzIjpbMTIsNzZdfX0AAPDAAABAQAAAoEAAAIA/AAAAwADgf0cA739HAPB/RwAQgD8AMIA/AACAMwAAADMAAMAzd8wrMs3MzD2rqqq+AACAfwAAAIAAAMB/',
    F16: 'CAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJCIjp7ImR0eXBlIjoiRjE2Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMCw0XX0sImEuMTAiOnsiZHR5cGUiOiJGMTYiLCJzaGFwZSI6W10sImRhdGFfb2Zmc2V0cyI6WzQsNl19LCJhLjIiOnsiZHR5cGUiOiJGMTYiLCJzaGFwZSI6WzAsM10sImRhdGFfb2Zmc2V0cyI6WzYsNl19LCJ3LndlaWdodCI6eyJkdHlwZSI6IkYxNiIsInNoYXBlIjpbNCw0XSwiZGF0YV9vZmZzZXRzIjpbNiwzOF19fSAgICCAxwBCAEUAPADA/3v/ewB8ADwCPAEAAAACAAAAZi5VtQB8AIAAfg==',
  } as const;

  for (const dtype of ['F32', 'F16'] as const) {
    it(`writes ${dtype} files byte for byte as the Python library does, and reads them back`, () => {
      const python = fromBase64(pythonFiles[dtype]);
      expect(Array.from(serializeSafetensors(pythonTensors, { dtype, metadata: { format: 'pt' } }))).toEqual(Array.from(python));
      const { tensors, metadata } = parseSafetensors(python, `python-${dtype}.safetensors`);
      expect(metadata).toEqual({ format: 'pt' });
      expect(tensors.get('a.2')!.shape).toEqual([0, 3]);
      const w = Array.from(tensors.get('w.weight')!.data);
      const expected =
        dtype === 'F32' ? Array.from(pythonValues) : Array.from(pythonValues, (x) => halfValueFromDefinition(halfBitsByDefinition(x)));
      expect(w.slice(0, 15)).toEqual(expected.slice(0, 15));
      expect(w[15]).toBeNaN();
    });
  }

  it('refuses a shape that does not hold the data', () => {
    expect(() => serializeSafetensors({ 'lm_head.weight': { shape: [2, 3], data: new Float32Array(5) } })).toThrow(
      /lm_head\.weight.*\[2, 3\].*5 values/,
    );
  });
});

describe('parseSafetensors errors name the source and the tensor', () => {
  const good = serializeSafetensors({ 'layer.w': { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } });

  it('a file truncated inside the data', () => {
    expect(() => parseSafetensors(good.subarray(0, good.length - 3), 'cut.safetensors')).toThrow(
      /cut\.safetensors: tensor "layer\.w": data_offsets \[0, 16\] run past the end of the data \(13 bytes\)/,
    );
  });

  it('a file truncated inside the header, or shorter than the length field', () => {
    expect(() => parseSafetensors(good.subarray(0, 20), 'cut.safetensors')).toThrow(
      /cut\.safetensors: .*header length \d+ runs past the end of the file \(20 bytes\)/,
    );
    expect(() => parseSafetensors(good.subarray(0, 5), 'tiny.bin')).toThrow(/tiny\.bin: not a safetensors file: 5 bytes/);
  });

  it('a header that is not JSON', () => {
    expect(() => parseSafetensors(handMadeFile('{"layer.w": {"dtype": "F32",', new Uint8Array(0)), 'bad.safetensors')).toThrow(
      /bad\.safetensors: safetensors header is not valid UTF-8 JSON/,
    );
  });

  it('offsets beyond the data, and a byte count that does not match the shape', () => {
    const data = new Uint8Array(8);
    expect(() => parseSafetensors(handMadeFile('{"emb":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', data), 'o.st')).toThrow(
      /o\.st: tensor "emb": data_offsets \[4, 12\] run past the end of the data \(8 bytes\)/,
    );
    expect(() => parseSafetensors(handMadeFile('{"emb":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}', data), 'o.st')).toThrow(
      /o\.st: tensor "emb": data_offsets \[0, 8\] hold 8 bytes, but shape \[3\] of F16 needs 6/,
    );
    expect(() => parseSafetensors(handMadeFile('{"emb":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', data), 'o.st')).toThrow(
      /o\.st: tensor "emb": "data_offsets" must be \[begin, end\]/,
    );
  });

  it('a dtype that is not a float', () => {
    const data = new Uint8Array(16);
    expect(() =>
      parseSafetensors(handMadeFile('{"position_ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}', data), 'i.st'),
    ).toThrow(/i\.st: tensor "position_ids" has dtype I64; only F32, F16, BF16 and F64/);
    expect(() => parseSafetensors(handMadeFile('{"mask":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', data), 'u.st')).toThrow(
      /u\.st: tensor "mask" has dtype U8/,
    );
  });
});

describe('loadModelTensors', () => {
  /** Counts reads per path, to check each shard is read once. */
  /** Counts whole-file reads; `ranges` logs every ranged read when the source offers them. */
  function counting(src: FileSource, withRanges = false) {
    const reads = new Map<string, number>();
    const ranges: { path: string; start: number; end: number }[] = [];
    const count = (path: string) => reads.set(path, (reads.get(path) ?? 0) + 1);
    const counted: FileSource = {
      name: src.name,
      readText: (path) => (count(path), src.readText(path)),
      readBytes: (path) => (count(path), src.readBytes(path)),
    };
    if (withRanges) counted.readRange = (path, start, end) => (ranges.push({ path, start, end }), src.readRange!(path, start, end));
    return { src: counted, reads, ranges };
  }

  const shard1 = serializeSafetensors({
    'model.embed_tokens.weight': { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    'model.layers.0.mlp.up_proj.weight': { shape: [1, 2], data: new Float32Array([5, 6]) },
  });
  const shard2 = serializeSafetensors({ 'model.norm.weight': { shape: [2], data: new Float32Array([7, 8]) } }, { dtype: 'BF16' });
  const index = JSON.stringify({
    metadata: { total_size: 32 },
    weight_map: {
      'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
      'model.norm.weight': 'model-00002-of-00002.safetensors',
      'model.layers.0.mlp.up_proj.weight': 'model-00001-of-00002.safetensors',
    },
  });

  it('reads model.safetensors', async () => {
    const tensors = await loadModelTensors(memorySource(new Map([['model.safetensors', shard1]]), 'single'));
    expect([...tensors.keys()].sort()).toEqual(['model.embed_tokens.weight', 'model.layers.0.mlp.up_proj.weight']);
    expect(Array.from(tensors.get('model.embed_tokens.weight')!.data)).toEqual([1, 2, 3, 4]);
  });

  it('reads sharded weights through the index: a source without ranges reads each shard whole twice (header, then data)', async () => {
    const { src, reads } = counting(
      memorySource(
        new Map<string, Uint8Array | string>([
          ['model.safetensors.index.json', index],
          ['model-00001-of-00002.safetensors', shard1],
          ['model-00002-of-00002.safetensors', shard2],
        ]),
        'sharded',
      ),
    );
    const tensors = await loadModelTensors(src);
    expect([...tensors.keys()].sort()).toEqual(['model.embed_tokens.weight', 'model.layers.0.mlp.up_proj.weight', 'model.norm.weight']);
    expect(tensors.get('model.norm.weight')).toMatchObject({ dtype: 'BF16', shape: [2] });
    expect(Array.from(tensors.get('model.norm.weight')!.data)).toEqual([7, 8]);
    expect(Array.from(tensors.get('model.layers.0.mlp.up_proj.weight')!.data)).toEqual([5, 6]);
    expect(reads.get('model-00001-of-00002.safetensors')).toBe(2);
    expect(reads.get('model-00002-of-00002.safetensors')).toBe(2);
  });

  it("streams a source that reads ranges: the header, then each tensor's own bytes, never a whole shard", async () => {
    const files = new Map<string, Uint8Array | string>([
      ['model.safetensors.index.json', index],
      ['model-00001-of-00002.safetensors', shard1],
      ['model-00002-of-00002.safetensors', shard2],
    ]);
    const { src, reads, ranges } = counting(memorySource(files, 'sharded'), true);
    const tensors = await loadModelTensors(src);
    expect(Array.from(tensors.get('model.embed_tokens.weight')!.data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(tensors.get('model.norm.weight')!.data)).toEqual([7, 8]);
    expect(reads.has('model-00001-of-00002.safetensors')).toBe(false);
    expect(reads.has('model-00002-of-00002.safetensors')).toBe(false);
    // Per shard: 8 bytes of header length, the header, then one read per tensor of exactly its bytes.
    const shard1Reads = ranges.filter((r) => r.path === 'model-00001-of-00002.safetensors').map((r) => r.end - r.start);
    const headerBytes = new DataView(shard1.buffer).getUint32(0, true);
    expect(shard1Reads).toEqual([8, headerBytes, 16, 8]);
  });

  it('refuses tensors whose byte ranges overlap, naming both', () => {
    const bytes = serializeSafetensors({
      a: { shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [2], data: new Float32Array([3, 4]) },
    });
    const length = new DataView(bytes.buffer).getUint32(0, true);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + length)).replace('"data_offsets":[8,16]', '"data_offsets":[4,12]');
    const patched = new Uint8Array(bytes);
    patched.set(new TextEncoder().encode(header), 8);
    expect(() => parseSafetensors(patched, 'overlap.safetensors')).toThrow(/overlap\.safetensors: tensors "a" and "b" overlap/);
  });

  it('refuses data that is not contiguous, as the reference library does: a gap, or bytes after the last tensor', () => {
    const bytes = serializeSafetensors({
      a: { shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [1], data: new Float32Array([3]) },
    });
    const length = new DataView(bytes.buffer).getUint32(0, true);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + length));
    const patch = (from: string, to: string) => {
      const patched = new Uint8Array(bytes);
      patched.set(new TextEncoder().encode(header.replace(from, to)), 8);
      return patched;
    };
    // b moved from bytes 8–12 to 12–16 of a 16-byte data section: a gap of 4 bytes before it.
    const withGap = new Uint8Array([...patch('"data_offsets":[8,12]', '"data_offsets":[12,16]'), 0, 0, 0, 0]);
    expect(() => parseSafetensors(withGap, 'gap.safetensors')).toThrow(
      'gap.safetensors: tensor "b" starts at byte 12 of the data, leaving bytes 8–12 unused: the data is not contiguous',
    );
    const trailing = new Uint8Array([...bytes, 1, 2, 3, 4]);
    expect(() => parseSafetensors(trailing, 'tail.safetensors')).toThrow(
      'tail.safetensors: the tensors end at byte 12 of the data, but it holds 16 bytes: extra bytes after the last tensor',
    );
    expect(parseSafetensors(bytes, 'fine.safetensors').tensors.size).toBe(2);
  });

  it('names the tensor and the file when a ranged read comes back short (a truncated file)', async () => {
    const truncated = shard1.subarray(0, shard1.length - 4);
    const src = memorySource(new Map([['model.safetensors', truncated]]), 'cut');
    // memorySource reads ranges, so the header is read on its own and the cut shows at the tensor.
    await expect(loadModelTensors(src)).rejects.toThrow(
      /cut\/model\.safetensors: tensor "model\.layers\.0\.mlp\.up_proj\.weight" needs bytes .* the file is truncated/,
    );
  });

  it('names the source and the files looked for when there are no weights', async () => {
    await expect(loadModelTensors(memorySource(new Map([['config.json', '{}']]), 'models/empty'))).rejects.toThrow(
      /models\/empty: no model weights: neither model\.safetensors nor model\.safetensors\.index\.json was found/,
    );
  });

  it('names a missing shard and a tensor it should hold', async () => {
    const src = memorySource(
      new Map<string, Uint8Array | string>([
        ['model.safetensors.index.json', index],
        ['model-00001-of-00002.safetensors', shard1],
      ]),
      'models/half',
    );
    await expect(loadModelTensors(src)).rejects.toThrow(
      /models\/half\/model-00002-of-00002\.safetensors is missing: .*index\.json places tensor "model\.norm\.weight" in it/,
    );
  });

  it('names a tensor the index places in a shard that lacks it', async () => {
    const src = memorySource(
      new Map<string, Uint8Array | string>([
        ['model.safetensors.index.json', index],
        ['model-00001-of-00002.safetensors', shard2],
        ['model-00002-of-00002.safetensors', shard2],
      ]),
      'models/mixed',
    );
    await expect(loadModelTensors(src)).rejects.toThrow(
      /models\/mixed\/model-00001-of-00002\.safetensors: tensor "model\.embed_tokens\.weight" is missing/,
    );
  });

  it('names a shard that is corrupt', async () => {
    const src = memorySource(
      new Map<string, Uint8Array | string>([
        ['model.safetensors.index.json', index],
        ['model-00001-of-00002.safetensors', shard1.subarray(0, shard1.length - 1)],
        ['model-00002-of-00002.safetensors', shard2],
      ]),
      'models/bad',
    );
    await expect(loadModelTensors(src)).rejects.toThrow(
      /models\/bad\/model-00001-of-00002\.safetensors: tensor "model\.layers\.0\.mlp\.up_proj\.weight"/,
    );
  });
});
