import { test, expect, type Page } from '@playwright/test';
import type { Compared, Comparison, LmHeadCase, SoftmaxCase } from './harness-api';

/**
 * Every fused WGSL kernel, forward and backward, against its composed-op reference, in Chromium on
 * WebGPU (SwiftShader here). Inputs are fresh each run (a failure names its seed); outputs are poisoned
 * with NaN before each kernel writes them. Shapes stay small: SwiftShader runs at well under 1 GFLOP/s.
 */

const TOLERANCE = 1e-5;

test.describe.configure({ mode: 'serial' });

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`[harness error] ${e.message}`));
  // Without Vite's HMR client an edit elsewhere in the working tree cannot reload the page mid-test
  // (the harness modules never use import.meta.hot).
  await page.route('**/@vite/client', (route) => route.fulfill({ contentType: 'text/javascript', body: '' }));
  await page.goto('/test/kernels/harness.html');
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  const info = await page.evaluate(() => window.kernels.ready());
  console.log(`kernel tests on ${info.backend}, adapter ${info.adapter}, maxStorageBufferBindingSize ${info.maxStorageBufferBindingSize}`);
  expect(info.backend).toBe('webgpu');
});

test.afterAll(async () => {
  await page?.close();
});

function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

function expectClose(c: Comparison, what: string): void {
  expect(c.finite, `${what}: a value is not finite (unwritten poisoned output?)`).toBe(true);
  expect(c.relError, `${what}: relative error ${c.relError} (max |reference| ${c.maxAbsReference})`).toBeLessThanOrEqual(TOLERANCE);
}

/** The comparison over all rows must mean something; each row kind must agree on its own too. */
function expectAllClose(compared: Compared, what: string): void {
  const all = compared.all;
  if (!all) throw new Error(`${what}: no comparison over all rows`);
  expect(all.maxAbsReference, `${what}: the reference is all zero`).toBeGreaterThan(0);
  for (const [kind, c] of Object.entries(compared)) if (c) expectClose(c, `${what} [${kind} rows]`);
}

function expectEach(results: Record<string, Compared>, what: string): void {
  for (const [name, compared] of Object.entries(results)) expectAllClose(compared, `${what} ${name}`);
}

const softmaxCases: Omit<SoftmaxCase, 'seed'>[] = [
  { rows: 1, vocab: 37, rowKinds: ['normal'], masked: false },
  { rows: 1, vocab: 4999, rowKinds: ['large'], masked: false },
  { rows: 13, vocab: 1000, rowKinds: ['normal', 'large', 'veryNegative', 'spike'], masked: true },
  { rows: 32, vocab: 4999, rowKinds: ['spike', 'normal', 'veryNegative', 'large'], masked: true },
  { rows: 64, vocab: 4096, rowKinds: ['normal', 'spike'], masked: false },
  // More rows than one dispatch dimension holds (65,535 workgroups on a device; 16 here): the backward
  // pass spills into z, with a partial last layer.
  { rows: 50, vocab: 12, rowKinds: ['normal', 'spike', 'large'], masked: true, rowsPerDispatchDimension: 16 },
];

const label = (c: Omit<SoftmaxCase, 'seed'>) =>
  `N=${c.rows} V=${c.vocab} rows ${c.rowKinds.join('/')}${c.masked ? ', ignored labels' : ''}`;

test('poisoning the buffer pool exposes a kernel that writes nothing', async () => {
  const { nan, size } = await page.evaluate(() => window.kernels.silentProgramReadsPoison(16));
  expect(size).toBe(16 * 7);
  expect(nan).toBe(size);
});

