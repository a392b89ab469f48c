/**
 * dpo train's files on disk, written so that a crash (kill -9, a full disk, a lost device) leaves
 * either the old or the new version of each whole, never a mix: every file and folder is written
 * beside its place under a temporary name and renamed over it.
 *
 * output_dir/checkpoint-N/ holds what continues the run exactly, as Hugging Face Trainer's
 * checkpoints do: the adapter (PEFT files), trainer_state.json (its log history and position),
 * training_state.safetensors (the adapter's values and AdamW's moments, in the trainer's order) and
 * training_state.json (the rest of the trainer's state: epoch, position, random stream, pending metrics).
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogEntry, TrainerState } from '../core/dpo/trainer';
import { parseSafetensors, serializeSafetensors } from '../core/model/safetensors';

const STATE_TENSORS = 'training_state.safetensors';
const STATE_JSON = 'training_state.json';
export const TRAINER_STATE = 'trainer_state.json';
const CHECKPOINT = /^checkpoint-(\d+)$/;

/** A name beside `path` that no other writer uses. */
function temporary(path: string): string {
  return `${path}.tmp-${process.pid}-${Date.now()}`;
}

/** Writes data to a temporary file beside `path`, flushes it to the disk, and renames it over `path`. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = temporary(path);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  await rename(tmp, path);
}

/**
 * Replaces folder `dir` with one holding `files`: written whole under a temporary name first, then
 * swapped in (the old folder moved aside and removed only after), so a crash leaves one of the two.
 */
export async function replaceFolder(dir: string, files: Iterable<[string, Uint8Array | string]>): Promise<void> {
  const tmp = temporary(dir);
  await mkdir(tmp, { recursive: true });
  try {
    for (const [name, data] of files) await writeFileAtomic(join(tmp, name), data);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = `${tmp}.old`;
  const had = await rename(dir, old).then(
    () => true,
    () => false,
  );
  await rename(tmp, dir);
  if (had) await rm(old, { recursive: true, force: true });
}

/** The checkpoints in output_dir, by step, ascending. */
export async function listCheckpoints(outputDir: string): Promise<{ step: number; path: string }[]> {
  const names = await readdir(outputDir).catch(() => [] as string[]);
  return names
    .map((name) => ({ name, match: CHECKPOINT.exec(name) }))
    .filter((n) => n.match !== null)
    .map((n) => ({ step: Number(n.match![1]), path: join(outputDir, n.name) }))
    .sort((a, b) => a.step - b.step);
}

export interface Checkpoint {
  state: TrainerState;
  /** The log entries up to the checkpoint's step (trainer_state.json's log_history). */
  history: LogEntry[];
}

/**
 * Writes output_dir/checkpoint-<step>/ and removes the oldest checkpoints past `limit` (null: keep all).
 * `trainerStateJson`: what trainer_state.json says (the log history among it).
 */
export async function saveCheckpoint(
  outputDir: string,
  state: TrainerState,
  adapterFiles: Map<string, Uint8Array | string>,
  trainerStateJson: object,
  limit: number | null,
): Promise<string> {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  state.adapter.forEach((a, i) => tensors.set(`adapter.${i}`, { shape: [a.length], data: a }));
  state.optimizer.m.forEach((m, i) => tensors.set(`optimizer.m.${i}`, { shape: [m.length], data: m }));
  state.optimizer.v.forEach((v, i) => tensors.set(`optimizer.v.${i}`, { shape: [v.length], data: v }));
  const rest = {
    globalStep: state.globalStep,
    epoch: state.epoch,
    microInEpoch: state.microInEpoch,
    optimizerStep: state.optimizer.step,
    variables: state.adapter.length,
    dropoutRng: state.dropoutRng,
    pendingMetrics: state.pendingMetrics,
    trainBatchSize: state.trainBatchSize,
    tokensSeen: state.tokensSeen,
  };
  const dir = join(outputDir, `checkpoint-${state.globalStep}`);
  await replaceFolder(dir, [
    ...adapterFiles,
    [STATE_TENSORS, serializeSafetensors(tensors)],
    [STATE_JSON, JSON.stringify(rest, null, 2) + '\n'],
    [TRAINER_STATE, JSON.stringify(trainerStateJson, null, 2) + '\n'],
  ]);
  if (limit !== null) {
    const all = await listCheckpoints(outputDir);
    for (const old of all.slice(0, Math.max(0, all.length - limit))) await rm(old.path, { recursive: true, force: true });
  }
  return dir;
}

/** `true` (or an empty value): the newest checkpoint in output_dir; otherwise the folder given. */
export async function checkpointToResume(given: string, outputDir: string): Promise<string> {
  if (given !== 'true' && given !== '') return given;
  const all = await listCheckpoints(outputDir);
  if (all.length === 0) throw new Error(`--resume_from_checkpoint: ${outputDir} holds no checkpoint-N folder to continue from`);
  return all[all.length - 1].path;
}

/** Reads a checkpoint folder, with errors naming the folder and the file. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name));
    } catch (e) {
      throw new Error(`--resume_from_checkpoint: cannot read ${join(dir, name)} (${(e as Error).message}): not a checkpoint of dpo train`);
    }
  };
  const rest = JSON.parse((await read(STATE_JSON)).toString('utf8')) as {
    globalStep: number;
    epoch: number;
    microInEpoch: number;
    optimizerStep: number;
    variables: number;
    dropoutRng: number;
    pendingMetrics: Record<string, number[]>;
    trainBatchSize?: number;
    tokensSeen?: number;
  };
  const path = join(dir, STATE_TENSORS);
  const { tensors } = parseSafetensors(new Uint8Array(await read(STATE_TENSORS)), path);
  const array = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${path}: tensor "${name}" is missing`);
    return t.data as Float32Array;
  };
  const indices = Array.from({ length: rest.variables }, (_, i) => i);
  const trainerState = JSON.parse((await read(TRAINER_STATE)).toString('utf8')) as { log_history?: LogEntry[] };
  return {
    state: {
      globalStep: rest.globalStep,
      epoch: rest.epoch,
      microInEpoch: rest.microInEpoch,
      optimizer: {
        step: rest.optimizerStep,
        m: indices.map((i) => array(`optimizer.m.${i}`)),
        v: indices.map((i) => array(`optimizer.v.${i}`)),
      },
      adapter: indices.map((i) => array(`adapter.${i}`)),
      dropoutRng: rest.dropoutRng,
      pendingMetrics: rest.pendingMetrics,
      trainBatchSize: rest.trainBatchSize,
      tokensSeen: rest.tokensSeen,
    },
    history: trainerState.log_history ?? [],
  };
}
