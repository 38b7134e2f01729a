import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseCommandLine, UsageError } from '../../../functions/cli/arguments';
import { bundledModelDir } from '../../../functions/models';

// clip-cli prints a refusal as `clip-cli: <message>` (and the usage when showUsage), exit code 2,
// before the model loads: test/functions/cli.test.ts proves that on the built process once; here
// every refusal is checked in-process, as the same command line without CLIP_MODEL_DIR or CLIP_MODEL.
const parse = (argv: string[]) => parseCommandLine(argv, {});

/** The UsageError clip-cli refuses `argv` with. */
function refusal(argv: string[]): UsageError {
  try {
    parse(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`clip-cli ${argv.join(' ')} was accepted`);
}

const red = join(bundledModelDir(), 'images', 'wide-red-circle.jpg');

describe('clip-cli refuses a bad command line at once, before loading the model', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'clip-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The last column: whether the usage follows the message, for a command line missing a part.
  it.each<[string, () => string[], string, boolean]>([
    ['no labels', () => ['classify', red], 'classify needs at least one --label.', true],
    ['no images', () => ['classify', '--label', 'red circle'], 'classify needs at least one image file.', true],
    [
      'a repeated label',
      () => ['classify', red, '--label', 'red circle', '--label', 'blue star', '--label', 'green square', '--label', ' red circle'],
      '--label #4 repeats --label #1 ("red circle"); give each label once, since repeated labels split the probability between them.',
      false,
    ],
    ['a blank label', () => ['classify', red, '--label', 'red circle', '--label', '  '], '--label #2 is empty.', false],
    [
      'a template without {}',
      () => ['classify', red, '--label', 'red circle', '--template', 'a photo of a {}.', '--template', 'a photo'],
      '--template #2 has no {} to put the label in: "a photo".',
      false,
    ],
    [
      'an image file that does not exist',
      () => ['classify', join(dir, 'missing.png'), '--label', 'red circle'],
      'DIR/missing.png does not exist.',
      false,
    ],
    ['a directory as an image file', () => ['classify', dir, '--label', 'red circle'], 'DIR is a directory, not an image file.', false],
    [
      'a bad --dtype',
      () => ['classify', red, '--label', 'red circle', '--dtype', 'fp33'],
      '--dtype must be one of fp32, fp16, q8, int8, uint8, q4, bnb4, q4f16, got "fp33".',
      false,
    ],
    [
      'a bad --device',
      () => ['classify', red, '--label', 'red circle', '--device', 'gpu'],
      '--device must be one of cpu, cuda, got "gpu".',
      false,
    ],
    [
      'a model directory that does not exist',
      () => ['classify', red, '--label', 'red circle', '--model', join(dir, 'no-model')],
      'the model directory DIR/no-model (--model) does not exist or is not a directory.',
      false,
    ],
    ['embed with nothing to embed', () => ['embed'], 'embed needs --text or at least one image file.', true],
    ['similarity without texts', () => ['similarity', red], 'similarity needs at least one --text.', true],
    ['similarity without images', () => ['similarity', '--text', 'a red circle'], 'similarity needs at least one image file.', true],
    ['a bad --top', () => ['classify', red, '--label', 'red circle', '--top', '0'], '--top must be a positive integer, got "0".', false],
    [
      'embed with --json',
      () => ['embed', '--text', 'x', '--json'],
      '--json is for classify and similarity; embed always prints JSON.',
      false,
    ],
    [
      'embed with --label',
      () => ['embed', '--text', 'a red circle', '--label', 'red circle'],
      '--label and --template are for classify; embed takes --text and image files.',
      false,
    ],
    [
      'classify with --text',
      () => ['classify', red, '--label', 'red circle', '--text', 'x'],
      '--text is for embed; classify takes image files and --label.',
      false,
    ],
  ])('%s', (_, args, message, showUsage) => {
    const error = refusal(args());
    expect(error.message).toBe(message.replaceAll('DIR', dir));
    expect(error.showUsage).toBe(showUsage);
  });

  it('accepts a right one: the bundled model, each image read, the options as given', () => {
    const job = parse(['classify', red, '--label', 'red circle', '--label', 'blue star', '--top', '1', '--json', '--dtype', 'q8']);
    expect(job).toEqual({
      command: 'classify',
      json: true,
      top: 1,
      model: { kind: 'directory', directory: bundledModelDir() },
      dtype: 'q8',
      device: 'cpu',
      images: [{ file: red, bytes: readFileSync(red) }],
      labels: ['red circle', 'blue star'],
      templates: undefined,
      texts: [],
    });
  });
});
