// `npm run bench:protocol`: what the wire protocol costs per batch, version 1 (JSON with base64)
// against version 2 (the binary frame): bytes on the wire and the event-loop time to encode and
// decode, measured side by side in one run, versions alternating, medians of many repetitions.
// Each side is timed as the code that runs it does the work: the gateway encodes requests and
// decodes answers (gateway/backends/wire-codec.ts), the function the reverse (functions/handlers),
// UTF-8 conversion of the JSON included, since that is what goes on the wire.
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';

import type { EmbedRequest, EmbedResult } from '../functions/clip';
import {
  decodeRequest,
  decodeRequestV2,
  decodeResults,
  decodeResultsV2,
  encodeRequest,
  encodeRequestV2,
  encodeResults,
  encodeResultsV2,
  LAMBDA_PAYLOAD_LIMIT_BYTES,
  WIRE_REQUEST_OVERHEAD_BYTES,
  WIRE_V2_REQUEST_OVERHEAD_BYTES,
  wireSizeOf,
  wireSizeOfV2,
} from '../functions/protocol';
import { fmt, fmtSpread, seeded, spread, type Spread } from './lib';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '200' },
    quick: { type: 'boolean', default: false },
  },
});
const REPS = args.quick ? 30 : Number(args.reps);
if (!Number.isInteger(REPS) || REPS < 1) throw new TypeError(`--reps must be a positive integer, got ${JSON.stringify(args.reps)}`);
const WARMUP = Math.min(20, REPS);
/** The gateway's default budget per call (REMOTE_MAX_REQUEST_BYTES). */
const GATEWAY_BUDGET_BYTES = 6_000_000;
const VIT_B32_CROP_BYTES = 224 * 224 * 3;

