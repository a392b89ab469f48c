import { describe, expect, it, vi } from 'vitest';
import { GpuFailure, suggestionFor, withWatchdog } from '../../../src/core/gpu/failure';
import {
  GpuMonitor,
  stepFlops,
  stepTimeoutMs,
  watchFirstDispatches,
  watchReadBacks,
  type GpuErrorLike,
  type MonitoredDevice,
} from '../../../src/core/gpu/monitor';

class GPUOutOfMemoryError extends Error {}
class GPUValidationError extends Error {}

/** A device whose errors, loss and scopes the test drives by hand, as WebGPU would deliver them. */
class FakeDevice implements MonitoredDevice {
  readonly lost: Promise<{ reason?: string; message: string }>;
  private loseWith!: (info: { reason?: string; message: string }) => void;
  private listeners: ((event: { error: GpuErrorLike }) => void)[] = [];
  private scopes: { filter: string; error: GpuErrorLike | null }[] = [];

  constructor() {
    this.lost = new Promise((resolve) => (this.loseWith = resolve));
  }

  addEventListener(_type: 'uncapturederror', listener: (event: { error: GpuErrorLike }) => void): void {
    this.listeners.push(listener);
  }

  pushErrorScope(filter: 'out-of-memory' | 'validation'): void {
    this.scopes.push({ filter, error: null });
  }

  async popErrorScope(): Promise<GpuErrorLike | null> {
    return this.scopes.pop()!.error;
  }

  /** An error from a command: the innermost scope of its filter takes it, else it is uncaptured. */
  error(error: GpuErrorLike): void {
    const filter = error instanceof GPUOutOfMemoryError ? 'out-of-memory' : 'validation';
    const scope = [...this.scopes].reverse().find((s) => s.filter === filter);
    if (scope) scope.error ??= error;
    else this.listeners.forEach((l) => l({ error }));
  }

  destroy(): void {
    this.loseWith({ reason: 'destroyed', message: 'Device was destroyed.' });
  }
}

const never = () => new Promise<never>(() => undefined);

async function failureOf(p: Promise<unknown>): Promise<GpuFailure> {
  const e = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(e).toBeInstanceOf(GpuFailure);
  return e as GpuFailure;
}

