/// <reference lib="webworker" />
/**
 * The studio's training worker: owns tfjs, the model, the dataset, the trainer and the checkpoints.
 * Commands arrive by postMessage (protocol.ts); each gets one reply, and long work streams events.
 */
import { answerPrompts } from './answer-prompts';
import { GpuFailure } from '../core/gpu';
import { gpu, initBackend } from './backend';
import { DatasetSession, NoValidPairError } from './dataset-session';
import { exportAdapterZip, exportMergedZip, exportTrlZip } from './exports';
import { generateSamples, scorePairs, tokenRatioView, type ActivePolicy } from './evaluation';
import { ModelSession } from './model-session';
import { measurePairGradients } from './pair-gradients';
import type { Command, CommandArgs, CommandResult, CommandType, EngineInfo, StreamEvent, Task, WorkerEvent } from './protocol';
import { storeDataset } from './persist';
import { TrainingSession } from './training-session';
import type { TokenizedPair } from '../core/data/types';
import type { DPOConfig } from '../core/dpo/config';

declare const self: DedicatedWorkerGlobalScope;

function post(event: WorkerEvent): void {
  self.postMessage(event);
}

const emit = (event: StreamEvent) => post(event);
const progress = (task: Task, label: string, fraction: number | null) => post({ type: 'progress', task, label, fraction });

let engine: EngineInfo | null = null;
let model: ModelSession | null = null;
let dataset: DatasetSession | null = null;
let training: TrainingSession | null = null;
/** Stop arrived while a run was still being prepared: it stops as soon as it exists. */
let stopWhilePreparing = false;
/** What scoring, samples and exports use: the latest run's adapter, a loaded adapter, or the base model. */
let policySource: 'run' | 'loaded' | 'base' = 'base';
/** The pair whose token view follows a run: sent again after each of its logged steps. */
let followed: { pair: TokenizedPair; config: DPOConfig } | null = null;

/** After each logged step of `run`: the followed pair's token view under the run's adapter. */
function followTokens(run: TrainingSession, m: ModelSession, backend: string): () => Promise<void> {
  return async () => {
    if (!followed) return;
    const active = { label: `run ${run.runId} at step ${run.step}`, policy: run.policy, reference: run.reference };
    emit({ type: 'tokenRatios', runId: run.runId, view: await tokenRatioView(m, followed.pair, followed.config, active, backend) });
  };
}

function requireEngine(): EngineInfo {
  if (!engine) throw new Error('the engine is not started yet');
  return engine;
}

function requireModel(): ModelSession {
  if (!model) throw new Error('load a model first');
  return model;
}

function requireDataset(): DatasetSession {
  if (!dataset) throw new Error('load a preference dataset first');
  return dataset;
}

function requireIdle(what: string): void {
  if (training && (training.state === 'running' || training.state === 'preparing')) {
    throw new Error(`${what} is not possible while a run is training; pause or stop it first`);
  }
}

function activePolicy(): ActivePolicy {
  const m = requireModel();
  if (policySource === 'run' && training) {
    return { label: `run ${training.runId} at step ${training.step}`, policy: training.policy, reference: training.reference };
  }
  if (policySource === 'loaded' && m.start) return { label: m.start.name, policy: m.start.adapter, reference: null };
  return { label: 'base model (no adapter)', policy: null, reference: null };
}

/** Commands that change the model, data or GPU work run one at a time, in order. */
let queue: Promise<unknown> = Promise.resolve();
function exclusive<T>(work: () => Promise<T>): Promise<T> {
  const next = queue.then(work, work);
  queue = next.catch(() => undefined);
  return next;
}

type Handlers = { [K in CommandType]: (args: CommandArgs<K>) => Promise<CommandResult<K>> };

