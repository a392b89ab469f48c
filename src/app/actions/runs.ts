/** The stored runs: list, compare, rename, delete, duplicate with changes, open in the Train view. */
import { storageUsage, type RunRecord } from '../../storage';
import { get, IDLE_TRAINING, set } from '../store';
import { scheduleTokenStats } from './dataset';
import { message, session, showStoredRun, storage, storageMessage } from './session';

export async function refreshRuns(): Promise<RunRecord[]> {
  try {
    const runs = await storage.listRuns();
    const ids = new Set(runs.map((r) => r.id));
    set((s) => ({ runs, compare: s.compare.filter((id) => ids.has(id)) }));
    return runs;
  } catch (e) {
    set({ notice: `Could not read stored runs: ${message(e)}` });
    return [];
  }
}

export async function refreshStorageUsage(): Promise<void> {
  set({ storage: await storageUsage().catch(() => null) });
}

export function toggleCompare(id: string): void {
  set((s) => ({ compare: s.compare.includes(id) ? s.compare.filter((x) => x !== id) : [...s.compare, id] }));
}

export async function renameRun(id: string, name: string): Promise<void> {
  try {
    await storage.renameRun(id, name.trim());
  } catch (e) {
    set({ notice: storageMessage(e, 'the new name') });
  }
  await refreshRuns();
}

export async function deleteRun(id: string): Promise<void> {
  const t = get().training;
  if (t.runId === id && (t.state === 'running' || t.state === 'preparing' || t.state === 'paused') && id === session.workerRunId) {
    set({ notice: 'Stop this run before deleting it.' });
    return;
  }
  try {
    await storage.deleteRun(id);
  } catch (e) {
    set({ notice: message(e) });
  }
  if (t.runId === id) set({ training: IDLE_TRAINING });
  await refreshRuns();
  void refreshStorageUsage();
}

/** A copy with changed settings, not started; its settings go to Configure and Train starts it. */
export async function duplicateRun(id: string, changes: Parameters<typeof storage.duplicateRun>[1]): Promise<void> {
  try {
    const copy = await storage.duplicateRun(id, changes);
    await refreshRuns();
    set({
      config: { ...get().config, dpo: copy.config, lora: copy.lora, saveSteps: copy.saveSteps },
      parseErrors: {},
      draftRunId: copy.id,
      section: 'configure',
    });
    scheduleTokenStats();
  } catch (e) {
    set({ notice: storageMessage(e, 'the copy') });
  }
}

/** Shows a stored run in the Train view (curves, status; Resume when it can continue). */
export function openRun(run: RunRecord): void {
  const t = get().training;
  if (t.runId && t.runId === session.workerRunId && (t.state === 'running' || t.state === 'paused' || t.state === 'preparing')) {
    set({ section: 'train' });
    return;
  }
  showStoredRun(run);
  set({ section: 'train' });
}
