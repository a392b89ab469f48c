/**
 * A GPU operation that ended badly: the device refused an allocation, rejected a command, was lost,
 * or stopped making progress. One typed error carries what was being done, the device's own words
 * and what to change, so the studio and the CLI say the same thing.
 */

export type GpuFailureKind = 'out-of-memory' | 'validation' | 'device-lost' | 'stalled';

const WHAT: Record<GpuFailureKind, string> = {
  'out-of-memory': 'the GPU ran out of memory',
  validation: 'the GPU rejected a command (a validation error)',
  'device-lost': 'the GPU device was lost',
  stalled: 'it made no progress',
};

/** How a new device is had after a loss, where the work runs: the studio's page, or a command. */
export type Restart = 'page' | 'command';

const RESTART: Record<Restart, string> = {
  page: 'reload the page to get a new device, then continue from the last checkpoint',
  command: 'run the command again for a new device, from the last checkpoint (--adapter)',
};

/**
 * What a person can change, by kind of failure; the operation picks the words for "smaller", and
 * `restart` how to get a new device after a loss.
 */
export function suggestionFor(kind: GpuFailureKind, operation: string, restart: Restart = 'page'): string {
  const smaller = /generat|sampl|answer/i.test(operation)
    ? 'fewer new tokens or fewer prompts at once'
    : /load/i.test(operation)
      ? 'a smaller model'
      : 'a smaller batch size (per_device_train_batch_size), a shorter max length, or a smaller model';
  switch (kind) {
    case 'out-of-memory':
      return `Try ${smaller}; close other tabs or programs that use the GPU.`;
    case 'validation':
      return `The work asked for more than this device allows (its limits): try ${smaller}.`;
    case 'device-lost':
      return (
        `The GPU reset or was taken away (a driver crash, too long a dispatch, or memory pressure): ${RESTART[restart]}; if it happens again, try ` +
        smaller +
        '.'
      );
    case 'stalled':
      return `If the device is merely slow, a step may need more time: try ${smaller}, or the CPU backend.`;
  }
}

export class GpuFailure extends Error {
  override readonly name = 'GpuFailure';

  constructor(
    readonly kind: GpuFailureKind,
    /** What was being done: "training step 3 (forward/backward)", "loading model.layers.0.q_proj.weight". */
    readonly operation: string,
    /** The device's own message (or, for a stall, how long nothing happened). */
    readonly deviceMessage: string,
    readonly suggestion: string = suggestionFor(kind, operation),
  ) {
    super(`${capitalize(operation)} failed: ${WHAT[kind]}${deviceMessage ? ` (${oneLine(deviceMessage)})` : ''}. ${suggestion}`);
  }

  /** The fields that cross a postMessage (an Error's own properties do not all survive cloning). */
  toJSON(): GpuFailureInfo {
    return {
      kind: this.kind,
      operation: this.operation,
      deviceMessage: this.deviceMessage,
      suggestion: this.suggestion,
      message: this.message,
    };
  }
}

export interface GpuFailureInfo {
  kind: GpuFailureKind;
  operation: string;
  deviceMessage: string;
  suggestion: string;
  /** The whole sentence, as GpuFailure.message. */
  message: string;
}

/** A device's message on one line: Dawn adds its call chain as " - While calling …" lines. */
function oneLine(message: string): string {
  return message
    .trim()
    .replace(/\.?\s*\n\s*-\s*/g, '; ')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\.$/, '');
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Seconds as a person reads them in a message. */
export function formatWait(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 6000) / 10} min`;
}

/**
 * Settles as `promise` does, unless it has not settled after `timeoutMs`: then rejects with a stalled
 * GpuFailure naming `operation`. The promise itself cannot be cancelled; its late result is dropped.
 */
export function withWatchdog<T>(promise: Promise<T>, options: { operation: string; timeoutMs: number; what?: string }): Promise<T> {
  const { operation, timeoutMs } = options;
  if (!Number.isFinite(timeoutMs)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new GpuFailure('stalled', operation, `${options.what ?? 'a GPU wait'} did not finish in ${formatWait(timeoutMs)}`));
    }, timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
