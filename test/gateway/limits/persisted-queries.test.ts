import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PersistedQueryList } from '../../../gateway/limits';
import { startGateway, type RunningGateway } from '../../helpers/gateway';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const MODEL = 'query Model { model { name dim } }';
const SIMILARITY = 'query Similar { similarity(a: [{ text: "a red circle" }], b: [{ text: "a blue star" }]) }';

/** A manifest in Apollo's format, as @apollo/generate-persisted-query-manifest writes it. */
function manifest(...bodies: string[]) {
  return {
    format: 'apollo-persisted-query-manifest',
    version: 1,
    operations: bodies.map((body) => ({ id: sha256(body), name: /query (\w+)/.exec(body)?.[1] ?? 'op', type: 'query', body })),
  };
}

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
}

/** A POST as Apollo Client's persisted query link sends it: the hash in extensions, the text only when asked to. */
async function post(gateway: RunningGateway, request: { query?: string; hash?: string }): Promise<Answer> {
  const body = {
    ...(request.query !== undefined ? { query: request.query } : {}),
    ...(request.hash !== undefined ? { extensions: { persistedQuery: { version: 1, sha256Hash: request.hash } } } : {}),
  };
  const response = await fetch(`${gateway.origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

const codes = (answer: Answer) => (answer.body.errors ?? []).map((e) => e.extensions?.code);
const MODEL_DATA = { model: { name: 'tiny-clip', dim: expect.any(Number) } };

describe('PersistedQueryList', () => {
  const dir = mkdtempSync(join(tmpdir(), 'persisted-queries-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds the operations of a manifest by the SHA-256 of their text', () => {
    const list = PersistedQueryList.from(manifest(MODEL, SIMILARITY), 'm.json');
    expect(list.size).toBe(2);
    expect(list.has(sha256(MODEL))).toBe(true);
    expect(list.body(sha256(SIMILARITY))).toBe(SIMILARITY);
    expect(list.has(sha256(`${MODEL} `))).toBe(false);
    expect(list.has(undefined)).toBe(false);
  });

  it.each<[string, unknown, string]>([
    ['another format', { format: 'relay', version: 1, operations: [] }, 'is not an Apollo persisted query manifest'],
    ['another version', { ...manifest(MODEL), version: 2 }, 'is not an Apollo persisted query manifest'],
    ['no operations', { format: 'apollo-persisted-query-manifest', version: 1 }, 'has no "operations" array'],
    [
      'an operation without a body',
      { ...manifest(), operations: [{ id: sha256(''), name: 'Empty', body: '' }] },
      'has operation "Empty" without a body',
    ],
    [
      'an id that is no hash',
      { ...manifest(), operations: [{ id: 'model-v1', name: 'Model', body: MODEL }] },
      'has operation "Model" whose id is not a SHA-256 in hex',
    ],
    [
      'an id of other text',
      { ...manifest(), operations: [{ id: sha256(SIMILARITY), body: MODEL }] },
      'has operations[0] whose id is not the SHA-256 of its body',
    ],
  ])('refuses a manifest with %s, naming the file', (_, content, reason) => {
    expect(() => PersistedQueryList.from(content, 'ops.json')).toThrow(`The persisted query list ops.json ${reason}`);
  });

  it('refuses a file it cannot read or parse, naming it and the variable', () => {
    const missing = join(dir, 'missing.json');
    expect(() => PersistedQueryList.load(missing)).toThrow(
      `The persisted query list ${missing} (PERSISTED_QUERIES_MANIFEST) cannot be read`,
    );
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"format":');
    expect(() => PersistedQueryList.load(broken)).toThrow(`The persisted query list ${broken} is not JSON`);
  });

  it('stops a gateway from starting with a list it cannot use', async () => {
    const path = join(dir, 'not-a-manifest.json');
    writeFileSync(path, '[]');
    await expect(startGateway({ persistedQueries: { mode: 'safelist', manifest: path } })).rejects.toThrow(
      `The persisted query list ${path} is not an Apollo persisted query manifest`,
    );
  });
});

describe('automatic persisted queries (PERSISTED_QUERIES=apq, the default)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());

  it('asks for the text of a hash it does not know, registers it once sent, then runs it by hash alone', async () => {
    const hash = sha256(MODEL);
    expect(codes(await post(gateway, { hash }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    expect((await post(gateway, { hash, query: MODEL })).body.data).toEqual(MODEL_DATA);
    const byHash = await post(gateway, { hash });
    expect(byHash.status).toBe(200);
    expect(byHash.body).toEqual({ data: MODEL_DATA });
  });

  it('runs a registered hash over GET, as clients send hashed queries to let caches keep them, with the CSRF header', async () => {
    const hash = sha256(MODEL);
    await post(gateway, { hash, query: MODEL });
    const url = `${gateway.origin}/graphql?operationName=Model&extensions=${encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } }))}`;
    const byGet = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect([byGet.status, await byGet.json()]).toEqual([200, { data: MODEL_DATA }]);
    // Without a header a browser cannot send across origins unasked, Apollo's CSRF prevention refuses it.
    const bare = await fetch(url);
    expect(bare.status).toBe(400);
    expect(await bare.text()).toMatch(/apollo-require-preflight/);
  });

  it('refuses a text that does not match its hash', async () => {
    const answer = await post(gateway, { hash: sha256(SIMILARITY), query: MODEL });
    expect(answer.status).toBe(400);
    expect(answer.body.errors?.[0].message).toBe('provided sha does not match query');
  });
});

describe('PERSISTED_QUERIES=off', () => {
  it('runs operations sent as text, and refuses them by hash', async () => {
    const gateway = await startGateway({ persistedQueries: { mode: 'off' } });
    try {
      expect(codes(await post(gateway, { hash: sha256(MODEL), query: MODEL }))).toEqual(['PERSISTED_QUERY_NOT_SUPPORTED']);
      expect((await post(gateway, { query: MODEL })).body).toEqual({ data: MODEL_DATA });
    } finally {
      await gateway.stop();
    }
  });
});

describe('PERSISTED_QUERIES=safelist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'safelist-'));
  let gateway: RunningGateway;
  beforeAll(async () => {
    const path = join(dir, 'persisted-query-manifest.json');
    writeFileSync(path, JSON.stringify(manifest(MODEL)));
    gateway = await startGateway({ persistedQueries: { mode: 'safelist', manifest: path } });
  });
  afterAll(async () => {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a listed operation by its hash alone, and as written', async () => {
    expect((await post(gateway, { hash: sha256(MODEL) })).body).toEqual({ data: MODEL_DATA });
    expect((await post(gateway, { query: MODEL })).body).toEqual({ data: MODEL_DATA });
  });

  it('refuses any other operation with QUERY_NOT_IN_SAFELIST before it runs, however it is sent', async () => {
    for (const request of [{ query: SIMILARITY }, { query: SIMILARITY, hash: sha256(SIMILARITY) }, { query: `${MODEL} ` }]) {
      const answer = await post(gateway, request);
      expect(answer.status).toBe(400);
      expect(answer.body.data).toBeUndefined();
      expect(answer.body.errors).toEqual([
        {
          message:
            "This operation is not in the gateway's persisted query list (PERSISTED_QUERIES=safelist): only its 1 operations run here, sent by hash or as written.",
          extensions: { code: 'QUERY_NOT_IN_SAFELIST' },
        },
      ]);
    }
  });

  it('never learns an operation a client sends: an unlisted hash stays unknown after its text was sent', async () => {
    const hash = sha256(SIMILARITY);
    expect(codes(await post(gateway, { hash, query: SIMILARITY }))).toEqual(['QUERY_NOT_IN_SAFELIST']);
    expect(codes(await post(gateway, { hash }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });
});
