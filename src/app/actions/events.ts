/** Worker events (progress, status, logs, checkpoints) into the store, and run status into storage. */
import type { StreamEvent, TrainState } from '../../worker/protocol';
import { StorageFullError, type RunStatus } from '../../storage';
import { get, set, type Busy } from '../store';
import { refreshRuns, refreshStorageUsage } from './runs';
import { message, setTraining, storage, storageMessage } from './session';

function onProgress(task: string, label: string, fraction: number | null): void {
  const busy: Busy = { label, fraction };
  switch (task) {
    case 'model':
    case 'adapter':
      set({ modelBusy: busy });
      break;
    case 'dataset':
      set({ datasetBusy: busy });
      break;
    case 'tokenize':
      set({ tokenBusy: busy });
      break;
    case 'reference':
      setTraining({ message: label });
      break;
    case 'export':
      set({ exportBusy: label });
      break;
    case 'generate':
      set({ sampleBusy: busy });
      break;
  }
}

const STATUS_OF: Record<TrainState, RunStatus | null> = {
  preparing: null,
  running: 'running',
  paused: 'paused',
  stopped: 'stopped',
  finished: 'finished',
  failed: 'failed',
};

export function onEvent(event: StreamEvent): void {
  switch (event.type) {
    case 'progress':
      onProgress(event.task, event.label, event.fraction);
      return;
    case 'warning':
      set({ notice: event.message });
      return;
    case 'gpuFailure':
      if (event.failure.kind === 'device-lost') set({ gpuLost: event.failure });
      return;
    case 'stepStarted':
      if (event.runId !== get().training.runId) return;
      setTraining({ current: { step: event.step, startedAt: event.startedAt } });
      return;
    case 'trainStatus': {
      if (event.runId !== get().training.runId) return;
      const ended = event.state === 'finished' || event.state === 'stopped' || event.state === 'failed';
      setTraining({
        state: event.state,
        step: event.step,
        totalSteps: event.totalSteps,
        message: event.message ?? null,
        pausing: event.state === 'running' ? get().training.pausing : false,
        current: event.state === 'running' ? get().training.current : null,
        failure: event.failure ?? null,
      });
      if (event.failure?.kind === 'device-lost') set({ gpuLost: event.failure });
      // The record's step is its latest checkpoint's (saveCheckpoint writes it): what Resume continues
      // from. A run that finished but could not save its last step is, in storage, a stopped one.
      const unsaved = ended && get().training.checkpoint?.error != null;
      const status = event.state === 'finished' && unsaved ? 'stopped' : STATUS_OF[event.state];
      if (status) {
        void storage.updateRun(event.runId, { status, totalSteps: event.totalSteps, error: event.message }).then(refreshRuns, (e) =>
          set({
            notice:
              e instanceof StorageFullError ? storageMessage(e, "the run's new status") : `Could not update the run record: ${message(e)}`,
          }),
        );
      }
      if (ended) void refreshStorageUsage();
      return;
    }
    case 'trainProgress':
      if (event.runId !== get().training.runId) return;
      setTraining({
        step: event.step,
        totalSteps: event.totalSteps,
        secondsPerStep: event.secondsPerStep,
        tokensPerSecond: event.tokensPerSecond,
        memory: event.memory,
        current: null,
      });
      return;
    case 'log':
      if (event.runId !== get().training.runId) return;
      set((s) => ({ training: { ...s.training, history: [...s.training.history, event.entry] } }));
      return;
    case 'tokenRatios':
      if (event.runId !== get().training.runId || get().tokenFollow?.line !== event.view.line) return;
      set({ tokenRatios: event.view });
      return;
    case 'history':
      if (event.runId !== get().training.runId) return;
      setTraining({ history: event.entries });
      return;
    case 'checkpoint':
      if (event.runId !== get().training.runId) return;
      setTraining({ checkpoint: { step: event.step, error: event.saved ? null : event.message } });
      if (!event.saved) void refreshStorageUsage();
      return;
  }
}
