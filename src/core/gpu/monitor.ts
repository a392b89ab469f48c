/**
 * Watches one WebGPU device for the ways GPU work ends badly, and turns each into a GpuFailure that
 * names the operation under way: uncaptured errors (out of memory, validation), device loss, error
 * scopes around short allocations, and a watchdog on every wait for the GPU (read-backs). Typed
 * structurally, so Node tests drive it with fake devices and the worker with tfjs's real one.
 */
import { GpuFailure, suggestionFor, withWatchdog, type GpuFailureKind, type Restart } from './failure';

/** The part of a GPUError the monitor reads; its class name tells out-of-memory from validation. */
export interface GpuErrorLike {
  message: string;
}

/** The part of a GPUDevice the monitor uses. */
export interface MonitoredDevice {
  readonly lost: Promise<{ reason?: string; message: string }>;
  addEventListener(type: 'uncapturederror', listener: (event: { error: GpuErrorLike }) => void): void;
  pushErrorScope(filter: 'out-of-memory' | 'validation'): void;
  popErrorScope(): Promise<GpuErrorLike | null>;
}

/** What the engine's code asks of a GPU guard; the CPU backend gets one that only runs the work. */
export interface GpuGuard {
  /**
   * Runs `work` as `operation`: every GPU wait inside it has a watchdog of `timeoutMs`, and an error
   * the device reports (or its loss) while it runs ends it at once with a GpuFailure.
   */
  run<T>(operation: string, work: () => Promise<T>, timeoutMs?: number): Promise<T>;
  /**
   * Runs short GPU work (an upload, an allocation) so that an error the device reports for it is
   * pinned on `operation` ("loading tensor X"): the work's own error scopes, awaited.
   */
  scoped<T>(operation: string, allocate: () => T | Promise<T>): Promise<T>;
  /** The device was lost: nothing more can run on it (a new device needs a new backend). */
  readonly lost: GpuFailure | null;
}

export const NO_GPU_GUARD: GpuGuard = { run: (_operation, work) => work(), scoped: async (_operation, allocate) => allocate(), lost: null };

/**
 * A guard with only the watchdog, for backends that report no device errors (tfjs's CPU and WASM
 * backends): an operation that does not finish within its time ends as stalled.
 */
export const WATCHDOG_GUARD: GpuGuard = {
  run: (operation, work, timeoutMs = Infinity) => withWatchdog(work(), { operation, timeoutMs, what: 'the operation' }),
  scoped: async (_operation, allocate) => allocate(),
  lost: null,
};

/** An error a device reported, by its class: GPUOutOfMemoryError, else validation (or internal). */
export function kindOfError(error: GpuErrorLike): GpuFailureKind {
  return /OutOfMemory/i.test(error.constructor?.name ?? '') ? 'out-of-memory' : 'validation';
}

/** How long a failed operation's work is given to finish before the failure is reported. */
const SETTLE_MS = 10_000;

/** Waits until `promise` settles, or `ms` pass. */
function settled(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise.then(noop, noop), timeout]).finally(() => clearTimeout(timer));
}

function noop(): void {}

interface Running {
  operation: string;
  timeoutMs: number;
  fail: (failure: GpuFailure) => void;
}

export class GpuMonitor implements GpuGuard {
  private current: Running | null = null;
  private lostFailure: GpuFailure | null = null;
  /** Errors reported while no operation ran (a late disposal, a stray dispatch), most recent last. */
  readonly strayErrors: GpuFailure[] = [];

  constructor(
    private readonly device: MonitoredDevice,
    /** Used when an operation does not say how long its waits may take. */
    private readonly defaultTimeoutMs = 10 * 60_000,
    /** Where a lost device's suggestion sends a person for a new one. */
    private readonly restart: Restart = 'page',
  ) {
    device.addEventListener('uncapturederror', (event) => this.report(kindOfError(event.error), event.error.message));
    void device.lost.then((info) => {
      // destroy() from our own code (a backend being disposed) is not a failure of the work.
      const message = info.message || (info.reason === 'destroyed' ? 'the device was destroyed' : 'no reason given');
      const operation = this.current?.operation ?? 'GPU work';
      this.lostFailure = new GpuFailure('device-lost', operation, message, suggestionFor('device-lost', operation, this.restart));
      this.current?.fail(this.lostFailure);
    });
  }