for (const c of softmaxCases) {
  test(`selective log-softmax forward program, ${label(c)}`, async () => {
    // The adapter's own width (8 invocations per row on a CPU adapter) and a GPU's 64, on any adapter.
    for (const invocationsPerRow of [undefined, 64]) {
      const seed = freshSeed();
      const result = await page.evaluate((arg) => window.kernels.forwardProgram(arg), { ...c, seed, invocationsPerRow });
      expectEach(result, `forward (seed ${seed}, ${invocationsPerRow ?? 'default'} invocations per row)`);
    }
  });

  test(`selective log-softmax backward program, ${label(c)}`, async () => {
    const seed = freshSeed();
    const result = await page.evaluate((arg) => window.kernels.backwardProgram(arg), { ...c, seed });
    expectEach(result, `dlogits (seed ${seed}) from`);
  });
}

for (const c of [softmaxCases[0], softmaxCases[3]]) {
  test(`registered ops and tf.grad, ${label(c)}`, async () => {
    const seed = freshSeed();
    const result = await page.evaluate((arg) => window.kernels.registeredOps(arg), { ...c, seed });
    expectEach(result.forward, `op forward (seed ${seed})`);
    expectAllClose(result.selectiveLogSoftmax, `selectiveLogSoftmax (seed ${seed})`);
    expectEach(result.grad, `tf.grad (seed ${seed}) of`);
  });
}

const matmulCases = [
  { rows: 1, vocab: 37, hiddenSize: 8 },
  // Rows not a multiple of a tile's 8, vocabulary not a multiple of 4 (the demo model's 259).
  { rows: 13, vocab: 259, hiddenSize: 64 },
  { rows: 20, vocab: 1001, hiddenSize: 576 },
];

for (const c of matmulCases) {
  test(`LM-head logits and hidden-gradient programs, N=${c.rows} V=${c.vocab} d=${c.hiddenSize}`, async () => {
    const seed = freshSeed();
    const result = await page.evaluate((arg) => window.kernels.lmHeadMatmul(arg), { ...c, seed });
    for (const [name, comparison] of Object.entries(result)) {
      expect(comparison.maxAbsReference, `${name}: the reference is all zero`).toBeGreaterThan(0);
      expectClose(comparison, `${name} (seed ${seed})`);
    }
  });
}

const lmHeadCases: { name: string; c: Omit<LmHeadCase, 'seed'>; rowBlocks: number; vocabBlocks: number }[] = [
  { name: 'one block, N=1', c: { rows: 1, vocab: 37, hiddenSize: 8, chunking: {} }, rowBlocks: 1, vocabBlocks: 1 },
  // One block keeps its logits for the backward pass instead of recomputing them.
  { name: 'one block', c: { rows: 24, vocab: 999, hiddenSize: 16, chunking: {} }, rowBlocks: 1, vocabBlocks: 1 },
  {
    name: 'row and vocabulary blocks, partial last ones',
    c: { rows: 11, vocab: 1500, hiddenSize: 16, chunking: { rowsPerChunk: 4, vocabPerChunk: 400 } },
    rowBlocks: 3,
    vocabBlocks: 4,
  },
  {
    name: 'row blocks only',
    c: { rows: 40, vocab: 2003, hiddenSize: 32, chunking: { rowsPerChunk: 16 } },
    rowBlocks: 3,
    vocabBlocks: 1,
  },
  {
    // 1000 floats per block: below one row of logits, so the planner slices the vocabulary (250 × d=4).
    name: 'blocks planned from a byte budget',
    c: { rows: 10, vocab: 1200, hiddenSize: 4, chunking: { maxChunkBytes: 4000 } },
    rowBlocks: 3,
    vocabBlocks: 5,
  },
  {
    // A device binding 300 rows of the head at most: the head comes as four slices, each read whole.
    name: 'head in row slices under a small binding limit',
    c: { rows: 13, vocab: 1000, hiddenSize: 16, chunking: { maxBindingBytes: 300 * 16 * 4 }, headSliceRows: [300, 300, 300, 100] },
    rowBlocks: 1,
    vocabBlocks: 4,
  },
  {
    // A hidden size the vec4 products cannot take: tfjs's matMul stands in for them.
    name: 'hidden size not a multiple of 4',
    c: { rows: 24, vocab: 301, hiddenSize: 6, chunking: { rowsPerChunk: 4 } },
    rowBlocks: 6,
    vocabBlocks: 1,
  },
  {
    // Uneven slices, each cut further into vocabulary blocks that never cross a slice, and row blocks.
    name: 'uneven head slices, vocabulary and row blocks within them',
    c: {
      rows: 11,
      vocab: 1037,
      hiddenSize: 8,
      chunking: { maxBindingBytes: 500 * 8 * 4, vocabPerChunk: 200, rowsPerChunk: 5 },
      headSliceRows: [500, 37, 500],
    },
    rowBlocks: 3,
    vocabBlocks: 7,
  },
];

