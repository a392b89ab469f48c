/**
 * What the panels ask for: each action sends commands to the worker or storage and puts the answers
 * in the store. The panels import from here; the modules behind it each keep one concern.
 */
export { boot, chooseBackend, setTheme } from './boot';
export { configProblems, resetConfig, setParseError, updateConfig } from './config';
export { isDemoPreset } from './preset';
export {
  DEMO_DATASETS,
  loadDatasetFile,
  loadDemoDataset,
  PREVIEW_PAGE,
  readWithColumns,
  setMinRatingMargin,
  setPromptSplit,
  showPairTokens,
  showPreview,
} from './dataset';
export { deleteStoredHubDataset, loadHubDataset, stopHubDatasetDownload } from './hub-dataset';
export { deleteStoredModel, loadAdapterFiles, loadDemoModel, loadHubModel, loadModelFolder, setHubRepo } from './model';
export { downloadMetrics, exportAdapter, exportMerged, exportTrl, generateSamples, scorePairs, showTokenRatios } from './outputs';
export { deleteRun, duplicateRun, openRun, refreshStorageUsage, renameRun, toggleCompare } from './runs';
export {
  canResume,
  continueWithChanges,
  pauseTraining,
  resumeStoredRun,
  resumeTraining,
  startTraining,
  stopTraining,
  trainBlocker,
} from './training';
export { applyDemoPreset, prepareDemoExperiment } from './lab';
export {
  answerBeforeAfter,
  downloadMadePairs,
  loadMadePairs,
  madePairs,
  pickAnswer,
  rankWithChecker,
  sampleAnswers,
  useLabSamples,
} from './lab-samples';
