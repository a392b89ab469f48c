import { useRef, useState, type DragEvent } from 'react';
import type { DataIssue } from '../../core/data/types';
import type { PromptSplit } from '../../core/data/extract-prompt';
import { REPO_PATTERN } from '../../core/hub/download';
import {
  DEMO_DATASETS,
  deleteStoredHubDataset,
  loadDatasetFile,
  loadDemoDataset,
  loadHubDataset,
  PREVIEW_PAGE,
  readWithColumns,
  setMinRatingMargin,
  setPromptSplit,
  showPairTokens,
  showPreview,
  stopHubDatasetDownload,
} from '../actions';
import type { KeptRange, ViewToken } from '../../core/data/pair-view';
import { LengthHistograms } from '../components/LengthHistograms';
import { Pager } from '../components/Pager';
import { BusyLine } from '../components/ProgressBar';
import { downloadFile } from '../download';
import { formatBytes, formatInt } from '../format';
import { useStudio } from '../store';

const ISSUES_PAGE = 15;

const FORMAT_NAMES: Record<string, string> = {
  standard: 'standard (prompt / chosen / rejected text)',
  conversational: 'conversational (message lists)',
  implicit_prompt: 'implicit prompt (chosen / rejected text)',
  implicit_prompt_conversational: 'implicit prompt, conversational',
  ultrafeedback_binarized: 'UltraFeedback binarized',
};

