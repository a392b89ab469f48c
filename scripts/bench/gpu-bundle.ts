/**
 * `npm run bench:gpu-bundle -- [--out DIR]`: the benchmark as a folder that runs on a Linux x86-64
 * machine with a GPU driver and nothing else (no Node, no npm, no network), at most 60 MiB:
 *
 *   run.sh              the bench on Dawn (`--host node`), options as `npm run bench`'s; or
 *                       `run.sh export-step DIR` (the step's files for the PyTorch script)
 *   compare.sh OUT      the whole bench as JSON, then the SmolLM2-shaped step in PyTorch eager
 *                       float32 and bfloat16 on the same card, all into OUT
 *   bench.mjs           the bench and the engine, bundled (Vite, for Node)
 *   node.xz             this machine's Node binary, xz-compressed (run.sh unpacks it once to /tmp)
 *   lib/webgpu/         the `webgpu` package's loader and its linux-x64 dawn.node
 *   lib/libvulkan.so.1  Debian's Vulkan loader (libvulkan1), which dawn.node opens
 *   torch_dpo_step.py   the PyTorch side
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LIMIT_BYTES = 60 * 2 ** 20;
const DAWN = join(ROOT, 'node_modules', 'webgpu');

function log(message: string): void {
  process.stderr.write(`[gpu-bundle] ${message}\n`);
}

function parseOut(argv: string[]): string {
  const at = argv.findIndex((a) => a === '--out' || a.startsWith('--out='));
  if (at < 0) return join(ROOT, 'dist-bench-gpu');
  const value = argv[at].includes('=') ? argv[at].slice(argv[at].indexOf('=') + 1) : argv[at + 1];
  if (!value) throw new Error('--out needs a folder');
  return resolve(value);
}

/** The bench's entry (run.ts) and everything it imports, as ES modules for Node, `webgpu` left outside. */
async function bundleBench(out: string): Promise<void> {
  await build({
    configFile: false,
    root: ROOT,
    // The studio's public/ (demo model and datasets) is not the bench's.
    publicDir: false,
    logLevel: 'warn',
    build: {
      ssr: join(ROOT, 'scripts/bench/run.ts'),
      outDir: out,
      emptyOutDir: false,
      minify: false,
      target: 'node20',
      rolldownOptions: {
        // Chromium's host (Playwright, Vite) is imported only for --host chromium, never in the bundle.
        external: ['webgpu', '@playwright/test', 'vite'],
        output: { format: 'es', entryFileNames: 'bench.mjs', chunkFileNames: 'chunks/[name].mjs' },
      },
    },
    ssr: { noExternal: true, target: 'node' },
  });
  // `webgpu` resolves to the copy inside the folder (Node looks for packages only in node_modules).
  for (const file of [join(out, 'bench.mjs'), ...readdirSync(join(out, 'chunks')).map((f) => join(out, 'chunks', f))]) {
    const text = readFileSync(file, 'utf8');
    const local = file.endsWith('bench.mjs') ? './lib/webgpu/index.js' : '../lib/webgpu/index.js';
    const rewritten = text.replace(/(from |import\()(["'])webgpu\2/g, `$1$2${local}$2`);
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
  const all = [
    readFileSync(join(out, 'bench.mjs'), 'utf8'),
    ...readdirSync(join(out, 'chunks')).map((f) => readFileSync(join(out, 'chunks', f), 'utf8')),
  ];
  if (!all.some((t) => t.includes('./lib/webgpu/index.js'))) throw new Error('the bundle does not import webgpu where expected');
}

/** Debian's Vulkan loader: the installed one, else the libvulkan1 package's, downloaded and unpacked. */
function vulkanLoader(): string {
  const installed = '/usr/lib/x86_64-linux-gnu/libvulkan.so.1';
  if (existsSync(installed)) return realpathSync(installed);
  const dir = mkdtempSync(join(tmpdir(), 'libvulkan1-'));
  execFileSync('apt-get', ['download', 'libvulkan1'], { cwd: dir, stdio: 'inherit' });
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error("apt-get download libvulkan1 gave no package: install Debian's libvulkan1");
  execFileSync('dpkg', ['-x', join(dir, deb), join(dir, 'root')]);
  return realpathSync(join(dir, 'root', 'usr/lib/x86_64-linux-gnu/libvulkan.so.1'));
}

/** This machine's Node binary, without its debug symbols where `strip` exists, xz-compressed. */
function packNode(target: string): void {
  const work = mkdtempSync(join(tmpdir(), 'bench-node-'));
  const copy = join(work, 'node');
  copyFileSync(process.execPath, copy);
  try {
    execFileSync('strip', ['--strip-debug', copy]);
  } catch {
    log('strip not found: the Node binary keeps its debug symbols');
  }
  execFileSync('sh', ['-c', `xz -6 -T0 -c "${copy}" > "${target}"`]);
  rmSync(work, { recursive: true });
}

const RUN_SH = `#!/bin/sh
# The DPO Studio benchmark on this machine's GPU through Dawn (Vulkan on Linux), from this folder alone.
# ./run.sh [--quick] [--json] [--budget MINUTES] [--only NAME,...]   or   ./run.sh export-step DIR [--quick]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
node="\${TMPDIR:-/tmp}/dpo-bench-node-$(cksum < "$here/node.xz" | cut -d' ' -f1)"
if [ ! -x "$node" ]; then
  if command -v xz > /dev/null 2>&1; then xz -dc "$here/node.xz" > "$node.part"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$here/node.xz" "$node.part"
  fi
  chmod +x "$node.part" && mv "$node.part" "$node"
fi
export LD_LIBRARY_PATH="$here/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# NVIDIA's container toolkit may leave its Vulkan driver's manifest where the loader does not look.
nvidia=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "\${VK_ICD_FILENAMES:-}\${VK_DRIVER_FILES:-}" ] && [ -f "$nvidia" ]; then export VK_DRIVER_FILES="$nvidia"; fi
case "\${1:-}" in
  export-step) exec "$node" "$here/bench.mjs" "$@" ;;
  *) exec "$node" "$here/bench.mjs" --host node "$@" ;;
esac
`;

const COMPARE_SH = `#!/bin/sh
# ./compare.sh OUT [--quick]: the whole bench (OUT/bench.json, its table in OUT/bench.txt), then the
# SmolLM2-shaped step exported (OUT/step) and run in PyTorch eager float32 and bfloat16 (OUT/torch.jsonl).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$1; shift
mkdir -p "$out"
"$here/run.sh" --json "$@" > "$out/bench.json" 2> "$out/bench.txt" || echo "the bench exited $? (see $out/bench.txt)"
"$here/run.sh" export-step "$out/step" "$@"
python3 "$here/torch_dpo_step.py" "$out/step" > "$out/torch.jsonl"
cat "$out/torch.jsonl"
`;

function folderBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    total += s.isDirectory() ? folderBytes(path) : s.size;
  }
  return total;
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error('the GPU bundle is built on Linux x86-64 (it carries this machine’s Node)');
  const out = parseOut(process.argv.slice(2));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'lib', 'webgpu', 'dist', 'linux-x64'), { recursive: true });
  log('bundling the bench');
  await bundleBench(out);
  for (const file of ['index.js', 'package.json', 'LICENSE.md']) copyFileSync(join(DAWN, file), join(out, 'lib', 'webgpu', file));
  copyFileSync(join(DAWN, 'dist', 'linux-x64', 'dawn.node'), join(out, 'lib', 'webgpu', 'dist', 'linux-x64', 'dawn.node'));
  copyFileSync(vulkanLoader(), join(out, 'lib', 'libvulkan.so.1'));
  log(`compressing Node ${process.version}`);
  packNode(join(out, 'node.xz'));
  copyFileSync(join(ROOT, 'scripts/bench/torch_dpo_step.py'), join(out, 'torch_dpo_step.py'));
  writeFileSync(join(out, 'run.sh'), RUN_SH);
  writeFileSync(join(out, 'compare.sh'), COMPARE_SH);
  for (const script of ['run.sh', 'compare.sh', 'torch_dpo_step.py']) chmodSync(join(out, script), 0o755);
  const bytes = folderBytes(out);
  const mib = (bytes / 2 ** 20).toFixed(1);
  if (bytes > LIMIT_BYTES) throw new Error(`the bundle is ${mib} MiB, over its 60 MiB limit`);
  log(`${out}: ${mib} MiB`);
}

main().catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
