import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const CLI = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

/** The layer rules' violations over a tree of one-line modules (path: what it imports), as `rule: from → to`. */
async function violations(files: Record<string, string[]>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'layers-'));
  try {
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16' } }));
    for (const [path, imports] of Object.entries(files)) {
      mkdirSync(join(dir, dirname(path)), { recursive: true });
      // Type-only imports, the kind a type annotation makes: they count like any other.
      const lines = imports.map((target, i) => `import type { T as T${i} } from '${target}';`);
      writeFileSync(join(dir, path), `${lines.join('\n')}\nexport type T = number;\n`);
    }
    const roots = [...new Set(Object.keys(files).map((path) => path.split('/')[0]))];
    // Exit status 1 with violations: the JSON on stdout is the answer either way.
    const run = await promisify(execFile)(process.execPath, [CLI, ...roots, '--config', CONFIG, '--output-type', 'json'], {
      cwd: dir,
    }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? String(error) }));
    if (!run.stdout) throw new Error(run.stderr);
    const found = (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations;
    return found.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Two trees, cruised at once (each run of the command takes seconds, mostly starting TypeScript). */
const TREES = {
  down: {
    'functions/options.ts': [],
    'functions/clip/index.ts': ['../options'],
    'gateway/common/errors.ts': ['../../functions/clip/index'],
    'gateway/store/port.ts': ['../common/errors'],
    'gateway/backends/index.ts': ['../store/port'],
    'gateway/embedding/service.ts': ['../backends/index'],
    'gateway/embedding/index.ts': ['./service'],
    'gateway/catalogue/index.ts': ['../embedding/service', '../store/port'],
    'gateway/loaders/media-loader.ts': ['../catalogue/index'],
    'gateway/context.ts': ['./loaders/media-loader'],
    'gateway/schema/index.ts': ['../context', '../catalogue/index', '../limits/plugin'],
    'gateway/limits/plugin.ts': ['../common/errors'],
    'gateway/config.ts': ['./schema/index'],
    'gateway/gateway.ts': ['./config'],
    'gateway/host.ts': ['./gateway', './console/index'],
    'gateway/console/index.ts': ['../common/errors'],
    'gateway/index.ts': ['./host'],
    'bench/run.ts': ['../gateway/embedding/index', '../gateway/gateway', '../functions/clip/index', '../functions/options'],
  },
  wrong: {
    // Up, one boundary each.
    'gateway/common/log.ts': ['../store/port'],
    'gateway/store/port.ts': ['../embedding/service'],
    'gateway/embedding/service.ts': ['../limits/plugin'],
    'gateway/limits/plugin.ts': ['../config'],
    'gateway/config.ts': ['./host'],
    'gateway/host.ts': [],
    // Every other rule once.
    'gateway/common/a.ts': ['./b'],
    'gateway/common/b.ts': ['./a'],
    'functions/handler.ts': ['../gateway/common/a'],
    'gateway/schema/product.type.ts': ['../store/port'],
    'gateway/helpers/misc.ts': ['../common/a'],
    'gateway/embedding/batcher.ts': [],
    'bench/run.ts': ['../gateway/embedding/batcher', '../gateway/index'],
    'gateway/index.ts': [],
  },
};

describe('the layer rules (.dependency-cruiser.cjs)', () => {
  const found: Record<keyof typeof TREES, string[]> = { down: [], wrong: [] };
  beforeAll(async () => {
    await Promise.all(
      (Object.keys(TREES) as (keyof typeof TREES)[]).map(async (tree) => {
        found[tree] = await violations(TREES[tree]);
      }),
    );
  });

  it('let imports point down, across folders of one layer, and bench/ use public entries', () => {
    expect(found.down).toEqual([]);
  });

  it('refuse an import that points up (one rule per boundary, type-only imports included), a circle, functions/ reaching into gateway/, schema/ reaching the store, a file outside the layers, bench/ past the entries', () => {
    expect(found.wrong).toEqual([
      'bench-tools-public-entries: bench/run.ts → gateway/embedding/batcher.ts',
      'bench-tools-public-entries: bench/run.ts → gateway/index.ts',
      'functions-not-gateway: functions/handler.ts → gateway/common/a.ts',
      'gateway-file-in-a-layer: gateway/helpers/misc.ts → gateway/common/a.ts',
      'layer-common: gateway/common/log.ts → gateway/store/port.ts',
      'layer-config: gateway/config.ts → gateway/host.ts',
      'layer-embedding: gateway/embedding/service.ts → gateway/limits/plugin.ts',
      'layer-schema-limits: gateway/limits/plugin.ts → gateway/config.ts',
      'layer-store-intake-backends: gateway/store/port.ts → gateway/embedding/service.ts',
      // A circle is reported once, at the import that closes it.
      'no-circular: gateway/common/a.ts → gateway/common/b.ts',
      'schema-store-through-catalogue: gateway/schema/product.type.ts → gateway/store/port.ts',
    ]);
  });
});
