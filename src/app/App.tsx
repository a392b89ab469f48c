import { useEffect, useState } from 'react';
import { probeWebGPU, type AdapterInfo } from './webgpu';

const COMING = [
  ['Dataset', 'Drop a JSONL or JSON preference file; see its format, bad lines with reasons, and token lengths.'],
  ['Model', 'Start from the demo model, a model folder, or a Hugging Face repo, with LoRA adapters.'],
  ['Train', 'DPO on WebGPU in a worker, with live loss, rewards, margins and accuracy charts.'],
  ['Keep', 'Checkpoints in browser storage that survive a reload; PEFT adapters and a TRL script to export.'],
] as const;

export function App() {
  const [adapter, setAdapter] = useState<AdapterInfo | null>(null);

  useEffect(() => {
    probeWebGPU().then(setAdapter, (e: unknown) =>
      setAdapter({ available: false, vendor: '', architecture: '', reason: String(e) }),
    );
  }, []);

  return (
    <main className="page">
      <header className="masthead">
        <h1>DPO Studio</h1>
        <p className="tagline">
          Train a small language model on your own preference data with Direct Preference Optimization, in this
          browser tab. Nothing leaves your machine.
        </p>
      </header>

      <section className="card" aria-labelledby="engine-heading">
        <h2 id="engine-heading">This machine</h2>
        <p role="status" className="adapter">
          {adapter === null
            ? 'Looking for a WebGPU adapter…'
            : adapter.available
              ? `WebGPU adapter: ${adapter.vendor} · ${adapter.architecture}`
              : `No WebGPU: ${adapter.reason} Training will fall back to the CPU backend.`}
        </p>
      </section>

      <section className="card" aria-labelledby="now-heading">
        <h2 id="now-heading">Available now: the engine, from a terminal</h2>
        <p>
          The DPO engine that this studio drives runs headless today. It computes what Hugging Face TRL&apos;s
          DPOTrainer computes, loss for loss and metric for metric:
        </p>
        <pre>
          <code>{`npm run dpo -- eval  --model DIR --data pairs.jsonl --beta 0.1
npm run dpo -- train --model DIR --data pairs.jsonl --output_dir runs/first
npm run dpo -- generate --model DIR --adapter runs/first/adapter --prompt "Hi"`}</code>
        </pre>
      </section>

      <section className="card" aria-labelledby="next-heading">
        <h2 id="next-heading">Coming to this page</h2>
        <ol className="steps">
          {COMING.map(([title, text]) => (
            <li key={title}>
              <strong>{title}</strong>
              <span>{text}</span>
            </li>
          ))}
        </ol>
      </section>
    </main>
  );
}
