import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { InferenceSession } from 'onnxruntime-node';

/**
 * Where ONNX Runtime ran the nodes of a session's graph: the strongest check onnxruntime-node
 * 1.30 allows that the CUDA execution provider really runs the model, rather than being loaded
 * while the CPU does the work.
 *
 * What the JavaScript API offers, and why the rest falls short:
 * - a session created with ['cuda', 'cpu'] does not say which provider took which nodes (the
 *   binding has no getProviders());
 * - listSupportedBackends() says the binding was built with CUDA, not that the provider loads;
 * - the session option session.disable_cpu_ep_fallback=1 fails the session when any node is left
 *   to the CPU, but the CUDA provider leaves shape arithmetic (Shape, Gather, Concat of a few
 *   int64s) to the CPU on purpose, so a healthy CLIP export fails it;
 * - the profiler (enableProfiling) records each kernel a run executes with the provider that
 *   executed it: {"cat": "Node", "name": "..._kernel_time", "args": {"op_name": "MatMul",
 *   "provider": "CUDAExecutionProvider", ...}}. That is what this reads: sessions on CUDA are
 *   created with profiling on, the self-check's run of each tower is profiled, and endProfiling()
 *   stops it, so later runs pay nothing.
 *
 * Limits: placement is fixed when the session is created, so one run shows it, but the profile
 * says where kernels ran, not how fast they were; the verdict counts only compute-heavy operators
 * (MatMul, Gemm, Conv, attention), since small ones on the CPU are ONNX Runtime's own choice; it
 * cannot see inside a provider (TensorRT subgraphs, CUDA graphs); and it needs a writable
 * temporary directory for the profile file.
 */
export interface Placement {
  /** Kernels the profiled run executed, copies between host and device excepted. */
  nodes: number;
  /** How many of them the CUDA execution provider ran. */
  onCuda: number;
  /** Compute-heavy operators the CPU ran, by operator type: { MatMul: 16 }. */
  heavyOnCpu: Record<string, number>;
}

const CUDA_PROVIDER = 'CUDAExecutionProvider';
const HEAVY_OPERATOR = /MatMul|Gemm|Conv|Attention/;
const COPY_OPERATOR = /^Memcpy(?:FromHost|ToHost)$/;

/** A temporary directory for one session's profile, and the session options that write it there. */
export function profilingFor(what: string): { dir: string; options: InferenceSession.SessionOptions } {
  const dir = mkdtempSync(join(tmpdir(), 'clip-placement-'));
  return { dir, options: { enableProfiling: true, profileFilePrefix: join(dir, what.replace(/\W+/g, '-')) } };
}

/** Stops the session's profiling and reads where its run put each node; the directory is removed either way. */
export function readPlacement(session: InferenceSession, dir: string): Placement {
  try {
    session.endProfiling();
    const files = readdirSync(dir).filter((file) => file.endsWith('.json'));
    if (files.length !== 1) throw new Error(`ONNX Runtime wrote ${files.length} profile files to ${dir}; expected one`);
    return placementOf(JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) as unknown);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ProfileEvent {
  cat?: unknown;
  name?: unknown;
  args?: { op_name?: unknown; provider?: unknown };
}

/** Counts a profile's kernels (the "..._kernel_time" node events) by provider. */
export function placementOf(profile: unknown): Placement {
  if (!Array.isArray(profile)) throw new Error('the profile is not a JSON array of events');
  const placement: Placement = { nodes: 0, onCuda: 0, heavyOnCpu: {} };
  for (const event of profile as ProfileEvent[]) {
    if (event?.cat !== 'Node' || typeof event.name !== 'string' || !event.name.endsWith('_kernel_time')) continue;
    const op = String(event.args?.op_name ?? '');
    if (COPY_OPERATOR.test(op)) continue;
    placement.nodes += 1;
    if (event.args?.provider === CUDA_PROVIDER) placement.onCuda += 1;
    else if (HEAVY_OPERATOR.test(op)) placement.heavyOnCpu[op] = (placement.heavyOnCpu[op] ?? 0) + 1;
  }
  return placement;
}

/** Why this placement is no GPU run, or undefined when every compute-heavy operator ran on CUDA. */
export function placementProblem(placement: Placement): string | undefined {
  if (placement.nodes === 0) return 'the profiled run recorded no kernels';
  if (placement.onCuda === 0) return `no node ran on the CUDA execution provider (all ${placement.nodes} ran on the CPU)`;
  const heavy = Object.entries(placement.heavyOnCpu);
  if (heavy.length === 0) return undefined;
  const list = heavy.map(([op, count]) => `${op} ×${count}`).join(', ');
  return `the CPU ran compute-heavy operators (${list}) while CUDA ran ${placement.onCuda} of ${placement.nodes} nodes; this model's operators lack CUDA kernels (a quantized export? try dtype fp32 or fp16)`;
}

/** "CUDA ran 412 of 430 nodes". */
export function describePlacement(placement: Placement): string {
  return `CUDA ran ${placement.onCuda} of ${placement.nodes} nodes`;
}
