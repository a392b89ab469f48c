import { setTheme } from './actions';
import { backendName } from './engine';
import { useStudio, type ThemeChoice } from './store';

const THEMES: { value: ThemeChoice; label: string }[] = [
  { value: 'system', label: 'Auto' },
  { value: 'light', label: 'Light' },
  { value: 'dark', label: 'Dark' },
];

function EngineChip() {
  const engine = useStudio((s) => s.engine);
  const error = useStudio((s) => s.engineError);
  if (error) return <span className="chip bad">Engine failed</span>;
  if (!engine) return <span className="chip">Starting engine…</span>;
  if (engine.backend === 'webgpu') {
    return (
      <span className="chip good" title={engine.webgpu.description || undefined}>
        WebGPU · {engine.webgpu.vendor} {engine.webgpu.architecture}
      </span>
    );
  }
  const name = engine.backend === 'wasm' ? 'WebAssembly' : 'CPU backend';
  return (
    <span className="chip warn" title={backendName(engine)}>
      {name}
      {engine.webgpu.available ? '' : ' · no WebGPU'}
    </span>
  );
}

export function Header() {
  const theme = useStudio((s) => s.theme);
  return (
    <header className="header">
      <div className="brand">
        <span className="logo" aria-hidden="true">
          ▲▼
        </span>
        <h1>DPO Studio</h1>
        <span className="tagline">Preference tuning in your browser · nothing leaves this machine</span>
      </div>
      <div className="header-right">
        <EngineChip />
        <div className="segmented" role="group" aria-label="Theme">
          {THEMES.map((t) => (
            <button key={t.value} type="button" aria-pressed={theme === t.value} onClick={() => setTheme(t.value)}>
              {t.label}
            </button>
          ))}
        </div>
      </div>
    </header>
  );
}
