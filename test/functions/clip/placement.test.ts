import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { InferenceSession, Tensor } from 'onnxruntime-node';

import { ModelLoadError } from '../../../functions/clip/errors';
import { placementOf, placementProblem, profilingFor, readPlacement, type Placement } from '../../../functions/clip/placement';
import { confirmPlacement, type LoadedSession, type SessionOptions } from '../../../functions/clip/sessions';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const VISION = join(TINY_CLIP_DIR, 'onnx', 'vision_model.onnx');
const pixels = () => new Tensor('float32', new Float32Array(3 * 64 * 64).fill(0.5), [1, 3, 64, 64]);

/** A real session on the CPU, created as a CUDA session is (profiling on), and run once. */
async function profiledSession(): Promise<{ session: InferenceSession; dir: string }> {
  const profile = profilingFor('vision model');
  const session = await InferenceSession.create(VISION, { ...profile.options, executionProviders: ['cpu'] });
  await session.run({ pixel_values: pixels() });
  return { session, dir: profile.dir };
}

/** The profile ONNX Runtime wrote for one run of the tiny CLIP's vision tower on the CPU. */
async function realProfile(): Promise<{ cat: string; name: string; args: Record<string, unknown> }[]> {
  const { session, dir } = await profiledSession();
  try {
    session.endProfiling();
    const [file] = readdirSync(dir);
    return JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } finally {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('reading where ONNX Runtime ran the nodes', () => {
  it('counts the kernels of a real profile and removes the file', async () => {
    const { session, dir } = await profiledSession();
    const placement = readPlacement(session, dir);
    expect(existsSync(dir)).toBe(false);
    // The tiny CLIP's optimised vision graph: every kernel on the CPU, MatMul and Conv among them.
    expect(placement.nodes).toBeGreaterThan(50);
    expect(placement.onCuda).toBe(0);
    expect(placement.heavyOnCpu.MatMul).toBeGreaterThan(0);
    expect(placement.heavyOnCpu.Conv).toBeGreaterThan(0);
    expect(placementProblem(placement)).toBe(`no node ran on the CUDA execution provider (all ${placement.nodes} ran on the CPU)`);
    await session.release();
  });

  it('accepts a run whose compute-heavy nodes ran on CUDA, and names those that did not', async () => {
    // A stand-in for a CUDA profile (none can be made here): the real CPU profile with the
    // provider that the CUDA execution provider writes, and shape arithmetic left to the CPU.
    const events = await realProfile();
    const onCuda = events.map((event) =>
      event.cat === 'Node' && !['Shape', 'Gather', 'Concat', 'Unsqueeze'].includes(String(event.args.op_name))
        ? { ...event, args: { ...event.args, provider: 'CUDAExecutionProvider' } }
        : event,
    );
    const copy = { cat: 'Node', name: 'Memcpy_kernel_time', args: { op_name: 'MemcpyFromHost', provider: 'CUDAExecutionProvider' } };
    const placement = placementOf([...onCuda, copy]);
    expect(placement.nodes).toBe(placementOf(events).nodes);
    expect(placement.onCuda).toBeGreaterThan(0);
    expect(placement.onCuda).toBeLessThan(placement.nodes);
    expect(placementProblem(placement)).toBeUndefined();

    const firstMatMul = onCuda.findIndex((event) => event.args.op_name === 'MatMul');
    const oneMatMulOnCpu = onCuda.map((event, i) =>
      i === firstMatMul ? { ...event, args: { ...event.args, provider: 'CPUExecutionProvider' } } : event,
    );
    expect(placementProblem(placementOf(oneMatMulOnCpu))).toMatch(
      /^the CPU ran compute-heavy operators \(MatMul ×1\) while CUDA ran \d+ of \d+ nodes;/,
    );
    expect(() => placementOf({ not: 'a profile' })).toThrow('the profile is not a JSON array of events');
  });
});

describe('confirmPlacement', () => {
  const lines: string[] = [];
  const options = (requireGpu: boolean): SessionOptions => ({
    device: 'cuda',
    requireGpu,
    intraOpThreads: 0,
    spinning: true,
    log: (line) => lines.push(line),
  });

  // A session ONNX Runtime created for CUDA but ran wholly on the CPU: the quiet fallback the check exists for.
  const cudaInName = async (): Promise<LoadedSession> => {
    const { session, dir } = await profiledSession();
    return { session, provider: 'cuda', profileDir: dir };
  };

  it('refuses it when a GPU is required, naming why', async () => {
    const loaded = await cudaInName();
    let error: unknown;
    try {
      confirmPlacement(loaded, 'vision model', options(true));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(
      /^vision model: a GPU is required \(requireGpu, CLIP_REQUIRE_GPU=true\) but no node ran on the CUDA execution provider \(all \d+ ran on the CPU\)\.$/,
    );
    expect(loaded.profileDir).toBeUndefined();
    await loaded.session.release();
  });

  it('otherwise logs it and calls the session what it is: a CPU session', async () => {
    const loaded = await cudaInName();
    const placement = confirmPlacement(loaded, 'vision model', options(false)) as Placement;
    expect(placement.onCuda).toBe(0);
    expect(loaded.provider).toBe('cpu');
    expect(lines.at(-1)).toMatch(/^vision model: the CUDA execution provider is loaded but no node ran on the CUDA execution provider/);
    expect(confirmPlacement(loaded, 'vision model', options(false))).toBeUndefined();
    await loaded.session.release();
  });
});
