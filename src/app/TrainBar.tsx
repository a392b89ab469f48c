import { canResume, pauseTraining, resumeTraining, startTraining, stopTraining, trainBlocker } from './actions';
import { ProgressBar } from './components/ProgressBar';
import { formatDuration, formatInt } from './format';
import { useStudio } from './store';

const STATE_LABEL: Record<string, string> = {
  idle: 'Ready',
  preparing: 'Preparing',
  running: 'Training',
  paused: 'Paused',
  stopped: 'Stopped',
  finished: 'Finished',
  failed: 'Failed',
  interrupted: 'Interrupted',
};

/** The run controls and the live status line, always in view. */
export function TrainBar() {
  const state = useStudio((s) => s);
  const t = state.training;
  const blocker = trainBlocker(state);
  // A plan that does not fit is a problem to read whole, not a routine note.
  const memoryBlocked = blocker?.startsWith('Not enough memory') ?? false;
  const running = t.state === 'running' || t.state === 'preparing';
  const resumable = canResume(state);
  const remaining = t.secondsPerStep !== null ? (t.totalSteps - t.step) * t.secondsPerStep : null;
  const fraction = t.totalSteps > 0 ? t.step / t.totalSteps : t.state === 'preparing' ? null : 0;

  let status: string;
  if (t.runId === null) status = 'No run yet';
  else {
    status = `step ${t.step} / ${t.totalSteps || '?'}`;
    if (t.state === 'running' && t.tokensPerSecond) status += ` · ${formatInt(Math.round(t.tokensPerSecond))} tokens/s`;
    if (t.state === 'running' && remaining !== null) status += ` · ETA ${formatDuration(remaining)}`;
  }

  return (
    <section className="trainbar" aria-label="Training controls">
      <div className="trainbar-buttons">
        <button
          type="button"
          className="btn primary"
          onClick={() => void startTraining()}
          disabled={blocker !== null}
          title={blocker ?? undefined}
        >
          Train
        </button>
        <button type="button" className="btn" onClick={pauseTraining} disabled={t.state !== 'running' || t.pausing}>
          Pause
        </button>
        <button type="button" className="btn" onClick={() => void resumeTraining()} disabled={!resumable}>
          Resume
        </button>
        <button
          type="button"
          className="btn danger"
          onClick={stopTraining}
          disabled={!(running || t.state === 'paused' || t.state === 'interrupted')}
        >
          Stop
        </button>
      </div>
      <div className="trainbar-status">
        <div className="trainbar-line">
          <span className={`state-badge s-${t.state}`}>{t.pausing && t.state === 'running' ? 'Pausing…' : STATE_LABEL[t.state]}</span>
          <span role="status" className="train-status">
            {status}
          </span>
          {t.checkpoint && (
            <span className={`checkpoint${t.checkpoint.error ? ' bad' : ''}`} title={t.checkpoint.error ?? undefined}>
              {t.checkpoint.error ? `checkpoint at step ${t.checkpoint.step} not saved` : `saved at step ${t.checkpoint.step}`}
            </span>
          )}
        </div>
        <ProgressBar label="training progress" fraction={t.runId === null ? 0 : fraction} />
        {/* A problem wraps to be read whole; routine notes stay on one line so the bar keeps its height. */}
        <p
          className={`trainbar-note${t.checkpoint?.error || t.state === 'failed' || (t.runId === null && memoryBlocked) ? ' bad' : ''}`}
          aria-live="polite"
        >
          {t.checkpoint?.error ??
            t.message ??
            (t.runId === null ? (blocker ?? 'Press Train to start a run with the settings in Configure.') : '')}
        </p>
      </div>
    </section>
  );
}
