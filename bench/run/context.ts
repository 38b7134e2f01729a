// What every section of `npm run bench` is given: how long to measure, where the report goes, the
// model and its inputs, the gateway's settings, and what the earlier sections measured.
import type { ClipModel } from '../../functions/clip/model';
import { defaultConfig } from '../../gateway/config';
import type { Target } from '../catalogue';
import { spread, type Spread } from '../lib';

/** The gateway's defaults, which every gateway started here runs with unless a section says otherwise. */
export const GATEWAY_DEFAULTS = defaultConfig();

export interface BenchContext {
  /** --quick: shorter runs, fewer rounds, smaller sizes. */
  quick: boolean;
  /** Interleaved rounds of each comparison. */
  rounds: number;
  /** Length of each measured HTTP load, s. */
  loadSeconds: number;
  /** A line of the report (printed as it comes). */
  say: (line?: string) => void;
  targets: Target[];
  modelDir: string;
  model: ClipModel;
  tokenizer: ClipModel['tokenizer'];
  cores: number;
  /** ONNX Runtime intra-op threads per worker, as the gateway's local backend runs it. */
  threads: number;
  /** The measured arithmetic peak, GFLOP/s (see index.ts). */
  peakGflops: number;
  /** 32 ViT-B/32 crops (224×224×3) of fixed pseudo-random bytes. */
  crops: Uint8Array[];
  /** Prompts of 7, 16 and 77 tokens. */
  prompts: { short: string; medium: string; long: string };
  /** Section 1's figures, read by the later sections (0: not measured in this run). */
  raw: { bestImages: number; singleMs: number; short32: number; medium32: number };
}

/** What the sections that talk to a gateway process send it. */
export interface GatewayInputs {
  /** Distinct 640×480 JPEGs. */
  jpegs: Buffer[];
  /** One `embed` request per JPEG, base64. */
  imageBodies: string[];
  /** The gateway's environment: the bench model, image cache off, in-flight backstop lifted. */
  gatewayEnv: Record<string, string>;
}

/** Runs `work` repeatedly for at least `minMs` (and `minRuns` times); returns items per second. */
export async function throughput(
  ctx: BenchContext,
  items: number,
  work: () => Promise<unknown>,
  minMs = ctx.quick ? 800 : 2000,
  minRuns = 2,
): Promise<number> {
  await work(); // warm-up: first runs allocate
  let runs = 0;
  const started = performance.now();
  while (runs < minRuns || performance.now() - started < minMs) {
    await work();
    runs++;
  }
  return (runs * items) / ((performance.now() - started) / 1000);
}

/** Interleaves variants over rounds so that drift on a shared machine spreads over all of them. */
export async function interleaved<K extends string>(
  ctx: BenchContext,
  variants: Record<K, () => Promise<number>>,
): Promise<Record<K, Spread>> {
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < ctx.rounds; round++) {
    for (const key of Object.keys(variants) as K[]) samples[key].push(await variants[key]());
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, spread(v as number[])])) as Record<K, Spread>;
}

/** The longest start of a sneaker photo's caption, repeated, that is at most `tokens` tokens. */
export function promptOfTokens(tokenizer: ClipModel['tokenizer'], tokens: number): string {
  const words =
    'a photo of a small red leather sneaker with white laces on a wooden floor next to a green plant in morning light near the window'.split(
      ' ',
    );
  let text = '';
  for (const word of [...words, ...words, ...words, ...words, ...words]) {
    const next = text ? `${text} ${word}` : word;
    if (tokenizer.encode(next).length > tokens) break;
    text = next;
  }
  return text;
}
