import { formatInt, formatSetting } from './format';
import { useStudio, type Section } from './store';

/** The sections in the order a person works through them, each with a one-line state. */
export function Sidebar() {
  const s = useStudio();
  const lines: { id: Section; title: string; detail: string; done?: boolean }[] = [
    {
      id: 'dataset',
      title: 'Dataset',
      detail: s.dataset ? `${formatInt(s.dataset.rows)} pairs · ${s.dataset.name}` : s.datasetBusy ? 'loading…' : 'drop a file',
      done: !!s.dataset && s.dataset.rows > 0,
    },
    {
      id: 'model',
      title: 'Model',
      detail: s.model ? `${s.model.name} · ${s.model.modelType}` : s.modelBusy ? 'loading…' : 'choose a model',
      done: !!s.model,
    },
    {
      id: 'configure',
      title: 'Configure',
      detail: `${s.config.dpo.loss_type.join('+')} · β ${s.config.dpo.beta} · lr ${formatSetting(s.config.dpo.learning_rate)}`,
    },
    { id: 'train', title: 'Train', detail: s.training.runId ? `step ${s.training.step} / ${s.training.totalSteps || '?'}` : 'live charts' },
    { id: 'runs', title: 'Runs', detail: s.runs.length ? `${s.runs.length} saved` : 'none yet' },
    { id: 'samples', title: 'Evaluate & sample', detail: 'policy vs reference' },
    { id: 'lab', title: 'Lab', detail: 'corruption, sweeps, pairs' },
    { id: 'export', title: 'Export', detail: 'PEFT, merged, TRL' },
  ];
  return (
    <nav className="sidebar" aria-label="Sections">
      <ol>
        {lines.map((l, i) => (
          <li key={l.id}>
            <button
              type="button"
              className={`nav-item${s.section === l.id ? ' active' : ''}`}
              aria-current={s.section === l.id ? 'page' : undefined}
              onClick={() => {
                useStudio.setState({ section: l.id });
                // Keyboard and screen-reader users land on the section they chose.
                requestAnimationFrame(() => document.getElementById('main')?.focus({ preventScroll: true }));
              }}
            >
              <span className={`nav-num${l.done ? ' done' : ''}`} aria-hidden="true">
                {l.done ? '✓' : i + 1}
              </span>
              <span className="nav-text">
                <span className="nav-title">{l.title}</span>
                <span className="nav-detail">{l.detail}</span>
              </span>
            </button>
          </li>
        ))}
      </ol>
    </nav>
  );
}
