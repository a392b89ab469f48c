/**
 * The lab's answer sets. Before / after: the reference's and the policy's greedy answers to held-out
 * prompts, graded by the demo task's checker. Make pairs: several sampled answers per prompt, the
 * best and worst picked by the person or the checker, saved as a new preference dataset.
 */
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import { labStorage } from '../lab-storage';
import type { Text } from '../../core/data/types';
import {
  checkerPick,
  demoTaskOf,
  type CheckerPick,
  gradeDemoAnswer,
  preferredRate,
  type AnswerGrade,
  type DemoTask,
  type PreferredRate,
} from '../../core/demo/answer-grading';
import { allColorPrompts } from '../../core/demo/colors';
import { toJsonl } from '../../core/demo/datasets';
import type { AnswerModel, AnswerRequest, AnswerSet, LabPromptSource } from '../../worker/protocol';
import { pairsFromPicks, type MadePairs } from '../lab/MakePairsData';
import { downloadFile } from '../download';
import { engine } from '../engine';
import { get as studio, type Busy } from '../store';
import { loadDatasetFile } from './dataset';
import { message } from './session';

/** Where the before/after prompts come from. */
export type BeforeAfterPrompts = 'heldout' | 'dataset';

/** The held-out prompts of the colour task: the prompts of colors-heldout.jsonl. */
export const HELDOUT_COLOR_PROMPTS = allColorPrompts()
  .filter((p) => p.heldOut)
  .map((p) => p.text);

/** Prompts from a dataset other than the colour task: its eval split, or this many first prompts. */
export const DATASET_PROMPTS = 48;

/**
 * Answer lengths: a colour word and its stop token fit in 12 (a longer answer is wrong whatever
 * follows); other tasks get room for a sentence.
 */
const COLOR_ANSWER_TOKENS = 12;
const ANSWER_TOKENS = 32;

export interface BeforeAfterResult {
  answers: AnswerSet;
  /** The demo task of every prompt, when they are all of one; then grades and rates are there. */
  task: DemoTask | null;
  grades: { reference: AnswerGrade; policy: AnswerGrade }[] | null;
  rates: { reference: PreferredRate; policy: PreferredRate } | null;
  /** Where the prompts came from, in words. */
  source: string;
  seconds: number;
}

export interface SampledAnswers {
  answers: AnswerSet;
  model: AnswerModel;
  task: DemoTask | null;
  /** Per prompt and answer, when task is set. */
  grades: AnswerGrade[][] | null;
}

export interface CheckerReport {
  paired: number;
  /** Prompts the checker found no pair for, with the reason. */
  unpaired: { index: number; reason: Extract<CheckerPick, { chosen: null }>['reason'] }[];
}

interface LabSamplesState {
  beforeAfter: BeforeAfterResult | null;
  beforeAfterBusy: Busy | null;
  beforeAfterError: string | null;
  sampled: SampledAnswers | null;
  picks: { best: number | null; worst: number | null }[];
  checker: CheckerReport | null;
  sampleBusy: Busy | null;
  sampleError: string | null;
  /** The name of the dataset the pairs were last loaded as. */
  loadedAs: string | null;
}

/** Answers and picks survive a reload (not what was under way). */
export const useLabSamples = create<LabSamplesState>()(
  persist(
    (): LabSamplesState => ({
      beforeAfter: null,
      beforeAfterBusy: null,
      beforeAfterError: null,
      sampled: null,
      picks: [],
      checker: null,
      sampleBusy: null,
      sampleError: null,
      loadedAs: null,
    }),
    {
      name: 'dpo-studio-lab-samples',
      storage: labStorage,
      partialize: (s) => ({ beforeAfter: s.beforeAfter, sampled: s.sampled, picks: s.picks, checker: s.checker, loadedAs: s.loadedAs }),
    },
  ),
);

const set = useLabSamples.setState;
const get = useLabSamples.getState;

/** The worker names a run by its id; people know it by its name. */
function withRunName(answers: AnswerSet): AnswerSet {
  const { training, runs } = studio();
  const run = runs.find((r) => r.id === training.runId);
  if (!run) return answers;
  return { ...answers, policy: answers.policy.replace(`run ${run.id}`, `“${run.name}”`) };
}

/** Runs an answerPrompts command, routing its progress events to `onBusy`. */
async function answer(request: AnswerRequest, onBusy: (busy: Busy) => void): Promise<AnswerSet> {
  const stop = engine().subscribe((event) => {
    if (event.type === 'progress' && event.task === 'answer') onBusy({ label: event.label, fraction: event.fraction });
  });
  try {
    return withRunName(await engine().call('answerPrompts', request));
  } finally {
    stop();
  }
}

const promptsOf = (answers: AnswerSet): Text[] => answers.prompts.map((p) => p.prompt);

