import { rmSync } from 'node:fs';
import { dirname } from 'node:path';

import { ClipErrorCode, DeviceError, ModelLoadError, type EmbedResult } from '../../../functions/clip';
import { ALONE_OUT_OF_MEMORY } from '../../../functions/clip/batch-runner';
import { ClipModel, type ClipModelSeams } from '../../../functions/clip/model';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';
import { nvidiaSmiStandIn } from './nvidia-smi-stand-in';

/**
 * CUDA cannot run on this host, so its failures come from a stand-in: the model's test seam throws
 * the messages ONNX Runtime's CUDA provider produces (see device-errors.test.ts for their sources)
 * before chosen runs; every other run is the real tiny CLIP on ONNX Runtime.
 */
const OUT_OF_MEMORY =
  "Non-zero status code returned while running MatMul node. Name:'/vision/MatMul' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 134217728";
const ILLEGAL_ADDRESS =
  "Non-zero status code returned while running Gemm node. Name:'/vision/Gemm' Status Message: /onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:129 CUDA failure 700: an illegal memory access was encountered ; GPU=0 ; hostname=worker ; file=/onnxruntime_src/onnxruntime/core/providers/cuda/gpu_data_transfer.cc ; line=73 ; expr=cudaMemcpyAsync(dst_data, src_data, bytes, cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(stream.GetHandle())); ";

const reference = loadReference();
const vectorOf = (result: EmbedResult) => {
  if (!result.ok) throw new Error(`expected a vector, got ${result.code}: ${result.message}`);
  return result.vector;
};

/** A model whose runs go through `fault` (set per test), recording every run's tower and batch size. */
async function modelWithFaults() {
  const runs: string[] = [];
  const lines: string[] = [];
  const state: { fault?: (tower: 'text' | 'vision', batch: readonly (string | Uint8Array)[]) => string | undefined } = {};
  const seams: ClipModelSeams = {
    beforeRun: (tower, batch) => {
      const message = state.fault?.(tower, batch);
      runs.push(`${tower} ${batch.length}${message ? ' ✗' : ''}`);
      if (message) throw new Error(message);
    },
  };
  const model = await ClipModel.load(TINY_CLIP_DIR, { log: (line) => lines.push(line) }, seams);
  runs.length = 0;
  lines.length = 0;
  return { model, runs, lines, state };
}

describe('a run out of device memory', () => {
  it('is retried with the batch halved, and the vectors equal the reference', async () => {
    const { model, runs, lines, state } = await modelWithFaults();
    state.fault = (_, batch) => (batch.length > 3 ? OUT_OF_MEMORY : undefined);
    const results = await model.embedCrops(reference.images.map((image) => image.crop));
    expect(runs).toEqual(['vision 9 ✗', 'vision 5 ✗', 'vision 3', 'vision 3', 'vision 3']);
    results.forEach((result, i) => expect(cosine(vectorOf(result), reference.images[i].embedding)).toBeGreaterThanOrEqual(0.9999));
    expect(lines).toEqual([
      'vision model: out of device memory on a batch of 9 (Failed to allocate memory for requested buffer of size 134217728); retrying in batches of 5',
      'vision model: out of device memory on a batch of 5 (Failed to allocate memory for requested buffer of size 134217728); retrying in batches of 3',
    ]);

    // The next call starts from the full batch again.
    runs.length = 0;
    state.fault = undefined;
    await model.embedCrops(reference.images.map((image) => image.crop));
    expect(runs).toEqual(['vision 9']);
    await model.release();
  });

  it('fails only the input that runs out of memory alone, with INFERENCE_FAILED', async () => {
    const { model, runs, state } = await modelWithFaults();
    const huge = 'the one text that does not fit';
    const texts = reference.texts.slice(0, 4).map((t) => t.text);
    state.fault = (tower, batch) => (tower === 'text' && batch.includes(huge) ? OUT_OF_MEMORY : undefined);
    const results = await model.embedTexts([texts[0], texts[1], huge, texts[2], texts[3]]);
    expect(runs).toEqual(['text 5 ✗', 'text 3 ✗', 'text 2', 'text 2 ✗', 'text 1 ✗', 'text 1', 'text 1']);
    expect(results[2]).toEqual({ ok: false, code: ClipErrorCode.INFERENCE_FAILED, message: ALONE_OUT_OF_MEMORY });
    [0, 1, 3, 4].forEach((slot, k) => expect(cosine(vectorOf(results[slot]), reference.texts[k].embedding)).toBeGreaterThanOrEqual(0.9999));
    await model.release();
  });
});

