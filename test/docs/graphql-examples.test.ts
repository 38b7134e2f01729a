import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { buildSchema, parse, validate } from 'graphql';

// The pages' ```graphql examples are not run (the shell examples are, by examples.test.ts), so
// nothing else would notice one that names a field or an argument the API does not have: each is
// validated against the schema the code makes (schema/schema.graphql, kept current by schema.test.ts).
const ROOT = join(__dirname, '..', '..');
const SCHEMA = buildSchema(readFileSync(join(ROOT, 'schema', 'schema.graphql'), 'utf8'));
/** The federation guide's examples are a shop's own subgraph and queries against its supergraph, not this schema. */
const OTHER_SCHEMAS = ['docs/federation.md'];
const PAGES = execFileSync('git', ['ls-files', '--', '*.md'], { cwd: ROOT, encoding: 'utf8' })
  .trim()
  .split('\n')
  .filter((page) => !OTHER_SCHEMAS.includes(page));

/** Each ```graphql block of a page, with the line it starts on. */
function graphqlBlocks(page: string): { line: number; text: string }[] {
  const text = readFileSync(join(ROOT, page), 'utf8');
  return [...text.matchAll(/^```graphql\n([\s\S]*?)^```$/gm)].map((match) => ({
    line: text.slice(0, match.index).split('\n').length,
    text: match[1]!,
  }));
}

describe("the pages' GraphQL examples", () => {
  const blocks = PAGES.flatMap((page) => graphqlBlocks(page).map((block) => ({ page, ...block })));

  it('are there to check', () => {
    expect(blocks.length).toBeGreaterThan(5);
  });

  it('are valid operations against the schema', () => {
    const invalid = blocks.flatMap(({ page, line, text }) => {
      try {
        return validate(SCHEMA, parse(text)).map((error) => `${page}:${line}: ${error.message}`);
      } catch (error) {
        return [`${page}:${line}: ${(error as Error).message}`];
      }
    });
    expect(invalid).toEqual([]);
  });

  it('would be told apart from a wrong one', () => {
    expect(validate(SCHEMA, parse('{ taxonomy { noSuchField } }')).map((error) => error.message)).toEqual([
      'Cannot query field "noSuchField" on type "Taxonomy".',
    ]);
  });
});
