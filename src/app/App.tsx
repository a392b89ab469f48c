import { useEffect } from 'react';
import { boot } from './actions';
import { Header } from './Header';
import { LabPanel } from './lab/LabPanel';
import { DatasetPanel } from './panels/DatasetPanel';
import { ExportPanel } from './panels/ExportPanel';
import { ModelPanel } from './panels/ModelPanel';
import { ConfigPanel } from './panels/ConfigPanel';
import { RunsPanel } from './panels/RunsPanel';
import { SamplesPanel } from './panels/SamplesPanel';
import { TrainPanel } from './panels/TrainPanel';
import { Sidebar } from './Sidebar';
import { useStudio, type Section } from './store';
import { TrainBar } from './TrainBar';

const PANELS: Record<Section, () => React.JSX.Element> = {
  dataset: DatasetPanel,
  model: ModelPanel,
  configure: ConfigPanel,
  train: TrainPanel,
  runs: RunsPanel,
  samples: SamplesPanel,
  lab: LabPanel,
  export: ExportPanel,
};

let booted = false;

export function App() {
  useEffect(() => {
    // StrictMode mounts twice in development; the worker and its subscriptions must start once.
    if (booted) return;
    booted = true;
    void boot();
  }, []);
  const section = useStudio((s) => s.section);
  const notice = useStudio((s) => s.notice);
  const gpuLost = useStudio((s) => s.gpuLost);
  const Panel = PANELS[section];
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to the section
      </a>
      <Header />
      <TrainBar />
      <div className="shell">
        <Sidebar />
        <main className="main" id="main" tabIndex={0}>
          {gpuLost && (
            <div className="notice gpu-lost" role="alert" data-testid="gpu-lost">
              <span>
                The GPU device was lost during {gpuLost.operation}: {gpuLost.deviceMessage} This page cannot get its model back onto a new
                device: reload the page to continue. Nothing saved is lost: Resume continues a run from its last checkpoint.
              </span>
              <button type="button" className="btn small" onClick={() => location.reload()}>
                Reload page
              </button>
            </div>
          )}
          {notice && (
            <div className="notice" aria-live="polite">
              <span>{notice}</span>
              <button type="button" className="btn small ghost" onClick={() => useStudio.setState({ notice: null })}>
                Dismiss
              </button>
            </div>
          )}
          <Panel />
        </main>
      </div>
    </div>
  );
}
