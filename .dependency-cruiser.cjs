// The dependency rule of src/ (ARCHITECTURE.md, "Rooms"), checked by `npm run deps` (part of
// `npm run check`): rooms form no cycle, a room is entered only through its index.ts, the core
// never reaches up into the surfaces, and nothing in src/ imports the tests or the benchmark.
// Type-only imports count: a type is as much a dependency of the design as a value.

/** The surfaces: what people and programs talk to. Everything else in src/ is the core. */
const SURFACES = '^src/(cli|http|admin|pages)/';

/** Prisma's output: read as a leaf, never checked (its imports are Prisma's business). */
const GENERATED = '^src/generated/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-room-cycle',
      severity: 'error',
      comment: 'Rooms depend on each other in one direction (arrows point down), so a cycle between two folders is a design error.',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-module-cycle',
      severity: 'error',
      comment: 'None exist, inside a room or across rooms; keep it that way.',
      from: { path: '^src/', pathNot: GENERATED },
      to: { circular: true },
    },
    {
      name: 'through-index',
      severity: 'error',
      comment:
        "A room is entered only through its index.ts; what else is in it is the room's own. src/services.ts and .d.ts declarations are not rooms.",
      from: { path: '^src/([^/]+)/' },
      to: {
        path: '^src/',
        pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$', '^src/services\\.ts$', '\\.d\\.ts$', '^src/generated/'],
      },
    },
    {
      name: 'through-index-from-top',
      severity: 'error',
      comment: 'The files at the top of src/ (services.ts) use the rooms through their index.ts too.',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: '^src/[^/]+/', pathNot: ['^src/[^/]+/index\\.ts$', '\\.d\\.ts$'] },
    },
    {
      name: 'generated-only-from-db',
      severity: 'error',
      comment: "src/generated is Prisma's output, opened by src/db alone; every other room asks src/db.",
      from: { path: '^src/', pathNot: '^src/(db|generated)/' },
      to: { path: '^src/generated/' },
    },
    {
      name: 'core-not-into-surfaces',
      severity: 'error',
      comment: 'The core (every room but cli, http, admin and pages, and services.ts) never imports a surface: arrows point down.',
      from: { path: '^src/', pathNot: [SURFACES, '^src/services\\.ts$'] },
      to: { path: SURFACES },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a typo, or a file the rules above would not see.',
      from: { path: '^src/', pathNot: GENERATED },
      to: { couldNotResolve: true },
    },
    {
      name: 'not-into-tests',
      severity: 'error',
      comment: 'The product never depends on its tests or its benchmark.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    // Registered where src/ reaches them, not cruised further: the rules are about src/.
    doNotFollow: { path: ['node_modules', GENERATED, '^test/', '^bench/'] },
    exclude: { path: '^src/generated/.*/internal/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
