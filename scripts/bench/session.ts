/**
 * The bench's runners and their session: a runner is the bench page in headless Chromium
 * (browser-host.ts) or a Node process on Dawn (node-host.ts); the session replaces it whenever a
 * measurement may have left it unusable (a time-out, a crash, a lost device).
 */
import type { AdapterReport, BenchApi, DeviceLimits } from './protocol';

/** How long a runner may take to start its backend. */
export const READY_MS = 180_000;

export class TimeoutError extends Error {}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export type Measurement = 'matmulProbe' | 'kernel' | 'step' | 'logps';
type CaseOf<M extends Measurement> = Parameters<BenchApi[M]>[0];
type ResultOf<M extends Measurement> = Awaited<ReturnType<BenchApi[M]>>;

/** One running bench backend (a page in Chromium, a Node process on Dawn) on one device. */
export interface BenchRunner {
  /** What runs it, for the report: "Chromium 150…", "Node 20… (Dawn)". */
  version: string;
  /** Calls window.bench[name](c), or its equivalent. */
  call(name: 'ready' | Measurement, c?: unknown): Promise<unknown>;
  /** Ends it (and whatever it started), even when it no longer answers. */
  close(): Promise<void>;
}

/** Starts a runner whose device has the given limits. */
export type LaunchRunner = (limits: DeviceLimits) => Promise<BenchRunner>;

/** A bench backend, replaced whenever a measurement may have left it unusable. */
export class BenchSession {
  private runner: BenchRunner | null = null;
  private limits: DeviceLimits = 'adapter';
  adapter: AdapterReport | null = null;
  /** The last report of each kind of device opened. */
  readonly devices = new Map<DeviceLimits, AdapterReport>();
  version = '';

  constructor(
    private readonly launch: LaunchRunner,
    private readonly log: (message: string) => void,
  ) {}

  async open(limits: DeviceLimits = 'adapter'): Promise<AdapterReport> {
    this.limits = limits;
    const runner = await this.launch(limits);
    this.runner = runner;
    this.version = runner.version;
    const report = (await within(runner.call('ready'), READY_MS, 'starting the webgpu backend')) as AdapterReport;
    if (limits === 'adapter') this.adapter = report;
    this.devices.set(limits, report);
    return report;
  }

  async close(): Promise<void> {
    const runner = this.runner;
    this.runner = null;
    await runner?.close();
  }

  /**
   * One measurement with a time limit, on a device with the given limits (the runner is replaced when
   * they differ from the open one's). A timeout or a crash becomes a Failure; after it, or after a
   * failure that left the runner tainted, it is replaced before the next measurement.
   */
  async measure<M extends Measurement>(name: M, c: CaseOf<M>, timeoutMs: number, limits: DeviceLimits = 'adapter'): Promise<ResultOf<M>> {
    let outcome: ResultOf<M>;
    try {
      if (this.runner && this.limits !== limits) await this.close();
      if (!this.runner) {
        const report = await this.open(limits);
        if (limits !== 'adapter') {
          this.log(
            `device with ${limits} limits: maxStorageBufferBindingSize ${report.maxStorageBufferBindingSize}, maxBufferSize ${report.maxBufferSize}`,
          );
        }
      }
      outcome = (await within(this.runner!.call(name, c), timeoutMs, 'the measurement')) as ResultOf<M>;
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      outcome = {
        ok: false,
        failure: { kind: 'limit', reason: error instanceof TimeoutError ? reason : `the runner failed: ${reason}` },
      } as ResultOf<M>;
      await this.close();
      return outcome;
    }
    if (!outcome.ok && outcome.failure.tainted) await this.close();
    return outcome;
  }
}