  get lost(): GpuFailure | null {
    return this.lostFailure;
  }

  /** What is running now, or null between operations. */
  get operation(): string | null {
    return this.current?.operation ?? null;
  }

  private report(kind: GpuFailureKind, message: string): void {
    const running = this.current;
    const failure = new GpuFailure(kind, running?.operation ?? 'GPU work', message);
    if (running) running.fail(failure);
    else this.strayErrors.push(failure);
  }

  private lostNow(operation: string): GpuFailure {
    const lost = this.lostFailure!;
    const message = `it was lost earlier, during ${lost.operation}: ${lost.deviceMessage}`;
    return new GpuFailure('device-lost', operation, message, suggestionFor('device-lost', operation, this.restart));
  }

  async run<T>(operation: string, work: () => Promise<T>, timeoutMs = this.defaultTimeoutMs): Promise<T> {
    if (this.lostFailure) throw this.lostNow(operation);
    const outer = this.current;
    let fail!: (failure: GpuFailure) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);
    const running: Running = { operation, timeoutMs, fail: (f) => fail(f) };
    // A nested operation (a read-back inside a step) reports to the innermost, and the outer learns
    // of it through the rejection that propagates.
    this.current = running;
    let task: Promise<T> | null = null;
    try {
      task = work();
      return await Promise.race([task, failed]);
    } catch (error) {
      // The work may still be running on tensors the caller goes on to use (a step's optimizer
      // update): let it finish, or fail, first, for a bounded time (a stalled wait never finishes).
      if (error instanceof GpuFailure && task) await settled(task, SETTLE_MS);
      throw error;
    } finally {
      this.current = outer;
    }
  }

  /**
   * One wait for the GPU (a buffer map, a read-back, queue completion) under the running operation's
   * watchdog; outside any operation it still gets the default watchdog.
   */
  wait<T>(promise: Promise<T>, what: string): Promise<T> {
    const running = this.current;
    const operation = running?.operation ?? 'GPU work';
    if (this.lostFailure) return Promise.reject(this.lostNow(operation));
    const timeoutMs = running?.timeoutMs ?? this.defaultTimeoutMs;
    return withWatchdog(promise, { operation, timeoutMs, what });
  }

  /**
   * Runs `allocate` inside out-of-memory and validation error scopes and fails with what they caught:
   * for short work whose errors should be pinned on one thing ("loading tensor X"). The scopes'
   * answer is itself a GPU wait, so it has a watchdog too.
   */
  async scoped<T>(operation: string, allocate: () => T | Promise<T>, timeoutMs = this.defaultTimeoutMs): Promise<T> {
    if (this.lostFailure) throw this.lostNow(operation);
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    // The scopes are popped whether or not the work threw: a scope left pushed would swallow later errors.
    const outcome = await Promise.resolve()
      .then(allocate)
      .then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    const pops = Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]);
    const [validation, memory] = await withWatchdog(pops, { operation, timeoutMs, what: "the device's error report" });
    if (memory) throw new GpuFailure('out-of-memory', operation, memory.message);
    if (validation) throw new GpuFailure('validation', operation, validation.message);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /**
   * Runs `dispatch` (synchronous GPU calls: pipeline creation, allocations, bind groups) inside
   * out-of-memory and validation error scopes without waiting for them: what the scopes caught
   * fails the operation that was running, named with `during`, as soon as the device answers.
   */
  scopedSync<T>(during: string, dispatch: () => T): T {
    if (this.lostFailure) return dispatch();
    const running = this.current;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    try {
      return dispatch();
    } finally {
      const validation = this.device.popErrorScope();
      const memory = this.device.popErrorScope();
      const answer = (kind: GpuFailureKind) => (error: GpuErrorLike | null) => {
        if (!error) return;
        const failure = new GpuFailure(kind, `${running?.operation ?? 'GPU work'} (${during})`, error.message);
        if (running && running === this.current) running.fail(failure);
        else this.strayErrors.push(failure);
      };
      // A lost device answers scopes with errors of its own or not at all; its loss is reported apart.
      void memory.then(answer('out-of-memory'), () => undefined);
      void validation.then(answer('validation'), () => undefined);
    }
  }
}

