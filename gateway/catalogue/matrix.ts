/**
 * One matrix product through ONNX Runtime: the similarities of a page of product vectors with every
 * label of a taxonomy. Re-tagging 100,000 products against 50 labels is 2.6 billion multiply-adds;
 * a plain JavaScript loop spends ~50 µs a product on them, ONNX Runtime's BLAS under 1 µs.
 *
 * ONNX Runtime is loaded on the first product, not with this module: a gateway whose CLIP runs in a
 * remote function does not load it unless it re-tags.
 */
import { availableParallelism } from 'node:os';

import type * as Ort from 'onnxruntime-node';

let session: Promise<{ ort: typeof Ort; session: Ort.InferenceSession }> | undefined;

/** `a` (n × k, row-major) times `b` (k × m, row-major): n × m, row-major. */
export async function matrixProduct(a: Float32Array, n: number, b: Float32Array, k: number, m: number): Promise<Float32Array> {
  if (a.length !== n * k || b.length !== k * m) {
    throw new RangeError(`matrixProduct: a has ${a.length} values for ${n} × ${k}, b ${b.length} for ${k} × ${m}`);
  }
  if (n === 0 || m === 0) return new Float32Array(n * m);
  session ??= open();
  const { ort, session: s } = await session;
  const { c } = await s.run({ a: new ort.Tensor('float32', a, [n, k]), b: new ort.Tensor('float32', b, [k, m]) });
  return c.data as Float32Array;
}

async function open(): Promise<{ ort: typeof Ort; session: Ort.InferenceSession }> {
  const ort = require('onnxruntime-node') as typeof Ort;
  // Threads set explicitly: left alone, ONNX Runtime picks one on small VMs.
  const session = await ort.InferenceSession.create(MATMUL_MODEL, {
    intraOpNumThreads: availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  return { ort, session };
}

// ---------------------------------------------------------------------------------------------
// The model: one MatMul node, c = a · b, float32, every dimension symbolic. Written here as the
// protobuf ONNX defines (onnx.proto: ModelProto, GraphProto, NodeProto, ValueInfoProto) rather
// than shipped as a binary file: 112 bytes whose every field can be read below.

const VARINT = 0;
const BYTES = 2;

function varint(value: number): number[] {
  const out: number[] = [];
  for (let v = value; ; v = Math.floor(v / 128)) {
    if (v < 128) return [...out, v];
    out.push((v % 128) | 128);
  }
}

function field(number: number, value: number | string | number[]): number[] {
  if (typeof value === 'number') return [...varint((number << 3) | VARINT), ...varint(value)];
  const bytes = typeof value === 'string' ? [...Buffer.from(value, 'utf8')] : value;
  return [...varint((number << 3) | BYTES), ...varint(bytes.length), ...bytes];
}

/** ValueInfoProto: a float32 tensor whose dimensions are named, not fixed. */
function tensor(name: string, dims: string[]): number[] {
  const shape = dims.flatMap((d) => field(1, field(2, d))); // TensorShapeProto.dim { dim_param }
  const tensorType = [...field(1, 1), ...field(2, shape)]; // elem_type FLOAT = 1, shape
  return [...field(1, name), ...field(2, field(1, tensorType))]; // name, type { tensor_type }
}

const node = [...field(1, 'a'), ...field(1, 'b'), ...field(2, 'c'), ...field(4, 'MatMul')];
const graph = [
  ...field(1, node),
  ...field(2, 'similarities'),
  ...field(11, tensor('a', ['n', 'k'])),
  ...field(11, tensor('b', ['k', 'm'])),
  ...field(12, tensor('c', ['n', 'm'])),
];
/** ir_version 8, the default domain's opset 13, the graph. */
export const MATMUL_MODEL = Uint8Array.from([...field(1, 8), ...field(8, [...field(1, ''), ...field(2, 13)]), ...field(7, graph)]);
