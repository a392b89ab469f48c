import { useId } from 'react';
import { chooseBackend, deleteStoredModel, loadAdapterFiles, loadDemoModel, loadHubModel, loadModelFolder, setHubRepo } from '../actions';
import { BusyLine } from '../components/ProgressBar';
import { formatBytes, formatCount, formatInt } from '../format';
import { REPO_PATTERN } from '../hub';
import { estimateTrainingMemory } from '../memory';
import { useStudio } from '../store';

function EngineCard() {
  const engine = useStudio((s) => s.engine);
  const error = useStudio((s) => s.engineError);
  return (
    <section className="card" aria-labelledby="engine-heading">
      <h2 id="engine-heading">Compute</h2>
      {error && <p className="error-text">{error}</p>}
      {!engine && !error && <p className="muted">Starting the training engine…</p>}
      {engine && engine.backend === 'webgpu' && (
        <>
          <p>
            Training runs on <strong>WebGPU</strong> with the studio&apos;s fused kernels, in a background worker.
          </p>
          <dl className="stats compact">
            <div>
              <dt>Adapter</dt>
              <dd>
                {engine.webgpu.vendor} · {engine.webgpu.architecture}
              </dd>
            </div>
            {engine.webgpu.description && (
              <div>
                <dt>Device</dt>
                <dd>{engine.webgpu.description}</dd>
              </div>
            )}
            {engine.webgpu.maxStorageBufferBindingSize !== undefined && (
              <div>
                <dt>Largest buffer binding</dt>
                <dd data-testid="binding-limit">
                  {formatBytes(engine.webgpu.maxStorageBufferBindingSize)}
                  {engine.webgpu.limits === 'default' && ' (WebGPU default limits, from ?webgpu-limits=default)'}
                </dd>
              </div>
            )}
          </dl>
          <button type="button" className="btn small ghost" onClick={() => chooseBackend('cpu')}>
            Use the CPU backend instead
          </button>
        </>
      )}
      {engine && engine.backend === 'cpu' && (
        <>
          <p className={engine.webgpu.available ? undefined : 'warn-box'}>
            {engine.webgpu.available ? (
              <>Training runs on the CPU backend, as chosen. WebGPU is available and much faster.</>
            ) : (
              <>
                <strong>No WebGPU here.</strong> {engine.webgpu.reason} Training still works on the CPU backend: the same numbers, only
                slower. A current Chrome or Edge with hardware acceleration on gives WebGPU.
              </>
            )}
          </p>
          {engine.webgpu.available && (
            <button type="button" className="btn small" onClick={() => chooseBackend('auto')}>
              Use WebGPU
            </button>
          )}
        </>
      )}
    </section>
  );
}

