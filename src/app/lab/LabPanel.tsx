import { useState } from 'react';
import { BeforeAfterLab } from './BeforeAfterLab';
import { CorruptionLab } from './CorruptionLab';
import { MakePairsLab } from './MakePairsLab';
import { SweepLab } from './SweepLab';

const TABS = [
  { id: 'corruption', title: 'Corruption exercise', Body: CorruptionLab },
  { id: 'sweep', title: 'β / loss sweep', Body: SweepLab },
  { id: 'before-after', title: 'Before / after', Body: BeforeAfterLab },
  { id: 'make-pairs', title: 'Make pairs', Body: MakePairsLab },
] as const;

type TabId = (typeof TABS)[number]['id'];

/** The teaching lab: guided experiments on the loaded model and dataset, one per tab. */
export function LabPanel() {
  const [tab, setTab] = useState<TabId>('corruption');
  const current = TABS.find((t) => t.id === tab)!;
  return (
    <div className="panel">
      <div className="tabs" role="tablist" aria-label="Lab experiments">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`lab-tab-${t.id}`}
            aria-selected={t.id === tab}
            aria-controls={`lab-panel-${t.id}`}
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