function csvCell(v: string | number | undefined): string {
  const s = v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function issuesCsv(issues: DataIssue[]): string {
  const lines = ['file,line,field,reason', ...issues.map((i) => [i.file, i.line, i.field, i.reason].map(csvCell).join(','))];
  return lines.join('\r\n') + '\r\n';
}

function DropZone() {
  const busy = useStudio((s) => s.datasetBusy);
  const compact = useStudio((s) => s.dataset !== null);
  const [over, setOver] = useState(false);
  const [demoUrl, setDemoUrl] = useState(DEMO_DATASETS[0].url);
  const take = (files: FileList | null) => {
    const file = files?.[0];
    if (file) void loadDatasetFile(file, file.name);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    take(e.dataTransfer.files);
  };
  return (
    <div
      className={`dropzone${over ? ' over' : ''}${compact ? ' compact' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <div className="dropzone-icon" aria-hidden="true">
        ⇪
      </div>
      <p className="dropzone-title">{compact ? 'Drop another file here' : 'Drop a preference file here'}</p>
      <p className="muted dropzone-about">
        JSON Lines, a JSON array, Parquet, CSV or TSV (also .gz or .zst) with <code>prompt</code> / <code>chosen</code> /{' '}
        <code>rejected</code> (text or chat messages), or the columns of SHP or stack-exchange-paired. It stays on this machine.
      </p>
      <label className="btn primary file-button">
        Choose file…
        <input
          type="file"
          accept=".jsonl,.json,.ndjson,.parquet,.csv,.tsv,.gz,.zst,application/json"
          aria-label="Preference dataset"
          disabled={busy !== null}
          onChange={(e) => {
            take(e.target.files);
            e.target.value = '';
          }}
        />
      </label>
      <form
        className="demo-list"
        onSubmit={(e) => {
          e.preventDefault();
          const demo = DEMO_DATASETS.find((d) => d.url === demoUrl);
          if (demo) void loadDemoDataset(demo.url, demo.name);
        }}
      >
        <span className="muted">or a demo set:</span>
        <select
          aria-label="Demo dataset"
          value={demoUrl}
          onChange={(e) => setDemoUrl(e.target.value)}
          title={DEMO_DATASETS.find((d) => d.url === demoUrl)?.about}
        >
          {DEMO_DATASETS.map((d) => (
            <option key={d.url} value={d.url}>
              {d.title}
            </option>
          ))}
        </select>
        <button type="submit" className="btn small" disabled={busy !== null}>
          Load
        </button>
      </form>
    </div>
  );
}

/** A refused file's columns, mapped by hand to prompt (optional), chosen and rejected, then read again. */
function ColumnPicker() {
  const choice = useStudio((s) => s.columnChoice);
  const busy = useStudio((s) => s.datasetBusy !== null || s.training.state === 'running');
  const [picked, setPicked] = useState({ prompt: '', chosen: '', rejected: '' });
  if (!choice) return null;
  const ready = picked.chosen !== '' && picked.rejected !== '' && picked.chosen !== picked.rejected;
  const select = (field: 'prompt' | 'chosen' | 'rejected', none: string) => (
    <label>
      <span>{field}</span>
      <select
        aria-label={`${field} column`}
        value={picked[field]}
        disabled={busy}
        onChange={(e) => setPicked({ ...picked, [field]: e.target.value })}
      >
        <option value="">{none}</option>
        {choice.columns.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <form
      className="column-picker"
      aria-label="Map the columns"
      onSubmit={(e) => {
        e.preventDefault();
        if (ready)
          void readWithColumns({ chosen: picked.chosen, rejected: picked.rejected, ...(picked.prompt ? { prompt: picked.prompt } : {}) });
      }}
    >
      <p>
        Its columns are not a layout the studio knows. Say which hold the prompt, the chosen answer and the rejected one, and it is read
        again:
      </p>
      <div className="column-picker-fields">
        {select('prompt', '(none: split it off the answers)')}
        {select('chosen', 'choose a column')}
        {select('rejected', 'choose a column')}
        <button type="submit" className="btn" disabled={!ready || busy}>
          Read {choice.name} with these columns
        </button>
      </div>
    </form>
  );
}

/** A labelled text field for a name (no spelling or autofill help). */
function NameField(props: { label: string; placeholder?: string; value: string; onChange: (v: string) => void; disabled: boolean }) {
  return (
    <label>
      <span>{props.label}</span>
      <input
        type="text"
        placeholder={props.placeholder}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        spellCheck={false}
        autoComplete="off"
        disabled={props.disabled}
      />
    </label>
  );
}

/** A split of a dataset on the Hugging Face Hub, by name: downloaded once into this browser, then loaded from there. */
function HubDatasetForm() {
  const hub = useStudio((s) => s.hubDataset);
  const busy = useStudio((s) => s.datasetBusy !== null || s.hubDataset.busy !== null || s.training.state === 'running');
  const [repo, setRepo] = useState('');
  const [config, setConfig] = useState('');
  const [split, setSplit] = useState('train');
  const valid = REPO_PATTERN.test(repo.trim());
  const stored = hub.stored.find(
    (d) => d.repo === repo.trim() && d.split === (split.trim() || 'train') && (config.trim() === '' || d.config === config.trim()),
  );
  return (
    <section className="hub-dataset" aria-labelledby="hub-dataset-heading">
      <h3 id="hub-dataset-heading">From the Hugging Face Hub</h3>
      <p className="muted small">
        A dataset by name (its Parquet files, as the Hub converts every dataset). Downloaded once, then kept in this browser.
      </p>
      <form
        className="hub-dataset-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (valid) void loadHubDataset({ repo, config, split });
        }}
      >
        <NameField label="Dataset" placeholder="owner/name" value={repo} onChange={setRepo} disabled={busy} />
        <NameField label="Config" placeholder="default" value={config} onChange={setConfig} disabled={busy} />
        <NameField label="Split" value={split} onChange={setSplit} disabled={busy} />
        <button type="submit" className="btn" disabled={!valid || busy}>
          {stored ? 'Load' : 'Download'}
        </button>
      </form>
      {hub.busy && <BusyLine label={hub.busy.label} fraction={hub.busy.fraction} />}
      {hub.downloading && (
        <button type="button" className="btn small ghost" onClick={stopHubDatasetDownload}>
          Stop download
        </button>
      )}
      {hub.error && (
        <p className="error-text" role="alert">
          {hub.error}
        </p>
      )}
      {hub.stored.length > 0 && (
        <ul className="stored-hub-datasets" aria-label="Hub datasets kept in this browser">
          {hub.stored.map((d) => (
            <li key={d.key}>
              <span>
                <code>{d.repo}</code>{' '}
                <span className="muted">
                  {d.config}/{d.split} · {formatBytes(d.bytes)}
                </span>
              </span>
              <span className="row-gap">
                <button
                  type="button"
                  className="btn small"
                  disabled={busy}
                  onClick={() => void loadHubDataset({ repo: d.repo, config: d.config, split: d.split })}
                  aria-label={`Load ${d.repo} (${d.config}/${d.split})`}
                >
                  Load
                </button>
                <button
                  type="button"
                  className="btn small ghost"
                  disabled={busy}
                  onClick={() => void deleteStoredHubDataset(d.key)}
                  aria-label={`Delete ${d.repo} (${d.config}/${d.split}) from this browser`}
                >
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const SPLIT_NAMES: Record<PromptSplit, string> = {
  common_prefix: 'longest common prefix (as TRL)',
  last_turn: 'at the last assistant turn (as the chapter)',
};

/** How rows without a prompt field are split, and a warning where the split cuts words. */
function PromptSplitChoice() {
  const dataset = useStudio((s) => s.dataset)!;
  const busy = useStudio((s) => s.datasetBusy !== null || s.training.state === 'running');
  if (dataset.implicitPrompts === 0 && dataset.promptSplit === 'common_prefix') return null;
  const lines = dataset.midWordLines.join(', ') + (dataset.midWordPrompts > dataset.midWordLines.length ? ', …' : '');
  return (
    <div className="prompt-split">
      <label className="inline-select">
        <span>
          Implicit prompts{' '}
          <span className="muted">
            ({formatInt(dataset.implicitPrompts)} {dataset.implicitPrompts === 1 ? 'row' : 'rows'} without a prompt field) split at the
          </span>
        </span>
        <select
          aria-label="Implicit prompt split"
          value={dataset.promptSplit}
          disabled={busy}
          onChange={(e) => void setPromptSplit(e.target.value as PromptSplit)}
        >
          {(Object.keys(SPLIT_NAMES) as PromptSplit[]).map((k) => (
            <option key={k} value={k}>
              {SPLIT_NAMES[k]}
            </option>
          ))}
        </select>
      </label>
      {dataset.midWordPrompts > 0 && (
        <div className="warn-box" role="note" data-testid="mid-word-prompts">
          <p>
            <strong>{formatInt(dataset.midWordPrompts)}</strong> {dataset.midWordPrompts === 1 ? 'prompt ends' : 'prompts end'} in the
            middle of a word{dataset.midWordPrompts > 1 || !dataset.midWordExample ? ` (line ${lines})` : ''}: where both answers start with
            the same letters, the common prefix takes them into the prompt
            {dataset.midWordExample && (
              <>
                {' '}
                (line {dataset.midWordExample.line}: <q className="cut">{dataset.midWordExample.promptEnd}</q> |{' '}
                <q className="cut">{dataset.midWordExample.chosenStart}</q>)
              </>
            )}
            .
          </p>
          {dataset.promptSplit === 'common_prefix' && (
            <button type="button" className="btn small" disabled={busy} onClick={() => void setPromptSplit('last_turn')}>
              Split at the last assistant turn instead
            </button>
          )}
        </div>
      )}
    </div>
  );
}

/** Rows that carry ratings: keep only pairs whose chosen rating beats the rejected one by a margin. */
function RatingFilter() {
  const dataset = useStudio((s) => s.dataset)!;
  const busy = useStudio((s) => s.datasetBusy !== null || s.training.state === 'running');
  const [text, setText] = useState(dataset.minRatingMargin === null ? '' : String(dataset.minRatingMargin));
  if (!dataset.ratingColumns) return null;
  const [a, b] = dataset.ratingColumns;
  const value = text.trim() === '' ? null : Number(text);
  const invalid = value !== null && !Number.isFinite(value);
  return (
    <form
      className="inline-select rating-filter"
      aria-label="Rating margin"
      onSubmit={(e) => {
        e.preventDefault();
        if (!invalid) void setMinRatingMargin(value);
      }}
    >
      <label className="inline-select">
        <span>
          Keep pairs whose <code>{a}</code> − <code>{b}</code> is at least
        </span>
        <input
          type="text"
          inputMode="decimal"
          aria-label="Minimum rating margin"
          placeholder="any"
          value={text}
          aria-invalid={invalid}
          disabled={busy}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <button type="submit" className="btn small" disabled={busy || invalid || value === dataset.minRatingMargin}>
        Apply
      </button>
      {dataset.minRatingMargin !== null && (
        <span className="muted small" data-testid="rating-filter">
          rows below {dataset.minRatingMargin} are listed under Rows skipped
        </span>
      )}
    </form>
  );
}

function Summary() {
  const dataset = useStudio((s) => s.dataset)!;
  const stats = useStudio((s) => s.tokenStats);
  const tokenBusy = useStudio((s) => s.tokenBusy);
  const tokenError = useStudio((s) => s.tokenError);
  const formats = Object.entries(dataset.formatCounts);
  return (
    <section className="card" aria-labelledby="dataset-summary">
      <div className="card-head">
        <h2 id="dataset-summary">{dataset.name}</h2>
        <span className="muted">{formatBytes(dataset.bytes)}</span>
      </div>
      {dataset.onDemand && (
        <p className="muted" data-testid="on-demand">
          A large file: its rows stay in the file and are read again as pages, searches and training batches need them.
        </p>
      )}
      <dl className="stats">
        <div>
          <dt>Format</dt>
          <dd data-testid="dataset-format">{dataset.format ? FORMAT_NAMES[dataset.format] : 'none detected'}</dd>
        </div>
        {dataset.layout && dataset.layout !== 'prompt/chosen/rejected' && (
          <div>
            <dt>Columns</dt>
            <dd data-testid="dataset-layout">{dataset.layout}</dd>
          </div>
        )}
        <div>
          <dt>Valid pairs</dt>
          <dd data-testid="valid-rows">{formatInt(dataset.rows)}</dd>
        </div>
        <div>
          <dt>Problems</dt>
          <dd className={dataset.issues.length ? 'bad-text' : undefined} data-testid="issue-count">
            {formatInt(dataset.issues.length)}
          </dd>
        </div>
        <div>
          <dt>chosen = rejected</dt>
          <dd data-testid="identical-pairs">{formatInt(dataset.identicalPairs)}</dd>
        </div>
        {stats && (
          <>
            <div>
              <dt>Train pairs at max_length {stats.maxLength ?? '∞'}</dt>
              <dd data-testid="train-pairs">{formatInt(stats.pairs)}</dd>
            </div>
            <div>
              <dt>Dropped (prompt too long)</dt>
              <dd className={stats.dropped ? 'warn-text' : undefined} data-testid="dropped-pairs">
                {formatInt(stats.dropped)}
              </dd>
            </div>
            <div>
              <dt>Truncated</dt>
              <dd className={stats.truncated ? 'warn-text' : undefined} data-testid="truncated-pairs">
                {formatInt(stats.truncated)}
              </dd>
            </div>
            <div>
              <dt>Longest prompt / chosen / rejected</dt>
              <dd>
                {stats.longest.prompt} / {stats.longest.chosen} / {stats.longest.rejected} tokens
              </dd>
            </div>
          </>
        )}
      </dl>
      <PromptSplitChoice />
      <RatingFilter />
      {formats.length > 1 && (
        <p className="muted small">Mixed formats: {formats.map(([f, n]) => `${f} ${n}`).join(', ')}. The most common one is shown.</p>
      )}
      {tokenBusy && <BusyLine label={tokenBusy.label} fraction={tokenBusy.fraction} />}
      {tokenError && <p className="error-text">Tokenization: {tokenError}</p>}
    </section>
  );
}

function Issues({ issues, title, fileStem }: { issues: DataIssue[]; title: string; fileStem: string }) {
  const [page, setPage] = useState(0);
  if (issues.length === 0) return null;
  const shown = issues.slice(page * ISSUES_PAGE, (page + 1) * ISSUES_PAGE);
  return (
    <section className="card" aria-label={title}>
      <div className="card-head">
        <h2>
          {title} <span className="count-badge">{formatInt(issues.length)}</span>
        </h2>
        <button type="button" className="btn small" onClick={() => downloadFile(`${fileStem}.csv`, issuesCsv(issues), 'text/csv')}>
          Download list (CSV)
        </button>
      </div>
      <table className="table issues">
        <thead>
          <tr>
            <th scope="col">Line</th>
            <th scope="col">Field</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((issue, i) => (
            <tr key={`${issue.line}-${i}`}>
              <td className="num">{issue.line}</td>
              <td>{issue.field ? <code>{issue.field}</code> : <span className="muted">—</span>}</td>
              <td>{issue.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager label={title.toLowerCase()} page={page} pageSize={ISSUES_PAGE} total={issues.length} onPage={setPage} />
    </section>
  );
}

function Preview() {
  const preview = useStudio((s) => s.preview);
  const hasModel = useStudio((s) => s.model !== null);
  const opened = useStudio((s) => s.pairView?.index ?? null);
  const [query, setQuery] = useState(preview?.query ?? '');
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  if (!preview) return null;
  const page = Math.floor(preview.offset / PREVIEW_PAGE);
  const search = (text: string) => {
    setQuery(text);
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => void showPreview(0, text), 250);
  };
  return (
    <section className="card" aria-labelledby="preview-heading">
      <div className="card-head">
        <h2 id="preview-heading">Pairs</h2>
        <input
          type="search"
          className="pair-search"
          placeholder="Search prompts and answers"
          aria-label="Search pairs"
          value={query}
          onChange={(e) => search(e.target.value)}
        />
      </div>
      <p className="muted small" aria-live="polite" data-testid="pair-matches">
        {query.trim() !== preview.query.trim()
          ? query.trim()
            ? `Searching for “${query.trim()}”…`
            : 'Showing every pair…'
          : preview.query
            ? `${formatInt(preview.total)} ${preview.total === 1 ? 'pair holds' : 'pairs hold'} “${preview.query}”`
            : 'Shown as plain text, exactly as in the file. “Tokens” shows a pair as the model sees it.'}
      </p>
      {preview.rows.length > 0 && (
        <div className="pairs" role="table" aria-label="Preference pairs">
          <div className="pair head" role="row">
            <span role="columnheader">Line</span>
            <span role="columnheader">Prompt</span>
            <span role="columnheader">Chosen</span>
            <span role="columnheader">Rejected</span>
          </div>
          {preview.rows.map((row) => (
            <div className={`pair${row.identical ? ' identical' : ''}`} role="row" key={row.index}>
              <span role="cell" className="pair-line">
                {row.line}
                {row.identical && <span className="tag warn">same</span>}
                {hasModel && (
                  <button
                    type="button"
                    className="btn small ghost tokens-button"
                    aria-pressed={opened === row.index}
                    aria-label={`Tokens of line ${row.line}`}
                    onClick={() => void showPairTokens(opened === row.index ? null : row.index)}
                  >
                    Tokens
                  </button>
                )}
              </span>
              <span role="cell" className="pair-text">
                <span className="text-body">{row.prompt}</span>
                {row.tokens && <span className="tokens">{row.tokens.prompt} tok</span>}
              </span>
              <span role="cell" className="pair-text chosen">
                <span className="text-body">{row.chosen}</span>
                {row.tokens && <span className="tokens">{row.tokens.chosen} tok</span>}
              </span>
              <span role="cell" className="pair-text rejected">
                <span className="text-body">{row.rejected}</span>
                {row.tokens && <span className="tokens">{row.tokens.rejected} tok</span>}
              </span>
            </div>
          ))}
        </div>
      )}
      <Pager label="pairs" page={page} pageSize={PREVIEW_PAGE} total={preview.total} onPage={(p) => void showPreview(p)} />
    </section>
  );
}

/** Tokens of one part, each a chip; those the collated row drops are struck through, with a cut mark. */
function TokenChips({ tokens, kept, kind }: { tokens: ViewToken[]; kept: KeptRange; kind: 'prompt' | 'chosen' | 'rejected' }) {
  return (
    <>
      {tokens.map((t, i) => {
        const cut = i < kept.start || i >= kept.end;
        const mark = (i === kept.end && kept.end > 0) || (i === kept.start && kept.start > 0 && kept.start < tokens.length);
        return (
          <span key={i} className="token-wrap">
            {mark && (
              <span className="cut-mark" title="truncation cuts here">
                ✂
              </span>
            )}
            <span className={`token ${kind}${cut ? ' dropped' : ''}`} title={`id ${t.id}${cut ? ' · cut by truncation' : ''}`}>
              {visible(t.text)}
            </span>
          </span>
        );
      })}
    </>
  );
}

/** Whitespace a reader can see: spaces as ·, newlines as ↵. */
function visible(text: string): string {
  return text.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';
}

function keptCount(r: KeptRange): number {
  return r.end - r.start;
}

/** One pair as the model sees it: prompt tokens, each completion's tokens, and what truncation keeps. */
function PairTokens() {
  const view = useStudio((s) => s.pairView);
  const error = useStudio((s) => s.pairViewError);
  const config = useStudio((s) => s.config.dpo);
  if (error)
    return (
      <p className="error-text" role="alert">
        {error}
      </p>
    );
  if (!view) return null;
  const sides = [
    ['chosen', view.chosen],
    ['rejected', view.rejected],
  ] as const;
  return (
    <section className="card pair-tokens" aria-labelledby="pair-tokens-heading">
      <div className="card-head">
        <h2 id="pair-tokens-heading">Line {view.line} as the model sees it</h2>
        <button type="button" className="btn small ghost" onClick={() => void showPairTokens(null)}>
          Close
        </button>
      </div>
      <p className="muted small">
        max_length {config.max_length ?? 'none'}
        {config.max_prompt_length !== null ? ` · max_prompt_length ${config.max_prompt_length}` : ''} · {config.truncation_mode} · one chip
        per token (· a space, ↵ a line break); struck-through tokens are cut.
      </p>
      {view.dropped && (
        <p className="warn-box" role="note">
          TRL drops this pair: its prompt alone is {view.prompt.length} tokens, not shorter than max_length {config.max_length}.
        </p>
      )}
      {sides.map(([name, side]) => (
        <div key={name} className="token-row" data-testid={`tokens-${name}`}>
          <h3>
            prompt + {name}{' '}
            <span className="muted small">
              {keptCount(side.kept.prompt)} of {view.prompt.length} prompt tokens and {keptCount(side.kept.completion)} of{' '}
              {side.completion.length} {name} tokens kept
            </span>
          </h3>
          <div className="token-chips">
            <TokenChips tokens={view.prompt} kept={side.kept.prompt} kind="prompt" />
            <span className="boundary" title="prompt | completion" aria-label="prompt ends here">
              |
            </span>
            <TokenChips tokens={side.completion} kept={side.kept.completion} kind={name} />
          </div>
          {side.prefixMismatch && (
            <p className="warn-box" role="note">
              The prompt&apos;s own tokens are not the start of the tokens of prompt + {name}: the template or the tokenizer joins the last
              prompt token with the first {name} one. As TRL does, the joint tokens are split at the prompt&apos;s length, so this boundary
              falls inside a token.
            </p>
          )}
        </div>
      ))}
    </section>
  );
}

/** Its own component: progress arrives several times a second and must not redraw the charts below. */
function DatasetBusy() {
  const busy = useStudio((s) => s.datasetBusy);
  return busy && <BusyLine label={busy.label} fraction={busy.fraction} />;
}

export function DatasetPanel() {
  const dataset = useStudio((s) => s.dataset);
  const error = useStudio((s) => s.datasetError);
  const stats = useStudio((s) => s.tokenStats);
  const model = useStudio((s) => s.model);
  const columnKey = useStudio((s) => (s.columnChoice ? `${s.columnChoice.name}:${s.columnChoice.columns.join(',')}` : ''));
  return (
    <div className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Dataset</h2>
        <p className="muted">Preference pairs: for each prompt, a chosen answer and a rejected one.</p>
      </div>
      <DropZone />
      <HubDatasetForm />
      <DatasetBusy />
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      <ColumnPicker key={columnKey} />
      {dataset && (
        <>
          <Summary />
          <Issues
            key={`skipped-${dataset.fingerprint}`}
            issues={dataset.issues}
            title="Rows skipped"
            fileStem={`${dataset.name}-problems`}
          />
          {stats && (
            <Issues
              key={`tok-${dataset.fingerprint}-${stats.maxLength}`}
              issues={stats.issues}
              title="Tokenization notes"
              fileStem={`${dataset.name}-tokenization`}
            />
          )}
          {stats && model && <LengthHistograms stats={stats} tokenizer={model.name} />}
          <Preview key={dataset.fingerprint} />
          <PairTokens />
        </>
      )}
    </div>
  );
}