/** The part of tfjs's WebGPU backend every kernel runs through. */
export interface DispatchBackend {
  runWebGPUProgram(program: { shaderKey?: string; constructor: { name: string } }, ...rest: unknown[]): unknown;
}

/**
 * Puts the first dispatch of each WebGPU program (its pipeline's compilation, its first buffers and
 * bind group) inside error scopes, so an error there names the program; later dispatches of the
 * same program go straight through (their errors still arrive as uncaptured ones).
 */
export function watchFirstDispatches(backend: DispatchBackend, monitor: GpuMonitor): void {
  const seen = new Set<string>();
  const run = backend.runWebGPUProgram.bind(backend);
  backend.runWebGPUProgram = (program, ...rest) => {
    const key = program.shaderKey ?? program.constructor.name;
    if (seen.has(key)) return run(program, ...rest);
    seen.add(key);
    return monitor.scopedSync(`the first dispatch of ${program.constructor.name}`, () => run(program, ...rest));
  };
}

/** The tfjs WebGPU backend's one read-back path (every tensor.data() goes through it). */
export interface ReadBackBackend {
  getBufferData(buffer: unknown): Promise<unknown>;
}

/** Puts every read-back of a tfjs WebGPU backend under the monitor (its watchdog and failure signal). */
export function watchReadBacks(backend: ReadBackBackend, monitor: GpuMonitor): void {
  const read = backend.getBufferData.bind(backend);
  backend.getBufferData = (buffer) => monitor.wait(read(buffer), 'a read-back of a result from the GPU');
}

/** How long one training step's GPU waits may take before the step counts as stalled. */
export interface StepWatchdog {
  /** The first step compiles every shader: on a software GPU that alone takes tens of seconds. */
  firstStepMs: number;
  /**
   * The slowest throughput planned for (FLOP/s): the first step may also take as long as its
   * arithmetic needs at this rate (a big model's step on a software GPU takes many minutes).
   */
  slowestFlops: number;
  /** Later steps: at least this long… */
  floorMs: number;
  /** …and at least this many times the slowest step so far. */
  factor: number;
}

/** tfjs matMul ran at 0.3–0.7 GFLOP/s on SwiftShader on 2 cores (DESIGN.md); a third of the low end leaves room for busy cores. */
export const DEFAULT_STEP_WATCHDOG: StepWatchdog = { firstStepMs: 15 * 60_000, slowestFlops: 0.1e9, floorMs: 3 * 60_000, factor: 10 };

/**
 * What a step computes, roughly: forward and backward of the policy (6 FLOP per parameter and
 * token) and the reference's forward (2 more).
 */
export function stepFlops(parameters: number, tokensPerStep: number): number {
  return 8 * parameters * tokensPerStep;
}

/**
 * The watchdog for the next step, from the steps timed so far (seconds each); before the first,
 * from the plan's arithmetic (`flops`) at the slowest throughput planned for.
 */
export function stepTimeoutMs(stepSeconds: readonly number[], w: StepWatchdog = DEFAULT_STEP_WATCHDOG, flops = 0): number {
  if (stepSeconds.length === 0) return Math.max(w.firstStepMs, (1000 * flops) / w.slowestFlops);
  return Math.max(w.floorMs, w.factor * 1000 * Math.max(...stepSeconds));
}
