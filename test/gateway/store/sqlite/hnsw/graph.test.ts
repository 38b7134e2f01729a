import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Graph } from '../../../../../gateway/store/sqlite/hnsw/graph';
import { seededRandom } from '../../../../helpers/tiny-clip';
import { gaussian, normalise } from '../../contract/fixtures';

/**
 * The graph's codes of its vectors (codes.ts) follow its writes, are saved and loaded with it, and
 * are made from its own vectors when it was saved without them (by a version that kept none).
 */

const DIM = 16;

describe('Graph codes', () => {
  let dir: string;
  const random = seededRandom(11);
  const vector = () => normalise(Float32Array.from({ length: DIM }, () => gaussian(random)));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'graph-codes-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('ranks by codes what the graph holds, following upserts and removals', () => {
    const graph = Graph.create(DIM, 10, { m: 8, efConstruction: 32 });
    const pks = Array.from({ length: 300 }, (_, i) => i + 1);
    for (const pk of pks) graph.upsert(pk, vector());
    const query = vector();
    graph.upsert(42, query);
    expect(graph.nearestByCode(query, pks, 1)).toEqual([42]);
    graph.remove(42);
    expect(graph.nearestByCode(query, pks, 300)).toHaveLength(299);
    expect(graph.nearestByCode(query, pks, 300)).not.toContain(42);
  });

  it('saves its codes and loads them, or makes them from its vectors when the save has none', async () => {
    const graph = Graph.create(DIM, 10, { m: 8, efConstruction: 32 });
    const pks = Array.from({ length: 500 }, (_, i) => i + 1);
    for (const pk of pks) graph.upsert(pk, vector());
    graph.remove(7);
    await graph.save(dir);
    const queries = Array.from({ length: 5 }, vector);
    const expected = queries.map((q) => graph.nearestByCode(q, pks, 30));
    const loaded = await Graph.load(dir, DIM);
    expect(queries.map((q) => loaded.nearestByCode(q, pks, 30))).toEqual(expected);
    rmSync(join(dir, 'codes.bin'));
    const remade = await Graph.load(dir, DIM);
    expect(existsSync(join(dir, 'codes.bin'))).toBe(false);
    expect(queries.map((q) => remade.nearestByCode(q, pks, 30))).toEqual(expected);
    expect(remade.nearestByCode(queries[0], [7], 1)).toEqual([]);
  });
});
