/**
 * The house's layering (docs/architecture.md): arrows point down only.
 *   app → worker protocol, storage, core;  worker → storage, core;  cli → core;  storage → core;  core → nothing of ours.
 * `npm run lint` runs this over src/, so an import that crosses a layer fails CI.
 */
const room = (name) => `^src/${name}/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-is-the-floor',
      comment: 'core runs in the worker, the page and Node: it never imports storage, worker, app or cli',
      severity: 'error',
      from: { path: room('core') },
      to: { path: ['^src/(storage|worker|app|cli)/'] },
    },
    {
      name: 'storage-above-core-only',
      comment: 'storage (IndexedDB/OPFS) uses core types only',
      severity: 'error',
      from: { path: room('storage') },
      to: { path: ['^src/(worker|app|cli)/'] },
    },
    {
      name: 'worker-never-imports-app',
      comment: 'the worker uses core and storage; the page talks to it through its protocol',
      severity: 'error',
      from: { path: room('worker') },
      to: { path: ['^src/(app|cli)/'] },
    },
    {
      name: 'app-talks-to-the-worker-protocol-only',
      comment: 'the page reaches the worker through its typed message protocol, never its internals',
      severity: 'error',
      from: { path: room('app') },
      to: { path: '^src/worker/', pathNot: ['^src/worker/protocol\\.ts$', '^src/worker/train\\.worker\\.ts$'] },
    },
    {
      name: 'cli-uses-core-only',
      comment: 'the headless command runs the engine in Node: no browser storage, no worker, no React',
      severity: 'error',
      from: { path: room('cli') },
      to: { path: ['^src/(storage|worker|app)/'] },
    },
    {
      name: 'no-circular',
      comment: 'modules that import each other have no single home (a cycle of type-only imports is erased at build time)',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