/** One way of putting a batch on the wire and reading it back. */
interface Codec {
  encode(): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

interface Case {
  batch: string;
  /** Who encodes and who decodes. */
  sides: string;
  v1: Codec;
  v2: Codec;
  /** Checks a decoded batch against what was encoded, once before timing. */
  same(decoded: unknown): boolean;
}

const utf8 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

function cropsCase(count: number): Case {
  const random = seeded(count);
  const crops = Array.from({ length: count }, () => Uint8Array.from({ length: VIT_B32_CROP_BYTES }, () => Math.floor(random() * 256)));
  const request: EmbedRequest = { kind: 'crops', items: crops };
  return {
    batch: `${count} crops 224×224×3`,
    sides: 'request: gateway encodes, function decodes',
    v1: { encode: () => json(encodeRequest(request)), decode: (bytes) => decodeRequest(JSON.parse(utf8(bytes))) },
    v2: { encode: () => encodeRequestV2(request), decode: (bytes) => decodeRequestV2(bytes) },
    same: (decoded) => {
      const items = (decoded as { items: Uint8Array[] }).items;
      return items.length === count && items.every((item, i) => Buffer.compare(item, crops[i]) === 0);
    },
  };
}

function vectorsCase(count: number, dim: number): Case {
  const random = seeded(dim);
  const results: EmbedResult[] = Array.from({ length: count }, () => {
    const vector = Float32Array.from({ length: dim }, () => random() * 2 - 1);
    const norm = Math.hypot(...vector);
    return { ok: true, vector: vector.map((v) => v / norm) };
  });
  return {
    batch: `${count} vectors of ${dim} float32`,
    sides: 'answer: function encodes, gateway decodes',
    v1: { encode: () => json(encodeResults(results)), decode: (bytes) => decodeResults(JSON.parse(utf8(bytes)), count, dim) },
    v2: { encode: () => encodeResultsV2(results), decode: (bytes) => decodeResultsV2(bytes, count, dim) },
    same: (decoded) =>
      (decoded as EmbedResult[]).every((r, i) => {
        const expected = results[i];
        return r.ok && expected.ok && Buffer.compare(Buffer.from(r.vector.buffer), Buffer.from(expected.vector.buffer)) === 0;
      }),
  };
}

interface Measured {
  bytes: number;
  encodeMs: Spread;
  decodeMs: Spread;
}

function measure(c: Case): { v1: Measured; v2: Measured } {
  const samples = { v1: { encode: [] as number[], decode: [] as number[] }, v2: { encode: [] as number[], decode: [] as number[] } };
  const bytes = { v1: 0, v2: 0 };
  for (const version of ['v1', 'v2'] as const) {
    const encoded = c[version].encode();
    bytes[version] = encoded.byteLength;
    if (!c.same(c[version].decode(encoded))) throw new Error(`${c.batch}: ${version} does not round-trip`);
  }
  for (let rep = 0; rep < WARMUP + REPS; rep++) {
    // Alternating which version goes first spreads the machine's drift (and GC) over both.
    const order = rep % 2 === 0 ? (['v1', 'v2'] as const) : (['v2', 'v1'] as const);
    for (const version of order) {
      const started = performance.now();
      const encoded = c[version].encode();
      const encodedAt = performance.now();
      c[version].decode(encoded);
      const decodedAt = performance.now();
      if (rep < WARMUP) continue;
      samples[version].encode.push(encodedAt - started);
      samples[version].decode.push(decodedAt - encodedAt);
    }
  }
  const result = (version: 'v1' | 'v2'): Measured => ({
    bytes: bytes[version],
    encodeMs: spread(samples[version].encode),
    decodeMs: spread(samples[version].decode),
  });
  return { v1: result('v1'), v2: result('v2') };
}

const ms = (s: Spread) => fmtSpread(s, s.median < 1 ? 3 : 1);
const count = (n: number) => n.toLocaleString('en-US');

function main(): void {
  const say = (line = '') => process.stdout.write(`${line}\n`);
  say(
    `Run on ${new Date().toISOString().slice(0, 10)} with \`npm run bench:protocol${args.quick ? ' -- --quick' : ''}\`: ${cpus()[0].model.trim()}, ${availableParallelism()} cores, Node ${process.version}.`,
  );
  say(`Medians of ${REPS} repetitions after ${WARMUP} warm-up ones, versions alternating, (min–max) after them; ms of one thread's time.`);
  say();
  say('| batch | direction | protocol | bytes | encode ms | decode ms |');
  say('| --- | --- | --- | ---: | ---: | ---: |');
  for (const c of [cropsCase(32), cropsCase(16), vectorsCase(256, 512)]) {
    const { v1, v2 } = measure(c);
    say(`| ${c.batch} | ${c.sides} | v1 JSON/base64 | ${count(v1.bytes)} | ${ms(v1.encodeMs)} | ${ms(v1.decodeMs)} |`);
    say(`| ${c.batch} | ${c.sides} | v2 binary | ${count(v2.bytes)} | ${ms(v2.encodeMs)} | ${ms(v2.decodeMs)} |`);
  }
  say();
  const crop = new Uint8Array(VIT_B32_CROP_BYTES);
  const perCall = (limit: number, overhead: number, size: number) => Math.floor((limit - overhead) / size);
  say(
    `ViT-B/32 crops per call: v1 ${perCall(GATEWAY_BUDGET_BYTES, WIRE_REQUEST_OVERHEAD_BYTES, wireSizeOf('crops', crop))} ` +
      `(${perCall(LAMBDA_PAYLOAD_LIMIT_BYTES, WIRE_REQUEST_OVERHEAD_BYTES, wireSizeOf('crops', crop))} at the full ${count(LAMBDA_PAYLOAD_LIMIT_BYTES)} bytes), ` +
      `v2 ${perCall(GATEWAY_BUDGET_BYTES, WIRE_V2_REQUEST_OVERHEAD_BYTES, wireSizeOfV2('crops', crop))} ` +
      `(${perCall(LAMBDA_PAYLOAD_LIMIT_BYTES, WIRE_V2_REQUEST_OVERHEAD_BYTES, wireSizeOfV2('crops', crop))}), ` +
      `under the gateway's default budget of ${count(GATEWAY_BUDGET_BYTES)} bytes per call; ` +
      `one crop is ${count(wireSizeOf('crops', crop))} bytes in v1 and ${count(wireSizeOfV2('crops', crop))} in v2 (${fmt((100 * wireSizeOfV2('crops', crop)) / wireSizeOf('crops', crop), 0)}%).`,
  );
}

main();