for (const { name, c, rowBlocks, vocabBlocks } of lmHeadCases) {
  test(`LM-head log-probs, ${name} (N=${c.rows} V=${c.vocab} d=${c.hiddenSize})`, async () => {
    const seed = freshSeed();
    const r = await page.evaluate((arg) => window.kernels.lmHead(arg), { ...c, seed });
    const what = `LM head (seed ${seed})`;
    expect(Math.ceil(c.rows / r.plan.rowsPerChunk), `${what}: row blocks`).toBe(rowBlocks);
    const sliceRows = c.headSliceRows ?? [c.vocab];
    const blocksOverSlices = sliceRows.reduce((n, rows) => n + Math.ceil(rows / r.plan.vocabPerChunk), 0);
    expect(blocksOverSlices, `${what}: vocabulary blocks`).toBe(vocabBlocks);
    for (const [stat, cmp] of Object.entries(r.forward)) {
      expect(cmp.maxAbsReference, `${what} ${stat}: reference all zero`).toBeGreaterThan(0);
      expectClose(cmp, `${what} ${stat}`);
    }
    for (const [stat, cmp] of Object.entries(r.grad)) {
      expect(cmp.maxAbsReference, `${what} dhidden from ${stat}: reference all zero`).toBeGreaterThan(0);
      expectClose(cmp, `${what} dhidden from ${stat}`);
    }
    expect(r.wpoFieldOnlyWhenAsked, `${what}: logSumP2 returned without WPO`).toBe(true);
    expect(r.headGradient, `${what}: gradient w.r.t. the frozen head`).toEqual({ fused: false, composed: true });
    expect(r.leakedTensors, `${what}: tensors left after forward + backward in tf.tidy`).toBe(0);
    if (rowBlocks * vocabBlocks > 1) {
      // Never all the logits at once: the fused peak stays below the full [N, V] logits the composed path holds.
      expect(r.peakBytes.fused, `${what}: fused peak bytes`).toBeLessThan(r.peakBytes.fullLogits);
      expect(r.peakBytes.composed, `${what}: composed peak bytes`).toBeGreaterThanOrEqual(r.peakBytes.fullLogits);
    }
  });
}

test('scorerFor picks fused kernels on webgpu only, and misuse fails clearly', async () => {
  const r = await page.evaluate(() => window.kernels.choices());
  expect(r.webgpuAutoIsFused).toBe(true);
  expect(r.webgpuFusedIsFused).toBe(true);
  expect(r.webgpuComposedIsComposed).toBe(true);
  expect(r.cpuAutoIsComposed).toBe(true);
  expect(r.cpuFusedError).toContain("'webgpu' backend only, not 'cpu'");
  expect(r.floatLabelsError).toContain('labels must be [1] int32, got [1] float32');
  expect(r.oversizedBlockError).toContain("exceed the device's maxStorageBufferBindingSize of 4096 bytes");
  expect(r.wholeHeadOverBindingError).toContain(
    'head [5, 4] is 80 bytes, over the storage binding limit of 64 bytes; pass the head as row slices of at most 4 rows',
  );
  expect(r.noPositionsGiveEmptyScores).toBe(true);
  expect(r.argmaxTiesPickFirstVec4, 'argmax of tied maxima, rows of 4').toBe(true);
  expect(r.argmaxTiesPickFirstScalar, 'argmax of tied maxima, rows of 5').toBe(true);
});
