import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { anchorOf } from '../../tools/config-reference';

const ROOT = join(__dirname, '..', '..');
const DOCS = join(ROOT, 'docs');
/** Every Markdown page in the repository: the README, docs/, RELIABILITY.md, BENCHMARKS.md, infra/README.md, ... */
const PAGES = execFileSync('git', ['ls-files', '--', '*.md'], { cwd: ROOT, encoding: 'utf8' })
  .trim()
  .split('\n')
  .map((path) => join(ROOT, path));

/** The page without its fenced code blocks, whose lines are shell comments and JSON, not Markdown. */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** The anchors a page's headings get, as GitHub makes them (a repeated one gets -1, -2, ...). */
function anchorsOf(page: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(readFileSync(page, 'utf8')).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const anchor = anchorOf(heading!);
    const count = seen.get(anchor) ?? 0;
    anchors.add(count === 0 ? anchor : `${anchor}-${count}`);
    seen.set(anchor, count + 1);
  }
  return anchors;
}

/** Every Markdown link and image target outside code: `[text](target)`. */
function linksOf(text: string): string[] {
  const outsideCode = prose(text).replace(/`[^`\n]*`/g, '');
  return [...outsideCode.matchAll(/!?\[(?:[^\]\n]|\][^(])*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!);
}

/** Where a relative link leads, or why it leads nowhere. */
function problemWith(page: string, target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path === '' ? page : join(dirname(page), decodeURIComponent(path));
  if (!existsSync(file)) return `${target}: no such file`;
  if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(file).has(anchor)) {
    return `${target}: ${relative(ROOT, file)} has no heading with the anchor #${anchor}`;
  }
  return undefined;
}

const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

describe('the Markdown pages git tracks', () => {
  it.each(PAGES.map((page) => [relative(ROOT, page), page]))('%s: every relative link resolves, anchors included', (_, page) => {
    const links = linksOf(readFileSync(page, 'utf8')).filter((target) => !ABSOLUTE.test(target));
    const problems = links.map((target) => problemWith(page, target)).filter(Boolean);
    expect(problems).toEqual([]);
  });

  it('link within docs/ only: a link out of it would break the repository hook, so other files are named by path in backticks', () => {
    const outward = PAGES.filter((page) => dirname(page) === DOCS).flatMap((page) =>
      readFileSync(page, 'utf8').includes('](../') ? [relative(ROOT, page)] : [],
    );
    expect(outward).toEqual([]);
  });

  it('name only repository paths that exist, where they name one in backticks', () => {
    // Under a top-level folder, or a file at the top (a bare config.json is a model's, not the repository's).
    const TOP =
      /^(?:gateway|functions|bench|tools|test|scripts|infra|schema|models|docs|examples|\.ci)\/[\w./-]*$|^(?:[A-Z]+\.md|package\.json|cdk\.json)$/;
    const GENERATED = /^(?:bench\/model|dist|test-artifacts|data)(?:\/|$)/;
    const named = PAGES.flatMap((page) =>
      [...prose(readFileSync(page, 'utf8')).matchAll(/`([^`\s]+)`/g)]
        .map((match) => match[1]!.replace(/[.,:;]$/, ''))
        .filter((path) => TOP.test(path) && !GENERATED.test(path))
        .map((path) => ({ page: relative(ROOT, page), path })),
    );
    // The guides name dozens of files; finding none would mean the pattern no longer sees them.
    expect(named.length).toBeGreaterThan(40);
    const missing = named.filter(({ path }) => !existsSync(join(ROOT, path))).map(({ page, path }) => `${page}: ${path}`);
    expect(missing).toEqual([]);
  });

  it('finds links and anchors where they are, so that it can fail', () => {
    expect(linksOf('[a](b.md#c) `[x](y)` ![p](q.png)\n```\n[z](w)\n```\n')).toEqual(['b.md#c', 'q.png']);
    expect(anchorOf('The bundled tiny CLIP (`models/tiny-clip/`)')).toBe('the-bundled-tiny-clip-modelstiny-clip');
    expect(problemWith(join(DOCS, 'api.md'), 'catalogue.md#no-such-heading')).toMatch(/no heading with the anchor #no-such-heading/);
    expect(problemWith(join(DOCS, 'api.md'), 'no-such-page.md')).toMatch(/no such file/);
  });
});