const handlers: Handlers = {
  init: ({ backend, limits }) =>
    exclusive(async () => {
      if (engine) return engine;
      engine = await initBackend(backend, limits);
      return engine;
    }),

  loadModel: ({ source }) =>
    exclusive(async () => {
      requireEngine();
      requireIdle('Loading a model');
      const next = await gpu().run(`loading the model ${source.name}`, () => ModelSession.load(source, progress));
      training?.dispose();
      training = null;
      model?.dispose();
      model = next;
      followed = null;
      policySource = model.start ? 'loaded' : 'base';
      return model.info();
    }),

  loadAdapter: ({ files }) =>
    exclusive(async () => {
      const m = requireModel();
      requireIdle('Loading an adapter');
      progress('adapter', 'reading the adapter', null);
      await gpu().run('loading the adapter', () => m.loadStartAdapter(files));
      policySource = 'loaded';
      return m.info();
    }),

  loadDataset: ({ files, name, options }) =>
    exclusive(async () => {
      requireIdle('Loading a dataset');
      dataset = await DatasetSession.load(files, name, options ?? {}, progress);
      followed = null;
      // Kept in browser storage, so that a reload opens on it again (and a run on it can resume).
      const notKept = await storeDataset(dataset, 'load');
      if (notKept) emit({ type: 'warning', message: notKept });
      return dataset.summary();
    }),

  tokenStats: ({ maxLength, truncationMode }) =>
    exclusive(async () => {
      const d = requireDataset();
      const tokenized = await d.tokenize(requireModel().tokenizer, progress);
      return d.stats(tokenized, maxLength, truncationMode);
    }),

  previewRows: async ({ offset, count, query }) => {
    const d = requireDataset();
    return { offset, query: query ?? '', ...(await d.preview(offset, count, query)) };
  },

  pairTokens: ({ index, maxLength, maxPromptLength, truncationMode }) =>
    exclusive(async () => {
      const d = requireDataset();
      return d.pairView(index, requireModel().tokenizer, {
        max_length: maxLength,
        max_prompt_length: maxPromptLength,
        truncation_mode: truncationMode,
      });
    }),

  train: ({ spec }) =>
    exclusive(async () => {
      try {
        const e = requireEngine();
        const m = requireModel();
        if (training?.active) throw new Error('a run is already in progress; stop it before starting another');
        // A lab run brings its own pairs; the dataset loaded in the studio is left as it is, and reading
        // them shows as the run's preparation, not as a dataset loading.
        const own = spec.dataset;
        const prepare: typeof progress = own
          ? (_task, label, fraction) => progress('reference', `${own.name}: ${label}`, fraction)
          : progress;
        const d = own ? await DatasetSession.load([own.file], own.name, {}, prepare) : requireDataset();
        const tokenized = await d.tokenize(m.tokenizer, prepare);
        const pairs = d.trainingPairs(tokenized, spec.config.max_length, spec.config.truncation_mode);
        if (pairs.length === 0) throw new Error('no pairs are left to train on: every row was invalid or dropped for max_length');
        const notKept = await storeDataset(d);
        if (notKept) emit({ type: 'warning', message: notKept });
        training?.dispose();
        training = null;
        const run = await TrainingSession.prepare(m, pairs, spec, e.backend, emit, progress);
        training = run;
        run.afterLog = followTokens(run, m, e.backend);
        policySource = 'run';
        if (stopWhilePreparing) run.stop();
        void run.run();
        return { totalSteps: run.totalSteps, startStep: run.step };
      } finally {
        stopWhilePreparing = false;
      }
    }),

  pause: async () => {
    training?.pause();
    return null;
  },

  resume: async () => {
    training?.resume();
    return null;
  },

  checkpointSoon: async () => {
    training?.checkpointSoon();
    return null;
  },

  stop: async () => {
    if (training?.active) training.stop();
    else stopWhilePreparing = true;
    return null;
  },

  scorePairs: ({ config, count }) =>
    exclusive(async () => {
      requireIdle('Scoring');
      const m = requireModel();
      const d = requireDataset();
      const tokenized = await d.tokenize(m.tokenizer, progress);
      const pairs = d.trainingPairs(tokenized, config.max_length, config.truncation_mode);
      const policy = activePolicy();
      return gpu().run(`scoring pairs with ${policy.label}`, () =>
        scorePairs(m, pairs, config, count, policy, requireEngine().backend, progress),
      );
    }),

  tokenRatios: ({ config, line, follow }) =>
    exclusive(async () => {
      const m = requireModel();
      const pair = await requireDataset().pairAtLine(line, m.tokenizer);
      followed = follow ? { pair, config } : null;
      // A run in progress sends the view at its next logging step; the GPU is its until then.
      if (training && (training.state === 'running' || training.state === 'preparing')) {
        if (!follow) throw new Error('the token view is not possible while a run is training; follow the pair, or pause the run first');
        return null;
      }
      const policy = activePolicy();
      return gpu().run(`the token view with ${policy.label}`, () => tokenRatioView(m, pair, config, policy, requireEngine().backend));
    }),

  generate: (request) =>
    exclusive(async () => {
      requireIdle('Sampling');
      const policy = activePolicy();
      return gpu().run(`generation with ${policy.label}`, () =>
        generateSamples(requireModel(), dataset?.source ?? null, request, policy, progress),
      );
    }),

  exportAdapter: () =>
    exclusive(async () => {
      requireIdle('Exporting');
      const p = activePolicy();
      if (!p.policy) throw new Error('there is no adapter to export yet: train a run or load an adapter');
      return gpu().run('exporting the adapter', () => exportAdapterZip(p.policy!, requireModel()));
    }),

  exportMerged: () =>
    exclusive(async () => {
      requireIdle('Exporting');
      const p = activePolicy();
      if (!p.policy) throw new Error('there is no adapter to merge yet: train a run or load an adapter');
      return gpu().run('merging the adapter into the model', () => exportMergedZip(p.policy!, requireModel(), progress));
    }),

  exportTrl: (request) =>
    exclusive(async () => {
      const m = requireModel();
      const d = requireDataset();
      const tokenized = await d.tokenize(m.tokenizer, progress);
      const pairs = d.trainingPairs(tokenized, request.config.max_length, request.config.truncation_mode);
      return exportTrlZip(request, m, d.source, pairs.rows);
    }),

  answerPrompts: (request) =>
    exclusive(async () => {
      requireIdle('Answering prompts');
      const policy = activePolicy();
      return gpu().run(`answering prompts (generation) with ${policy.label}`, () =>
        answerPrompts(requireModel(), dataset, request, policy, progress),
      );
    }),

  pairGradients: (request) =>
    exclusive(async () => {
      requireIdle('Measuring per-pair gradients');
      const policy = activePolicy();
      return gpu().run(`measuring per-pair gradients with ${policy.label}`, () =>
        measurePairGradients(requireModel(), request, policy, requireEngine().backend, progress),
      );
    }),
};

self.onmessage = async (message: MessageEvent<Command>) => {
  const { id, type, ...args } = message.data;
  try {
    const handler = handlers[type] as (a: unknown) => Promise<unknown>;
    if (!handler) throw new Error(`unknown command "${type}"`);
    const result = await handler(args);
    post({ type: 'reply', id, ok: true, result });
  } catch (e) {
    if (e instanceof GpuFailure) {
      post({ type: 'gpuFailure', failure: e.toJSON() });
      post({ type: 'reply', id, ok: false, error: e.message, failure: e.toJSON() });
    } else if (e instanceof NoValidPairError) {
      post({ type: 'reply', id, ok: false, error: e.message, columns: e.columns });
    } else post({ type: 'reply', id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
};
