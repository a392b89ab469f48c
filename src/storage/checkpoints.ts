/**
 * Crash-safe checkpoints. A save never overwrites the checkpoint that is current:
 *   1. the new checkpoint is written under a fresh key (ckpt/<run>/<unique>), in its own transaction;
 *   2. one transaction then switches the run's pointer (ckpt-latest/<run>) to it, deletes every other
 *      checkpoint of the run (older ones, and leftovers of saves that failed before their switch),
 *      and records step and history on the run record, if there is one.
 * A crash or error before step 2 commits leaves the pointer, and the checkpoint it names, as they
 * were. Loading reads the pointer and its checkpoint in one transaction, so it sees one or the other.
 */
import type { LogEntry, TrainerState } from '../core/dpo/trainer';
import { keysWithPrefix, newId, ownBuffer, read, request, segment, write, type UseStore } from './db';
import { runKey, type RunRecord } from './runs';

export interface CheckpointInput {
  /** The optimizer step the state was taken after; must equal state.globalStep. */
  step: number;
  state: TrainerState;
  /** The metric history up to this step: what a resumed run continues from. */
  history: LogEntry[];
}

export interface Checkpoint extends CheckpointInput {
  runId: string;
  /** Milliseconds since the epoch. */
  savedAt: number;
}

interface LatestPointer {
  key: string;
  step: number;
}

const latestKey = (runId: string) => `ckpt-latest/${segment(runId)}`;
const checkpointPrefix = (runId: string) => `ckpt/${segment(runId)}/`;

/** Typed arrays as IndexedDB should hold them: each with a buffer of its own size. */
function storableState(state: TrainerState): TrainerState {
  return {
    ...state,
    adapter: state.adapter.map(ownBuffer),
    optimizer: { ...state.optimizer, m: state.optimizer.m.map(ownBuffer), v: state.optimizer.v.map(ownBuffer) },
  };
}

export async function saveCheckpoint(store: UseStore, runId: string, input: CheckpointInput): Promise<void> {
  const { step, state, history } = input;
  if (!Number.isInteger(step) || step < 0) throw new Error(`saveCheckpoint: step must be a whole number ≥ 0, got ${step}`);
  if (state.globalStep !== step) {
    throw new Error(`saveCheckpoint: step ${step} does not match the trainer state's globalStep ${state.globalStep}`);
  }
  const what = `checkpoint of run "${runId}" at step ${step}`;
  const key = `${checkpointPrefix(runId)}${String(step).padStart(10, '0')}-${newId()}`;
  const record: Checkpoint = { runId, step, state: storableState(state), history, savedAt: Date.now() };
  try {
    await write(store, what, async (s) => {
      await request(s.put(record, key));
    });
    await write(store, what, async (s) => {
      const pointer: LatestPointer = { key, step };
      await request(s.put(pointer, latestKey(runId)));
      for (const other of await keysWithPrefix(s, checkpointPrefix(runId))) {
        if (other !== key) s.delete(other);
      }
      const run = (await request(s.get(runKey(runId)))) as RunRecord | undefined;
      if (run !== undefined) await request(s.put({ ...run, step, history, updatedAt: Date.now() }, runKey(runId)));
    });
  } catch (error) {
    // Free the space the unswitched checkpoint took (unless the pointer names it after all). If this
    // fails too, the next successful save removes it.
    await write(store, `cleanup of ${what}`, async (s) => {
      const pointer = (await request(s.get(latestKey(runId)))) as LatestPointer | undefined;
      if (pointer?.key !== key) await request(s.delete(key));
    }).catch(() => undefined);
    throw error;
  }
}

export function loadLatestCheckpoint(store: UseStore, runId: string): Promise<Checkpoint | undefined> {
  return read(store, async (s) => {
    const pointer = (await request(s.get(latestKey(runId)))) as LatestPointer | undefined;
    if (pointer === undefined) return undefined;
    const checkpoint = (await request(s.get(pointer.key))) as Checkpoint | undefined;
    if (checkpoint === undefined) {
      throw new Error(`run "${runId}": the latest checkpoint (step ${pointer.step}, key ${pointer.key}) is missing from storage`);
    }
    return checkpoint;
  });
}