/** Greedy answers of the reference and the policy to the same prompts, graded when they are a demo task's. */
export async function answerBeforeAfter(from: BeforeAfterPrompts): Promise<void> {
  const prompts: LabPromptSource =
    from === 'heldout'
      ? { kind: 'texts', texts: HELDOUT_COLOR_PROMPTS }
      : { kind: 'eval', count: DATASET_PROMPTS, config: studio().config.dpo };
  set({ beforeAfterBusy: { label: 'starting', fraction: 0 }, beforeAfterError: null });
  const started = performance.now();
  try {
    const answers = await answer(
      {
        prompts,
        models: ['reference', 'policy'],
        answersPerPrompt: 1,
        maxNewTokens: from === 'heldout' ? COLOR_ANSWER_TOKENS : ANSWER_TOKENS,
        temperature: 0,
        seed: 0,
      },
      (busy) => set({ beforeAfterBusy: busy }),
    );
    const task = demoTaskOf(promptsOf(answers));
    const grades = task
      ? answers.prompts.map((p) => ({
          reference: gradeDemoAnswer(task, p.prompt, p.reference![0]),
          policy: gradeDemoAnswer(task, p.prompt, p.policy![0]),
        }))
      : null;
    const rates = grades
      ? { reference: preferredRate(grades.map((g) => g.reference)), policy: preferredRate(grades.map((g) => g.policy)) }
      : null;
    const source =
      from === 'heldout'
        ? `${answers.prompts.length} held-out colour prompts (colors-heldout.jsonl)`
        : `${answers.prompts.length} prompts of ${studio().dataset?.name ?? 'the dataset'}`;
    set({ beforeAfter: { answers, task, grades, rates, source, seconds: (performance.now() - started) / 1000 } });
  } catch (e) {
    set({ beforeAfterError: message(e) });
  } finally {
    set({ beforeAfterBusy: null });
  }
}

export interface SampleSettings {
  prompts: LabPromptSource;
  model: AnswerModel;
  answersPerPrompt: number;
  temperature: number;
  seed: number;
  maxNewTokens: number;
}

/** Several sampled answers per prompt from one model; the picks start empty. */
export async function sampleAnswers(settings: SampleSettings): Promise<void> {
  set({ sampleBusy: { label: 'starting', fraction: 0 }, sampleError: null });
  try {
    const answers = await answer(
      {
        prompts: settings.prompts,
        models: [settings.model],
        answersPerPrompt: settings.answersPerPrompt,
        maxNewTokens: settings.maxNewTokens,
        temperature: settings.temperature,
        seed: settings.seed,
      },
      (busy) => set({ sampleBusy: busy }),
    );
    const task = demoTaskOf(promptsOf(answers));
    const grades = task ? answers.prompts.map((p) => p[settings.model]!.map((a) => gradeDemoAnswer(task, p.prompt, a))) : null;
    set({
      sampled: { answers, model: settings.model, task, grades },
      picks: answers.prompts.map(() => ({ best: null, worst: null })),
      checker: null,
      loadedAs: null,
    });
  } catch (e) {
    set({ sampleError: message(e) });
  } finally {
    set({ sampleBusy: null });
  }
}

export function pickAnswer(promptIndex: number, role: 'best' | 'worst', answerIndex: number): void {
  set((s) => ({ picks: s.picks.map((p, i) => (i === promptIndex ? { ...p, [role]: answerIndex } : p)), loadedAs: null }));
}

/** The checker's best (a preferred answer) and worst (a non-preferred one) for every prompt it can pair. */
export function rankWithChecker(): void {
  const { sampled } = get();
  if (!sampled?.grades) return;
  const unpaired: CheckerReport['unpaired'] = [];
  const picks = sampled.grades.map((grades, index) => {
    const pick = checkerPick(grades);
    if (pick.chosen === null) {
      unpaired.push({ index, reason: pick.reason });
      return { best: null, worst: null };
    }
    return { best: pick.chosen, worst: pick.rejected };
  });
  set({ picks, checker: { paired: picks.length - unpaired.length, unpaired }, loadedAs: null });
}

/** The pairs the current picks make. */
export function madePairs(state: Pick<LabSamplesState, 'sampled' | 'picks'>): MadePairs {
  const { sampled, picks } = state;
  if (!sampled) return { pairs: [], skipped: [] };
  return pairsFromPicks(
    sampled.answers.prompts.map((p, i) => ({
      prompt: p.prompt,
      answers: p[sampled.model] ?? [],
      best: picks[i]?.best ?? null,
      worst: picks[i]?.worst ?? null,
    })),
  );
}

export const MADE_PAIRS_FILE = 'made-pairs.jsonl';

export function downloadMadePairs(): void {
  downloadFile(MADE_PAIRS_FILE, toJsonl(madePairs(get()).pairs), 'application/jsonl');
}

/** Loads the made pairs as the current dataset, as if the file had been dropped. */
export async function loadMadePairs(): Promise<void> {
  const { pairs } = madePairs(get());
  if (pairs.length === 0) return;
  await loadDatasetFile(new Blob([toJsonl(pairs)], { type: 'application/jsonl' }), MADE_PAIRS_FILE);
  if (!studio().datasetError) set({ loadedAs: MADE_PAIRS_FILE });
}
