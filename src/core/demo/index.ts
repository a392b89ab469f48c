export {
  allColorPrompts,
  checkAnswer,
  gradeColorAnswer,
  parseColorPrompt,
  promptText,
  inCase,
  COLOR_ITEMS,
  COLOR_QUESTIONS,
  CASE_INSTRUCTIONS,
  type ColorAnswerKind,
  type ColorPrompt,
  type LetterCase,
} from './colors';
export { allTonePrompts, gradeToneAnswer, POLITE_REPLIES, CURT_REPLIES, type TonePrompt, type ToneKind } from './tone';
export {
  colorPairs,
  tonePairs,
  corruptPairs,
  demoSftExamples,
  demoDatasetContents,
  toJsonl,
  DEMO_DATASETS,
  DEMO_DATA_SEED,
  SFT_MIX,
  SFT_ANSWERS_PER_PROMPT,
  type ConversationalPair,
  type DemoDatasetFile,
} from './datasets';
export { DEMO_PRESET } from './preset';
