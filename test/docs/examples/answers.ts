// How a page's printed answer is compared with what its example printed: line by line, a JSON
// line by its shape, keys, strings and numbers, any other line as text.

/** A line of output: a JSON value, or text. Blank lines are layout and are not items. */
export type Item = { json: unknown } | { text: string };

/** What a vector cut short in a page ends with (`[0.1, 0.2, …]`): any further numbers. */
const CUT = Symbol('…');
/** How the ellipsis is written in JSON until the parser has read the line: a string no page shows. */
const CUT_TEXT = '\\u0000…';

/** Numbers from ONNX Runtime may differ in their last digits between machines and thread counts. */
const TOLERANCE = 1e-6;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const ISO_TIME = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?Z';
const VARYING = new RegExp(`(${UUID})|${ISO_TIME}`, 'g');

/** The items of an example's output, or of a page's answer (where `…` may cut a list short). */
export function itemsOf(output: string, page = false): Item[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const trimmed = line.trim();
      if (/^[[{]/.test(trimmed)) {
        try {
          return { json: page ? fromPage(trimmed) : JSON.parse(trimmed) };
        } catch {
          // Text that happens to start with a bracket.
        }
      }
      return { text: line.trimEnd() };
    });
}

/** A page's JSON line, where an ellipsis outside strings stands for the rest of a list. */
function fromPage(line: string): unknown {
  let json = '';
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (inString) {
      json += char;
      if (char === '\\') json += line[++i] ?? '';
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
      json += char;
    } else json += char === '…' ? `"${CUT_TEXT}"` : char;
  }
  return JSON.parse(json, (_key, value: unknown) => (value === '\u0000…' ? CUT : value));
}

/**
 * Compares a page's answer with the output, item by item, and says where they differ ([] when
 * they agree). UUIDs and ISO timestamps in the page stand for any, but a UUID the page shows twice
 * must be the same one twice in the output: `ids` carries that across a page's examples.
 */
export function differences(expected: Item[], actual: Item[], ids: Map<string, string>): string[] {
  if (expected.length !== actual.length) {
    return [`the page shows ${expected.length} lines, the example printed ${actual.length}:\n${actual.map(show).join('\n')}`];
  }
  return expected.flatMap((item, i) => {
    const got = actual[i]!;
    if ('text' in item)
      return 'text' in got && sameString(item.text, got.text, ids) ? [] : [`line ${i + 1}: expected ${item.text}, got ${show(got)}`];
    if (!('json' in got)) return [`line ${i + 1}: expected JSON, got ${got.text}`];
    return compare(item.json, got.json, `line ${i + 1}: $`, ids);
  });
}

function show(item: Item): string {
  return 'text' in item ? item.text : JSON.stringify(item.json);
}

function compare(expected: unknown, actual: unknown, at: string, ids: Map<string, string>): string[] {
  const differ = [`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
  if (typeof expected === 'number') {
    return typeof actual === 'number' && Math.abs(expected - actual) <= TOLERANCE ? [] : differ;
  }
  if (typeof expected === 'string') return typeof actual === 'string' && sameString(expected, actual, ids) ? [] : differ;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return differ;
    const cut = expected.at(-1) === CUT;
    const shown = cut ? expected.slice(0, -1) : expected;
    if (cut ? actual.length <= shown.length : actual.length !== shown.length) {
      return [`${at}: expected ${cut ? `more than ${shown.length}` : shown.length} items, got ${actual.length}`];
    }
    return shown.flatMap((value, i) => compare(value, actual[i], `${at}[${i}]`, ids));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return differ;
    const keys = Object.keys(expected);
    const actualKeys = Object.keys(actual);
    if (keys.join() !== actualKeys.join()) return [`${at}: expected the keys ${keys.join(', ')}, got ${actualKeys.join(', ')}`];
    return keys.flatMap((key) =>
      compare((expected as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], `${at}.${key}`, ids),
    );
  }
  return expected === actual ? [] : differ;
}

/** Equal, but for the page's UUIDs and timestamps, which stand for any (a UUID for the same one each time). */
function sameString(expected: string, actual: string, ids: Map<string, string>): boolean {
  const shownIds: string[] = [];
  const pattern = expected.split(VARYING).reduce((source, part, i) => {
    // split() with one group: literal text, then the UUID (or undefined for a timestamp), in turn.
    if (i % 2 === 0) return source + part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (part === undefined) return `${source}${ISO_TIME}`;
    shownIds.push(part);
    return `${source}(${UUID})`;
  }, '');
  const match = new RegExp(`^${pattern}$`).exec(actual);
  if (!match) return false;
  return shownIds.every((shown, i) => {
    const printed = match[i + 1]!;
    const bound = ids.get(shown);
    if (bound !== undefined) return bound === printed;
    if ([...ids.values()].includes(printed)) return false; // two ids on the page, one in the output
    ids.set(shown, printed);
    return true;
  });
}
