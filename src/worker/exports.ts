import type { RowSource } from '../core/data/row-store';
import { splitTrainEval } from '../core/data/split';
import type { PreferenceRow } from '../core/data/types';
import { datasetJsonl, mergeAdapter, mergedModelFiles, trlScript } from '../core/export';
import { saveAdapter } from '../core/model/peft';
import { loadModelTensors } from '../core/model/safetensors';
import type { LoraAdapter } from '../core/model/types';
import type { ModelSession } from './model-session';
import type { ExportedFile, Task, TrlExportRequest } from './protocol';
import { zipArchive } from './zip';

type Progress = (task: Task, label: string, fraction: number | null) => void;

/** Tokenizer files travel with a merged model and with a model bundled beside a TRL script. */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'generation_config.json',
  'chat_template.jinja',
  'special_tokens_map.json',
];

function slug(name: string): string {
  return (
    name
      .replace(/^.*\//, '')
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'model'
  );
}

async function zipped(fileName: string, files: Map<string, Uint8Array | string | Blob>): Promise<ExportedFile> {
  return { fileName, blob: await zipArchive(files) };
}

async function copyFiles(
  session: ModelSession,
  names: string[],
  into: Map<string, Uint8Array | string | Blob>,
  prefix = '',
): Promise<void> {
  const src = await session.files();
  for (const name of names) {
    const bytes = await src.readBytes(name);
    if (bytes !== null) into.set(prefix + name, bytes);
  }
}

/** The adapter in PEFT's layout (adapter_config.json, adapter_model.safetensors), zipped. */
export async function exportAdapterZip(policy: LoraAdapter, session: ModelSession): Promise<ExportedFile> {
  const files = await saveAdapter(policy, session.baseModelId);
  return zipped(`${slug(session.baseModelId)}-dpo-adapter.zip`, files);
}

/** The adapter folded into the base weights: config.json, model.safetensors and the tokenizer files. */
export async function exportMergedZip(policy: LoraAdapter, session: ModelSession, progress: Progress): Promise<ExportedFile> {
  progress('export', 'reading the base weights', null);
  const base = await loadModelTensors(await session.files());
  progress('export', 'merging the adapter into the weights', null);
  const merged = await mergeAdapter(session.model.config, base, policy);
  const files = mergedModelFiles(session.model.config, merged);
  await copyFiles(session, TOKENIZER_FILES, files);
  progress('export', 'done', 1);
  return zipped(`${slug(session.baseModelId)}-dpo-merged.zip`, files);
}

/** Pairs read at a time into a dataset file: a file read on demand is written without being held. */
const JSONL_PIECE_PAIRS = 1024;

/** These rows as a TRL dataset file, written a piece at a time into a Blob. */
async function jsonlFile(indices: readonly number[], rows: RowSource): Promise<Blob> {
  const pieces: Blob[] = [];
  let firstRow: PreferenceRow | null = null;
  for (let start = 0; start < indices.length; start += JSONL_PIECE_PAIRS) {
    const piece = await rows.rows(indices.slice(start, start + JSONL_PIECE_PAIRS));
    firstRow ??= piece[0];
    pieces.push(new Blob([datasetJsonl(piece, { firstRow, rowsBefore: start })]));
  }
  return new Blob(pieces, { type: 'application/jsonl' });
}

/**
 * A runnable TRL script with the same hyperparameters, the training (and held-out) pairs as JSONL
 * beside it, and, for a model served by this page (the demo), the model itself.
 */
export async function exportTrlZip(
  request: TrlExportRequest,
  session: ModelSession,
  rows: RowSource,
  /** The rows the run trains on (before its eval split), by index. */
  trainingRows: readonly number[],
): Promise<ExportedFile> {
  const { train, eval: held } = splitTrainEval([...trainingRows], request.config.eval_split, request.config.seed);
  const files = new Map<string, Uint8Array | string | Blob>();
  const bundled = session.source.kind === 'url';
  const modelId = bundled ? 'model' : request.modelName;
  if (bundled) await copyFiles(session, ['config.json', 'model.safetensors', ...TOKENIZER_FILES], files, 'model/');
  files.set('train.jsonl', await jsonlFile(train, rows));
  if (held.length > 0) files.set('eval.jsonl', await jsonlFile(held, rows));
  files.set(
    'train_dpo.py',
    trlScript({
      // A split too small to hold out a pair trains on everything, in the studio and in the script.
      config: held.length > 0 ? request.config : { ...request.config, eval_split: 0 },
      lora: request.lora,
      modelId,
      datasetFile: 'train.jsonl',
      evalDatasetFile: held.length > 0 ? 'eval.jsonl' : undefined,
    }),
  );
  return zipped(`${slug(session.baseModelId)}-trl.zip`, files);
}
