import type { CommandArgs, CommandResult, CommandType, EngineInfo, StreamEvent, WorkerEvent } from '../worker/protocol';

/** The worker refused a dataset with no valid pair; `columns` are its source columns, to map by hand. */
export class RefusedDatasetError extends Error {
  constructor(
    message: string,
    readonly columns: string[],
  ) {
    super(message);
  }
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/**
 * The page's handle on the training worker: typed commands that resolve with their reply, and a
 * stream of events (progress, status, logs) for the stores.
 */
export class EngineClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private listeners = new Set<(event: StreamEvent) => void>();

  constructor() {
    this.worker = new Worker(new URL('../worker/train.worker.ts', import.meta.url), { type: 'module', name: 'dpo-trainer' });
    this.worker.onmessage = (message: MessageEvent<WorkerEvent>) => this.receive(message.data);
    this.worker.onerror = (event) => {
      const error = new Error(`the training worker failed: ${event.message || 'it could not start'}`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
      for (const listener of this.listeners) listener({ type: 'warning', message: error.message });
    };
  }

  private receive(event: WorkerEvent): void {
    if (event.type !== 'reply') {
      for (const listener of this.listeners) listener(event);
      return;
    }
    const pending = this.pending.get(event.id);
    if (!pending) return;
    this.pending.delete(event.id);
    if (event.ok) pending.resolve(event.result);
    else pending.reject(event.columns ? new RefusedDatasetError(event.error, event.columns) : new Error(event.error));
  }

  call<K extends CommandType>(type: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    const id = this.nextId++;
    return new Promise<CommandResult<K>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, type, ...args });
    });
  }

  subscribe(listener: (event: StreamEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

let client: EngineClient | null = null;

/** The one worker of this page, started on first use. */
export function engine(): EngineClient {
  client ??= new EngineClient();
  return client;
}

/** The backend training runs on, as the page names it: "WebGPU", "WebAssembly (SIMD, 2 threads)", "the CPU backend". */
export function backendName(info: EngineInfo): string {
  if (info.backend === 'webgpu') return 'WebGPU';
  if (info.backend === 'cpu' || !info.wasm) return 'the CPU backend';
  const { simd, threads } = info.wasm;
  return `WebAssembly (${simd ? 'SIMD, ' : ''}${threads === 1 ? 'one thread' : `${threads} threads`})`;
}
