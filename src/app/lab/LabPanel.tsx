import { useRef, useState, type KeyboardEvent } from 'react';
import { BeforeAfterLab } from './BeforeAfterLab';
import { CorruptionLab } from './CorruptionLab';
import { MarginExplorer } from './MarginExplorer';
import { MakePairsLab } from './MakePairsLab';
import { SweepLab } from './SweepLab';

const TABS = [
  { id: 'corruption', title: 'Corruption exercise', Body: CorruptionLab },
  { id: 'sweep', title: 'β / loss sweep', Body: SweepLab },
  { id: 'margin', title: 'β / margin explorer', Body: MarginExplorer },
  { id: 'before-after', title: 'Before / after', Body: BeforeAfterLab },
  { id: 'make-pairs', title: 'Make pairs', Body: MakePairsLab },
] as const;

type TabId = (typeof TABS)[number]['id'];

/** The teaching lab: guided experiments on the loaded model and dataset, one per tab. */
export function LabPanel() {
  const [tab, setTab] = useState<TabId>('corruption');
  const current = TABS.find((t) => t.id === tab)!;
  const buttons = useRef(new Map<TabId, HTMLButtonElement>());
  // The tabs pattern: one tab stop; arrow keys (wrapping), Home and End choose a tab and focus it.
  const onKeyDown = (e: KeyboardEvent) => {
    const at = TABS.findIndex((t) => t.id === tab);
    const to =
      e.key === 'ArrowRight'
        ? (at + 1) % TABS.length
        : e.key === 'ArrowLeft'
          ? (at + TABS.length - 1) % TABS.length
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? TABS.length - 1
              : null;
    if (to === null) return;
    e.preventDefault();
    setTab(TABS[to].id);
    buttons.current.get(TABS[to].id)?.focus();
  };
  return (
    <div className="panel">
      <div className="tabs" role="tablist" aria-label="Lab experiments" onKeyDown={onKeyDown}>
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`lab-tab-${t.id}`}
            aria-selected={t.id === tab}
            aria-controls={`lab-panel-${t.id}`}
            tabIndex={t.id === tab ? 0 : -1}
            ref={(el) => {
              if (el) buttons.current.set(t.id, el);
              else buttons.current.delete(t.id);
            }}
            className={`tab${t.id === tab ? ' active' : ''}`}
            onClick={() => setTab(t.id)}
          >
            {t.title}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`lab-panel-${current.id}`} aria-labelledby={`lab-tab-${current.id}`}>
        <current.Body />
      </div>
    </div>
  );
}
