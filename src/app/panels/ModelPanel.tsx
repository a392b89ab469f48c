import { useId, useMemo, useState } from 'react';
import { chooseBackend, deleteStoredModel, loadAdapterFiles, loadDemoModel, loadHubModel, loadModelFolder, setHubRepo } from '../actions';
import { setHubToken, stopHubDownload, useModelStorage } from '../actions/model';
import { CATALOGUE, catalogueModelInfo, downloadBytes, hubKey, plannedTrainingMemory } from '../catalogue';
import { BusyLine } from '../components/ProgressBar';
import { backendName } from '../engine';
import { formatBytes, formatCount, formatInt } from '../format';
import { REPO_PATTERN } from '../hub';
import { useStudio } from '../store';
import { MemoryPlanBox } from './MemoryPlanBox';

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
          <button type="button" className="btn small ghost" onClick={() => chooseBackend('wasm')}>
            Use WebAssembly instead
          </button>
        </>
      )}
      {engine && engine.backend !== 'webgpu' && (
        <>
          <p className={engine.webgpu.available ? undefined : 'warn-box'}>
            {engine.webgpu.available ? (
              <>Training runs on {backendName(engine)}, as chosen. WebGPU is available and much faster.</>
            ) : (
              <>
                <strong>No WebGPU here.</strong> {engine.webgpu.reason} Training still works on {backendName(engine)}: the same numbers,
                only slower. A current Chrome or Edge with hardware acceleration on gives WebGPU.
              </>
            )}
          </p>
          {engine.backend === 'wasm' && engine.wasm && !engine.wasm.isolated && (
            <p className="muted small">
              One thread: WebAssembly uses several only where the page is served cross-origin isolated (the Cross-Origin-Opener-Policy and
              Cross-Origin-Embedder-Policy headers).
            </p>
          )}
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
  const fromCatalogue = useModelStorage((s) => CATALOGUE.some((m) => m.repo === s.activeRepo));
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
          <p className="muted small">
            Any repo with safetensors weights (gated ones with a token). Downloaded once, then kept in this browser.
          </p>
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
          {!fromCatalogue && <HubStatus />}
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

/** The latest Hub download's progress, its error, and the token form a gated repo asks for. */
function HubStatus() {
  const hub = useStudio((s) => s.hub);
  const tokenPrompt = useModelStorage((s) => s.tokenPrompt);
  const downloading = useModelStorage((s) => s.downloading);
  return (
    <>
      {hub.busy && <BusyLine label={hub.busy.label} fraction={hub.busy.fraction} />}
      {downloading && (
        <button type="button" className="btn small ghost" onClick={stopHubDownload}>
          Stop download
        </button>
      )}
      {hub.error && (
        <p className="error-text" role="alert">
          {hub.error}
        </p>
      )}
      {tokenPrompt && <HubTokenForm prompt />}
    </>
  );
}

/** A Hugging Face access token for gated repos, kept in this browser's localStorage, with a way to forget it. */
function HubTokenForm({ prompt = false }: { prompt?: boolean }) {
  const hasToken = useModelStorage((s) => s.hasToken);
  const tokenPrompt = useModelStorage((s) => s.tokenPrompt);
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState('');
  if (hasToken && !prompt) {
    return (
      <p className="muted small token-line">
        A Hugging Face token is kept in this browser (localStorage) and sent to huggingface.co only.{' '}
        <button type="button" className="btn small ghost" onClick={() => setHubToken(null)}>
          Forget token
        </button>
      </p>
    );
  }
  // The gated repo's own prompt is showing: no second way in.
  if (!prompt && tokenPrompt) return null;
  if (!prompt && !open) {
    return (
      <p className="muted small token-line">
        <button type="button" className="btn small ghost" onClick={() => setOpen(true)}>
          Add a Hugging Face token
        </button>{' '}
        for gated models (Gemma, Llama).
      </p>
    );
  }
  return (
    <form
      className="token-form"
      aria-label="Hugging Face token"
      onSubmit={(e) => {
        e.preventDefault();
        setHubToken(draft);
        setDraft('');
        setOpen(false);
        if (prompt && tokenPrompt) void loadHubModel(tokenPrompt);
      }}
    >
      <label className="small">
        Hugging Face access token (read)
        <input
          type="password"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="hf_…"
          autoComplete="off"
          spellCheck={false}
        />
      </label>
      <button type="submit" className="btn small" disabled={!draft.trim()}>
        {prompt ? 'Save token and retry' : 'Save token'}
      </button>
      <span className="muted small">
        Kept in this browser only (localStorage);{' '}
        <a href="https://huggingface.co/settings/tokens" target="_blank" rel="noreferrer">
          create one
        </a>{' '}
        after accepting the model&apos;s license on its Hub page.
      </span>
    </form>
  );
}

/** The catalogue's figures and the training memory each model would plan under the current settings. */
function CatalogueCard() {
  const config = useStudio((s) => s.config);
  const hub = useStudio((s) => s.hub);
  const busy = useStudio((s) => s.modelBusy);
  const models = useModelStorage((s) => s.models);
  const fromCatalogue = useModelStorage((s) => CATALOGUE.some((m) => m.repo === s.activeRepo));
  const engine = useStudio((s) => s.engine);
  const infos = useMemo(() => CATALOGUE.map(catalogueModelInfo), []);
  const disabled = busy !== null || hub.busy !== null;
  const batch = config.dpo.per_device_train_batch_size;
  return (
    <section className="card" aria-labelledby="catalogue-heading">
      <h2 id="catalogue-heading">Model catalogue</h2>
      <p className="muted small">
        Small instruction-tuned models from the Hugging Face Hub. One click downloads one into this browser (a broken download resumes where
        it stopped); training memory is planned for batch {batch} × max_length {config.dpo.max_length ?? 'model context'} with the current
        LoRA settings (Configure changes them).
      </p>
      <div className="table-wrap">
        <table className="table catalogue" aria-label="Model catalogue">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col" className="num">
                Parameters
              </th>
              <th scope="col" className="num">
                Download
              </th>
              <th scope="col" className="num">
                Training memory
              </th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {CATALOGUE.map((entry, i) => {
              const stored = models.find((m) => m.key === hubKey(entry.repo));
              const complete = stored !== undefined && stored.savedAt !== null;
              const partial = stored !== undefined && stored.partialBytes > 0 && !complete;
              const name = entry.repo.split('/')[1];
              return (
                <tr key={entry.repo}>
                  <th scope="row">
                    <span className="mono">{name}</span>
                    <span className="muted small"> {entry.publisher}</span>
                    {entry.gated && (
                      <span className="chip small" title="The Hub asks for an accepted license and an access token">
                        gated
                      </span>
                    )}
                  </th>
                  <td className="num">{formatCount(entry.parameters)}</td>
                  <td className="num">{formatBytes(downloadBytes(entry))}</td>
                  <td className="num">{formatBytes(plannedTrainingMemory(infos[i], config, engine).total)}</td>
                  <td className="actions">
                    <button
                      type="button"
                      className={complete ? 'btn small' : 'btn small primary'}
                      disabled={disabled}
                      aria-label={`${complete ? 'Load' : partial ? 'Resume' : 'Download'} ${entry.repo}`}
                      onClick={() => void loadHubModel(entry.repo)}
                    >
                      {complete ? 'Load' : partial ? `Resume (${formatBytes(stored.partialBytes)} kept)` : 'Download'}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {fromCatalogue && <HubStatus />}
      <HubTokenForm />
    </section>
  );
}

/** The models kept in this browser, the space each takes, and the origin's quota. */
function StoredModelsCard() {
  const models = useModelStorage((s) => s.models);
  const usage = useStudio((s) => s.storage);
  const disabled = useStudio((s) => s.modelBusy !== null || s.hub.busy !== null);
  return (
    <section className="card" aria-labelledby="stored-heading">
      <h2 id="stored-heading">Kept in this browser</h2>
      {usage && (
        <p className="muted small" data-testid="storage-usage">
          This site uses {formatBytes(usage.usage)} of the {formatBytes(usage.quota)} the browser allows it.
        </p>
      )}
      {models.length === 0 ? (
        <p className="muted small">No downloaded models yet.</p>
      ) : (
        <ul className="stored-models" aria-label="Models kept in this browser">
          {models.map((m) => {
            const repo = m.key.slice(4);
            const complete = m.savedAt !== null;
            return (
              <li key={`${m.backend}:${m.key}`}>
                <span className="mono">{repo}</span>
                <span className="muted small" data-testid="stored-size">
                  {complete ? formatBytes(m.bytes) : 'not complete'}
                  {m.partialBytes > 0 && ` · ${formatBytes(m.partialBytes)} of a download kept`}
                  {m.backend === 'opfs' ? ' · file system' : ' · IndexedDB'}
                </span>
                <button type="button" className="btn small" disabled={disabled} onClick={() => void loadHubModel(repo)}>
                  {complete ? 'Load' : 'Resume'}
                </button>
                <button
                  type="button"
                  className="btn small ghost"
                  disabled={disabled}
                  onClick={() => void deleteStoredModel(m.key)}
                  aria-label={`Delete ${repo} from browser storage`}
                >
                  Delete
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function LoadedModelCard() {
  const model = useStudio((s) => s.model);
  const adapterError = useStudio((s) => s.adapterError);
  const busy = useStudio((s) => s.modelBusy);
  const adapterId = useId();
  if (!model) return null;
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
      <MemoryPlanBox />
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
  const noWebGpu = useStudio((s) => s.engine !== null && s.engine.backend !== 'webgpu' && !s.engine.webgpu.available);
  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Model</h2>
        <p className="muted">
          A small causal language model (Llama, Mistral, Qwen2, Qwen3, Gemma 3 or GPT-2 architecture) to train a LoRA adapter on.
        </p>
      </div>
      {noWebGpu && <EngineCard />}
      <LoadedModelCard />
      <SourceCard />
      <CatalogueCard />
      <StoredModelsCard />
      {!noWebGpu && <EngineCard />}
    </div>
  );
}