function SourceCard() {
  const busy = useStudio((s) => s.modelBusy);
  const error = useStudio((s) => s.modelError);
  const hub = useStudio((s) => s.hub);
  const folderId = useId();
  const filesId = useId();
  const repoValid = REPO_PATTERN.test(hub.repo.trim());
  const disabled = busy !== null || hub.busy !== null;
  return (
    <section className="card" aria-labelledby="source-heading">
      <h2 id="source-heading">Choose a model</h2>
      <div className="sources">
        <div className="source">
          <h3>Demo model</h3>
          <p className="muted small">A tiny Llama-style model shipped with the studio: trains in seconds, for trying things out.</p>
          <button type="button" className="btn" onClick={() => void loadDemoModel()} disabled={disabled}>
            Load demo model
          </button>
        </div>
        <div className="source">
          <h3>Model folder</h3>
          <p className="muted small">
            A Hugging Face folder: <code>config.json</code>, <code>*.safetensors</code>, <code>tokenizer.json</code>, optionally a PEFT
            adapter.
          </p>
          <div className="row-gap">
            <label className="btn file-button" htmlFor={folderId}>
              Open model folder…
            </label>
            <input
              id={folderId}
              className="visually-hidden"
              type="file"
              aria-label="Open model folder"
              // Chromium, Firefox and Safari all take webkitdirectory for a folder picker.
              {...{ webkitdirectory: '', directory: '' }}
              multiple
              disabled={disabled}
              onChange={(e) => {
                const files = [...(e.target.files ?? [])];
                e.target.value = '';
                if (files.length) void loadModelFolder(files);
              }}
            />
            <label className="btn ghost file-button" htmlFor={filesId}>
              or pick files…
            </label>
            <input
              id={filesId}
              className="visually-hidden"
              type="file"
              aria-label="Model files"
              multiple
              disabled={disabled}
              onChange={(e) => {
                const files = [...(e.target.files ?? [])];
                e.target.value = '';
                if (files.length) void loadModelFolder(files);
              }}
            />
          </div>
        </div>
        <div className="source">
          <h3>Hugging Face Hub</h3>
          <p className="muted small">A public repo with safetensors weights. Downloaded once, then kept in this browser.</p>
          <form
            className="row-gap"
            onSubmit={(e) => {
              e.preventDefault();
              if (repoValid) void loadHubModel(hub.repo);
            }}
          >
            <input
              type="text"
              aria-label="Hugging Face repo"
              placeholder="owner/name"
              value={hub.repo}
              onChange={(e) => setHubRepo(e.target.value)}
              spellCheck={false}
              autoComplete="off"
              disabled={disabled}
            />
            <button type="submit" className="btn" disabled={!repoValid || disabled}>
              {hub.stored.some((m) => m.key === `hub:${hub.repo.trim()}`) ? 'Load' : 'Download'}
            </button>
          </form>
          {hub.busy && <BusyLine label={hub.busy.label} fraction={hub.busy.fraction} />}
          {hub.error && <p className="error-text">{hub.error}</p>}
          {hub.stored.length > 0 && (
            <ul className="stored-models" aria-label="Models kept in this browser">
              {hub.stored.map((m) => (
                <li key={m.key}>
                  <span className="mono">{m.key.slice(4)}</span>
                  <span className="muted small">{formatBytes(m.bytes)}</span>
                  <button type="button" className="btn small" disabled={disabled} onClick={() => void loadHubModel(m.key.slice(4))}>
                    Load
                  </button>
                  <button
                    type="button"
                    className="btn small ghost"
                    disabled={disabled}
                    onClick={() => void deleteStoredModel(m.key)}
                    aria-label={`Delete ${m.key.slice(4)} from browser storage`}
                  >
                    Delete
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
      {busy && <BusyLine label={busy.label} fraction={busy.fraction} />}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function LoadedModelCard() {
  const model = useStudio((s) => s.model);
  const config = useStudio((s) => s.config);
  const adapterError = useStudio((s) => s.adapterError);
  const busy = useStudio((s) => s.modelBusy);
  const onCpu = useStudio((s) => s.engine?.backend === 'cpu');
  const adapterId = useId();
  if (!model) return null;
  const mem = estimateTrainingMemory(
    model,
    config.lora,
    config.dpo.per_device_train_batch_size,
    config.dpo.max_length ?? model.maxPositions,
  );
  return (
    <section className="card" aria-labelledby="loaded-heading">
      <div className="card-head">
        <h2 id="loaded-heading">{model.name}</h2>
        <span className="chip">{model.architecture}</span>
      </div>
      <dl className="stats">
        <div>
          <dt>Parameters</dt>
          <dd data-testid="model-parameters">{formatCount(model.parameters)}</dd>
        </div>
        <div>
          <dt>Layers · hidden · heads (kv)</dt>
          <dd>
            {model.layers} · {model.hiddenSize} · {model.heads} ({model.kvHeads})
          </dd>
        </div>
        <div>
          <dt>Vocabulary</dt>
          <dd>{formatInt(model.vocabSize)}</dd>
        </div>
        <div>
          <dt>Context</dt>
          <dd>{formatInt(model.maxPositions)} positions</dd>
        </div>
        <div>
          <dt>Tokenizer</dt>
          <dd>
            {formatInt(model.tokenizer.vocabSize)} tokens · EOS <code>{model.tokenizer.eosToken ?? 'none'}</code>
            {model.tokenizer.chatTemplate ? ' · chat template' : ' · no chat template'}
          </dd>
        </div>
        <div>
          <dt>LoRA can adapt</dt>
          <dd>{model.linearModuleNames.join(', ')}</dd>
        </div>
      </dl>
      <div className="memory">
        <h3>
          Estimated {onCpu ? 'memory' : 'GPU memory'} for training: <strong data-testid="memory-estimate">{formatBytes(mem.total)}</strong>
        </h3>
        <p className="muted small">
          batch {config.dpo.per_device_train_batch_size} × max_length {config.dpo.max_length ?? model.maxPositions}: weights{' '}
          {formatBytes(mem.weights)}, adapter with AdamW state {formatBytes(mem.adapter)}, activations {formatBytes(mem.activations)},
          logits {formatBytes(mem.logits)}. An upper-bound estimate; change batch size and max length in Configure.
        </p>
      </div>
      <div className="adapter-box">
        <h3>Start from an adapter</h3>
        {model.startAdapter ? (
          <p>
            <strong>{model.startAdapter.name}</strong>: r {model.startAdapter.r}, α {model.startAdapter.lora_alpha},{' '}
            {model.startAdapter.modules} modules ({model.startAdapter.targetModules.join(', ')}),{' '}
            {formatCount(model.startAdapter.parameters)} parameters. Training continues it against a frozen copy (TRL&apos;s behaviour for a
            PeftModel); scoring and samples use it until a run trains.
          </p>
        ) : (
          <p className="muted small">None: training creates a fresh LoRA adapter, and the reference is the model with adapters off.</p>
        )}
        <label className="btn small file-button" htmlFor={adapterId}>
          Load PEFT adapter…
        </label>
        <input
          id={adapterId}
          className="visually-hidden"
          type="file"
          aria-label="PEFT adapter"
          accept=".zip,.json,.safetensors"
          multiple
          disabled={busy !== null}
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            if (files.length) void loadAdapterFiles(files);
          }}
        />
        <span className="muted small"> adapter_config.json + adapter_model.safetensors, or a zip of them</span>
        {adapterError && <p className="error-text">{adapterError}</p>}
      </div>
    </section>
  );
}

export function ModelPanel() {
  // Without WebGPU, why and what happens instead comes first.
  const noWebGpu = useStudio((s) => s.engine !== null && s.engine.backend === 'cpu' && !s.engine.webgpu.available);
  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Model</h2>
        <p className="muted">A small causal language model (Llama, Mistral, Qwen2 or GPT-2 architecture) to train a LoRA adapter on.</p>
      </div>
      {noWebGpu && <EngineCard />}
      <LoadedModelCard />
      <SourceCard />
      {!noWebGpu && <EngineCard />}
    </div>
  );
}