describe('an unrecoverable device failure', () => {
  it('throws DeviceError out of embed, and every later call at once', async () => {
    const { model, runs, state } = await modelWithFaults();
    state.fault = (tower) => (tower === 'vision' ? ILLEGAL_ADDRESS : undefined);
    const error = await model.embedCrops(reference.images.slice(0, 4).map((image) => image.crop)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceError);
    expect((error as DeviceError).message).toBe(
      'The device running the vision model failed on a batch of 4 and cannot recover in this process: CUDA failure 700: an illegal memory access was encountered.',
    );
    expect(((error as DeviceError).cause as Error).message).toBe(ILLEGAL_ADDRESS);
    expect(runs).toEqual(['vision 4 ✗']);

    // Texts never touch the failed tower, but the CUDA context is the process's: refused without a run.
    await expect(model.embedTexts(['a red circle'])).rejects.toBe(error);
    expect(runs).toEqual(['vision 4 ✗']);
    await model.release();
  });

  it('is told apart from an ordinary failure, which propagates as it was and leaves the model working', async () => {
    const { model, state } = await modelWithFaults();
    state.fault = () => 'Invalid rank for input: pixel_values Got: 3 Expected: 4 Please fix either the inputs/outputs or the model.';
    const error = await model.embedCrops([reference.images[0].crop]).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DeviceError);
    expect((error as Error).message).toMatch(/^Invalid rank/);
    state.fault = undefined;
    const [result] = await model.embedCrops([reference.images[0].crop]);
    expect(cosine(vectorOf(result), reference.images[0].embedding)).toBeGreaterThanOrEqual(0.9999);
    await model.release();
  });
});

describe('requireGpu and the startup line', () => {
  const made: string[] = [];
  afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('refuses a GPU requirement on this host, naming the missing provider library', async () => {
    const error = await ClipModel.load(TINY_CLIP_DIR, { device: 'cuda', requireGpu: true, log: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(
      /^text model: a GPU is required \(requireGpu, CLIP_REQUIRE_GPU=true\) but the CUDA execution provider library is not installed: .*libonnxruntime_providers_cuda\.so is missing/,
    );
    await expect(ClipModel.load(TINY_CLIP_DIR, { requireGpu: true, log: () => {} })).rejects.toThrow(
      'requireGpu needs device cuda, got device "cpu"',
    );
  });

  it('logs one line when the model is ready: provider, GPU, ONNX Runtime, model and warm-up', async () => {
    const smi = nvidiaSmiStandIn('one-l4');
    made.push(dirname(smi));
    const lines: string[] = [];
    const model = await ClipModel.load(TINY_CLIP_DIR, { device: 'cuda', nvidiaSmi: smi, log: (line) => lines.push(line) });
    const ready = lines.filter((line) => line.startsWith('CLIP ready'));
    expect(ready).toHaveLength(1);
    expect(lines.at(-1)).toBe(ready[0]);
    // A GPU and its driver are there (the stand-in says so) but not the CUDA provider: the CPU runs it, and the line says so.
    expect(ready[0]).toMatch(
      /^CLIP ready: model tiny-clip \(fp32\); execution provider CPU; GPU NVIDIA L4, driver 550\.90\.07, CUDA 12\.4; ONNX Runtime 1\.30\.0; warm-up \d+ ms \(load and self-check\)$/,
    );
    expect(model.deviceReport).toMatchObject({ provider: 'cpu', onnxRuntime: '1.30.0', gpu: { found: true, name: 'NVIDIA L4' } });
    await model.release();

    const withoutGpu: string[] = [];
    const onCpu = await ClipModel.load(TINY_CLIP_DIR, { nvidiaSmi: '/nonexistent/nvidia-smi', log: (line) => withoutGpu.push(line) });
    expect(withoutGpu.at(-1)).toMatch(
      /; execution provider CPU; GPU none \(\/nonexistent\/nvidia-smi not found\); ONNX Runtime 1\.30\.0; warm-up/,
    );
    await onCpu.release();
  });
});
