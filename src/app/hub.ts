/**
 * Downloads a public model repo from the Hugging Face Hub: config, tokenizer files and safetensors
 * weights (one file or an index and its shards), with byte progress. The page does this (not the
 * worker) so the page's Content-Security-Policy governs where it may connect.
 */

const HUB = 'https://huggingface.co';

const WANTED_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'model.safetensors',
  'model.safetensors.index.json',
];

export const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface Sibling {
  rfilename: string;
  size?: number;
}

function fileUrl(repo: string, path: string): string {
  return `${HUB}/${repo}/resolve/main/${path.split('/').map(encodeURIComponent).join('/')}`;
}

async function hubFetch(url: string, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { credentials: 'omit' });
  } catch (e) {
    throw new Error(
      `could not reach the Hugging Face Hub for ${what} (offline, or blocked): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (response.status === 401 || response.status === 403) {
    throw new Error(
      `${what}: the Hub refused access (HTTP ${response.status}); the repo may be gated or private, and DPO Studio downloads public repos only`,
    );
  }
  if (response.status === 404) throw new Error(`${what}: not found on the Hub (HTTP 404); check the owner/name spelling`);
  if (!response.ok) throw new Error(`${what}: the Hub answered HTTP ${response.status} ${response.statusText}`);
  return response;
}

/** Every file of the repo, with sizes where the Hub reports them, after checking the model files are there. */
async function listFiles(repo: string): Promise<Sibling[]> {
  const response = await hubFetch(`${HUB}/api/models/${repo}?blobs=true`, repo);
  const info = (await response.json()) as { siblings?: Sibling[] };
  const siblings = info.siblings ?? [];
  const names = new Set(siblings.map((s) => s.rfilename));
  if (!names.has('config.json')) throw new Error(`${repo} has no config.json at its root: not a transformers model repo`);
  if (!names.has('model.safetensors') && !names.has('model.safetensors.index.json')) {
    throw new Error(
      `${repo} has no safetensors weights (model.safetensors or model.safetensors.index.json); PyTorch .bin files cannot be read`,
    );
  }
  if (!names.has('tokenizer.json')) throw new Error(`${repo} has no tokenizer.json (a fast tokenizer file is needed)`);
  return siblings;
}

async function readWithProgress(response: Response, onBytes: (n: number) => void): Promise<Uint8Array> {
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onBytes(bytes.length);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
    onBytes(value.length);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export interface HubProgress {
  file: string;
  loaded: number;
  /** 0 when the Hub did not report sizes. */
  total: number;
}

/** Every file the studio needs from `repo`, by path. */
export async function downloadHubModel(repo: string, onProgress: (p: HubProgress) => void): Promise<Map<string, Uint8Array>> {
  if (!REPO_PATTERN.test(repo))
    throw new Error(`"${repo}" is not a Hub repo id; write it as owner/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct`);
  const siblings = await listFiles(repo);
  const sizeOf = (path: string) => siblings.find((s) => s.rfilename === path)?.size ?? 0;
  const wanted = siblings.map((s) => s.rfilename).filter((name) => WANTED_FILES.includes(name));
  // With a single weights file, a stray index is not needed.
  const files = wanted.includes('model.safetensors') ? wanted.filter((f) => f !== 'model.safetensors.index.json') : wanted;
  const out = new Map<string, Uint8Array>();
  let total = files.reduce((n, f) => n + sizeOf(f), 0);
  let loaded = 0;
  const fetchFile = async (path: string) => {
    const response = await hubFetch(fileUrl(repo, path), `${repo}/${path}`);
    const bytes = await readWithProgress(response, (n) => {
      loaded += n;
      onProgress({ file: path, loaded, total });
    });
    out.set(path, bytes);
  };
  for (const f of files) await fetchFile(f);
  const index = out.get('model.safetensors.index.json');
  if (index) {
    const map = (JSON.parse(new TextDecoder().decode(index)) as { weight_map?: Record<string, string> }).weight_map ?? {};
    const shards = [...new Set(Object.values(map))];
    if (shards.length === 0) throw new Error(`${repo}/model.safetensors.index.json lists no weight files`);
    total += shards.reduce((n, f) => n + sizeOf(f), 0);
    for (const shard of shards) await fetchFile(shard);
  }
  return out;
}
