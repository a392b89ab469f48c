/**
 * The bench without a browser: each runner is a Node child process with tfjs's webgpu backend on
 * Dawn (the `webgpu` package's dawn.node), running the same measurements as the bench page (api.ts).
 * A child process, not this one, so that a hung or lost device is ended by killing it, as a page is.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { installDawn } from '../../src/cli/dawn';
import type { BenchApi, DeviceLimits } from './protocol';
import type { LaunchRunner } from './session';

/** What starts the child: a module and Node's options for it (tsx from source; nothing in a bundle). */
export interface ChildEntry {
  file: string;
  execArgv: string[];
}

/** The argument that makes an entry run as a child: `<entry> --bench-child <limits>`. */
export const CHILD_FLAG = '--bench-child';

interface Request {
  id: number;
  name: keyof BenchApi;
  c: unknown;
}
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export function nodeRunner(entry: ChildEntry): LaunchRunner {
  return async (limits) => {
    const child: ChildProcess = fork(entry.file, [CHILD_FLAG, limits], {
      execArgv: entry.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    let ended: string | null = null;
    child.on('message', (reply: Reply) => {
      const waiting = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.ok) waiting?.resolve(reply.value);
      else waiting?.reject(new Error(reply.error));
    });
    child.on('exit', (code, signal) => {
      ended = `the Node process ended (${signal ?? `exit code ${code}`})`;
      for (const { reject } of pending.values()) reject(new Error(ended));
      pending.clear();
    });
    let next = 0;
    return {
      version: `Node ${process.versions.node} (Dawn)`,
      call: (name, c) =>
        new Promise((resolve, reject) => {
          if (ended) return reject(new Error(ended));
          const id = next++;
          pending.set(id, { resolve, reject });
          child.send({ id, name, c } satisfies Request);
        }),
      close: async () => {
        if (ended) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      },
    };
  };
}

/** The child's side: answers the runner's calls on a device with the given limits, until killed. */
export async function runBenchChild(limits: DeviceLimits): Promise<void> {
  await installDawn();
  // After Dawn's set-up: from source, the kernels' WGSL imports need its module hooks.
  const { benchApi } = await import('./api');
  const api = benchApi(limits, `Node ${process.versions.node}, Dawn`);
  process.on('message', (request: Request) => {
    const method = api[request.name] as (c: unknown) => Promise<unknown>;
    method(request.c).then(
      (value) => process.send!({ id: request.id, ok: true, value } satisfies Reply),
      (e: unknown) => process.send!({ id: request.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies Reply),
    );
  });
}