describe('withWatchdog', () => {
  it('passes a result through, and a rejection unchanged', async () => {
    await expect(withWatchdog(Promise.resolve(7), { operation: 'x', timeoutMs: 50 })).resolves.toBe(7);
    const boom = new Error('boom');
    await expect(withWatchdog(Promise.reject(boom), { operation: 'x', timeoutMs: 50 })).rejects.toBe(boom);
  });

  it('turns a wait that never settles into a stalled failure naming the operation, within its time', async () => {
    const started = Date.now();
    const f = await failureOf(withWatchdog(never(), { operation: 'training step 3', timeoutMs: 60, what: 'a read-back' }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(f.kind).toBe('stalled');
    expect(f.operation).toBe('training step 3');
    expect(f.message).toMatch(/^Training step 3 failed: it made no progress \(a read-back did not finish in 0 s\)\. /);
    expect(f.suggestion).toMatch(/batch size/);
  });
});

describe('GpuMonitor', () => {
  it('an uncaptured out-of-memory error ends the running operation at once, with the device message and a suggestion', async () => {
    const device = new FakeDevice();
    const monitor = new GpuMonitor(device);
    const run = monitor.run('training step 1 (forward/backward)', never, 60_000);
    device.error(new GPUOutOfMemoryError('Not enough memory left.'));
    const f = await failureOf(run);
    expect(f.kind).toBe('out-of-memory');
    expect(f.operation).toBe('training step 1 (forward/backward)');
    expect(f.deviceMessage).toBe('Not enough memory left.');
    expect(f.message).toContain('the GPU ran out of memory (Not enough memory left)');
    expect(f.suggestion).toMatch(/smaller batch size.*shorter max length.*smaller model/);
    expect(monitor.operation).toBeNull();
  });

  it('a validation error names a generation its own way', async () => {
    const device = new FakeDevice();
    const monitor = new GpuMonitor(device);
    const run = monitor.run('generation (answer 1 of 2)', never);
    device.error(new GPUValidationError('Buffer size (4294967300) exceeds the max buffer size limit (268435456).'));
    const f = await failureOf(run);
    expect(f.kind).toBe('validation');
    expect(f.message).toContain('exceeds the max buffer size limit');
    expect(f.suggestion).toMatch(/fewer new tokens/);
  });

  it('device loss ends the running operation, and every later one at once', async () => {
    const device = new FakeDevice();
    const monitor = new GpuMonitor(device);
    const run = monitor.run('loading model.embed_tokens.weight', never);
    device.destroy();
    const f = await failureOf(run);
    expect(f.kind).toBe('device-lost');
    expect(f.message).toMatch(
      /^Loading model\.embed_tokens\.weight failed: the GPU device was lost \(Device was destroyed\)\. .*reload the page/,
    );
    expect(monitor.lost).not.toBeNull();
    const work = vi.fn(async () => 1);
    const later = await failureOf(monitor.run('training step 2', work));
    expect(work).not.toHaveBeenCalled();
    expect(later.kind).toBe('device-lost');
    expect(later.deviceMessage).toContain('lost earlier, during loading model.embed_tokens.weight');
    expect((await failureOf(monitor.wait(Promise.resolve(1), 'a read-back'))).kind).toBe('device-lost');
  });

  it('a read-back under a run gets the run’s watchdog; the run fails as stalled; the next run works', async () => {
    const device = new FakeDevice();
    const monitor = new GpuMonitor(device);
    const backend = { getBufferData: (_b: unknown): Promise<unknown> => never() };
    watchReadBacks(backend, monitor);
    const f = await failureOf(monitor.run('training step 4 (forward/backward)', () => backend.getBufferData(null), 50));
    expect(f.kind).toBe('stalled');
    expect(f.operation).toBe('training step 4 (forward/backward)');
    expect(f.deviceMessage).toMatch(/read-back .* did not finish in/);
    backend.getBufferData = async () => 'ok';
    await expect(monitor.run('training step 4 (forward/backward)', async () => 5)).resolves.toBe(5);
  });

  it('errors outside any operation do not fail the next one; they are kept as stray', async () => {
    const device = new FakeDevice();
    const monitor = new GpuMonitor(device);
    device.error(new GPUValidationError('late'));
    await expect(monitor.run('eval', async () => 'fine')).resolves.toBe('fine');
    expect(monitor.strayErrors.map((e) => e.deviceMessage)).toEqual(['late']);
  });

  it('error scopes pin an allocation’s error on the operation that made it', async () => {
    const device = new FakeDevice();
    const monitor = new GpuMonitor(device);
    const f = await failureOf(
      monitor.scoped('loading model.layers.0.mlp.up_proj.weight', () => device.error(new GPUOutOfMemoryError('Allocation failed'))),
    );
    expect(f.kind).toBe('out-of-memory');
    expect(f.operation).toBe('loading model.layers.0.mlp.up_proj.weight');
    expect(f.suggestion).toMatch(/smaller model/);
    const v = await failureOf(monitor.scoped('first dispatch of lm-head', () => device.error(new GPUValidationError('bad pipeline'))));
    expect(v.kind).toBe('validation');
    await expect(monitor.scoped('fine', () => 3)).resolves.toBe(3);
  });
});

describe('stepTimeoutMs', () => {
  it('gives the first step its own allowance, then the larger of the floor and k × the slowest step', () => {
    const w = { firstStepMs: 600_000, slowestFlops: 1e8, floorMs: 60_000, factor: 10 };
    expect(stepTimeoutMs([], w)).toBe(600_000);
    // A Qwen2.5-0.5B-sized first step (494M parameters, 2 pairs of 48 tokens) may take its arithmetic's time at 0.1 GFLOP/s.
    expect(stepFlops(494e6, 192)).toBeCloseTo(7.59e11, -9);
    expect(stepTimeoutMs([], w, stepFlops(494e6, 192))).toBeCloseTo(7_587_840, -1);
    expect(stepTimeoutMs([2], w, stepFlops(494e6, 192))).toBe(60_000);
    expect(stepTimeoutMs([2, 3], w)).toBe(60_000);
    expect(stepTimeoutMs([2, 30, 3], w)).toBe(300_000);
  });
});

describe('watchFirstDispatches', () => {
  it('scopes only the first dispatch of each program; an error there names the program and ends the operation', async () => {
    const device = new FakeDevice();
    const monitor = new GpuMonitor(device);
    class LmHeadProgram {
      constructor(readonly shaderKey: string) {}
    }
    let failing = false;
    const calls: string[] = [];
    const backend = {
      runWebGPUProgram(program: { shaderKey?: string; constructor: { name: string } }): unknown {
        calls.push(program.shaderKey!);
        if (failing) device.error(new GPUValidationError('Invalid ShaderModule: error: unresolved identifier'));
        return 'out';
      },
    };
    const push = vi.spyOn(device, 'pushErrorScope');
    watchFirstDispatches(backend, monitor);
    // A clean first dispatch: scoped, result passed through; the second of the same program is not scoped.
    await expect(monitor.run('training step 1', async () => backend.runWebGPUProgram(new LmHeadProgram('a')))).resolves.toBe('out');
    backend.runWebGPUProgram(new LmHeadProgram('a'));
    expect(push).toHaveBeenCalledTimes(2);
    // A new program whose pipeline the device rejects: the running step fails, naming the program.
    failing = true;
    const f = await failureOf(monitor.run('training step 2', async () => (backend.runWebGPUProgram(new LmHeadProgram('b')), never())));
    expect(f.kind).toBe('validation');
    expect(f.operation).toBe('training step 2 (the first dispatch of LmHeadProgram)');
    expect(f.deviceMessage).toContain('Invalid ShaderModule');
    expect(calls).toEqual(['a', 'a', 'b']);
  });
});

describe('GpuFailure', () => {
  it("puts a device's multi-line message on one line, and says how a command gets a new device", () => {
    const dawn =
      'Buffer size (1073741828) exceeds the max buffer size limit (1073741824).\n - While calling [Device].CreateBuffer([BufferDescriptor]).\n';
    const f = new GpuFailure('validation', 'loading tensor "w" [2, 2]', dawn);
    expect(f.message).toBe(
      'Loading tensor "w" [2, 2] failed: the GPU rejected a command (a validation error) (Buffer size (1073741828) exceeds the max buffer ' +
        'size limit (1073741824); While calling [Device].CreateBuffer([BufferDescriptor])). The work asked for more than this device ' +
        'allows (its limits): try a smaller model.',
    );
    expect(suggestionFor('device-lost', 'training step 2 of 3', 'command')).toMatch(
      /^The GPU reset .*: run the command again for a new device/,
    );
    expect(suggestionFor('device-lost', 'training step 2 of 3')).toMatch(/reload the page to get a new device/);
  });
});
