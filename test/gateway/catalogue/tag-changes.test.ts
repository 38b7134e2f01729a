import { seqOfCursor, tagChangeCursor } from '../../../gateway/catalogue/tag-changes';
import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { createTestGateway, type TestGateway } from '../../helpers/gateway';

const PAGE = `query ($first: Int, $after: String) {
  tagChanges(first: $first, after: $after) {
    edges { cursor node { productId facet labels previousLabels source model changedAt cursor } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Change {
  productId: string;
  facet: string;
  labels: string[];
  previousLabels: string[];
  source: string;
  model: string | null;
  changedAt: string;
  cursor: string;
}

interface Page {
  tagChanges: { edges: { cursor: string; node: Change }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

describe('Query.tagChanges', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await createTestGateway();
    await seedShapeCatalogue(t.graphql, await shapeProducts(21));
  });
  afterAll(() => t.stop());

  async function page(first: number, after?: string | null): Promise<Page['tagChanges']> {
    const answer = await t.graphql<Page>(PAGE, { first, after });
    expect(answer.errors).toBeUndefined();
    return answer.data!.tagChanges;
  }

  it('pages through every change once, in the order committed, each edge resuming right after itself', async () => {
    // The taxonomy was set before any product: the upsert tagged 32 products, one change each.
    const seen: Change[] = [];
    let after: string | null = null;
    for (;;) {
      const { edges, pageInfo }: Page['tagChanges'] = await page(10, after);
      for (const edge of edges) expect(edge.cursor).toBe(edge.node.cursor);
      seen.push(...edges.map((e) => e.node));
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    expect(seen).toHaveLength(32);
    expect(new Set(seen.map((c) => c.productId)).size).toBe(32);
    const model = `${t.gateway.catalogue.model.name}|${t.gateway.catalogue.model.dtype}`;
    const tags = await t.gateway.catalogue.getTags(seen.map((c) => c.productId));
    for (const change of seen) {
      expect(change).toMatchObject({ facet: 'kind', previousLabels: [], source: 'AUTO', model });
      expect(change.labels).toEqual(tags.get(change.productId)!.map((tag) => tag.label));
    }
    // The 13th edge's cursor resumes at the 14th.
    expect((await page(3, seen[12].cursor)).edges.map((e) => e.node)).toEqual(seen.slice(13, 16));
    expect(await page(5, seen[31].cursor)).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('records a manual change, and nothing for the same label set again', async () => {
    const last = (await page(50)).pageInfo.endCursor;
    const [before] = (await t.gateway.catalogue.getTags(['p00'])).get('p00')!;
    const other = before.label === 'blue square' ? 'pink star' : 'blue square';
    const set = 'mutation ($l: [String!]!) { productTagsSet(productId: "p00", facet: "kind", labels: $l) { userErrors { message } } }';
    for (let i = 0; i < 2; i++) {
      const answer = await t.graphql<{ productTagsSet: { userErrors: unknown[] } }>(set, { l: [other] });
      expect(answer.data?.productTagsSet.userErrors).toEqual([]);
    }
    const { edges } = await page(50, last);
    expect(edges.map((e) => e.node)).toEqual([
      expect.objectContaining({ productId: 'p00', facet: 'kind', previousLabels: [before.label], labels: [other], source: 'MANUAL' }),
    ]);
  });

  it('refuses a cursor it did not make and a first out of bounds, naming the argument', async () => {
    for (const after of [
      'nope',
      tagChangeCursor(3).slice(0, -1),
      Buffer.from('-1').toString('base64url'),
      Buffer.from('01').toString('base64url'),
    ]) {
      const answer = await t.graphql(PAGE, { first: 5, after });
      expect(answer.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
        ['BAD_USER_INPUT', `after is not a cursor this gateway made: ${JSON.stringify(after)}.`],
      ]);
    }
    const zero = await t.graphql(PAGE, { first: 0 });
    expect(zero.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([['BAD_USER_INPUT', 'first must be from 1 to 500: 0.']]);
    const over = await t.graphql(PAGE, { first: 501 });
    expect(over.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(over.errors?.[0].message).toMatch(/^tagChanges asks for first: 501, over the most one page holds, 500 \(CATALOGUE_MAX_PAGE\)/);
  });

  it('makes cursors that name their seq and nothing else', () => {
    for (const seq of [0, 1, 42, Number.MAX_SAFE_INTEGER]) expect(seqOfCursor(tagChangeCursor(seq), 'after')).toBe(seq);
  });
});
