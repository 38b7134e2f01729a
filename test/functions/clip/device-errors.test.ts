import { Tensor } from 'onnxruntime-node';

import { classifyRunFailure, failureSummary } from '../../../functions/clip/device-errors';
import { ClipModel } from '../../../functions/clip/model';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

/**
 * Messages as onnxruntime-node throws them: the status text of ONNX Runtime's executor, "Non-zero
 * status code returned while running <Op> node. Name:'<node>' Status Message: <provider's text>"
 * (Python prefixes "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : "; JavaScript gets the rest).
 * Quoted from reports of real failures unless marked as assembled from ONNX Runtime's format
 * strings (cuda_call.cc: "%s failure %d: %s ; GPU=%d ; hostname=%s ; file=%s ; line=%d ; expr=%s; %s").
 */
const running = (op: string, node: string, message: string) =>
  `Non-zero status code returned while running ${op} node. Name:'${node}' Status Message: ${message}`;
const CUDA_CALL = 'D:\\a\\_work\\1\\s\\onnxruntime\\core\\providers\\cuda\\cuda_call.cc:121 onnxruntime::CudaCall ';

const OUT_OF_MEMORY = {
  // SociallyIneptWeeb/AICoverGen#70: cudaMalloc failing inside the CUDA allocator.
  cudaMalloc: running(
    'FusedConv',
    'Conv_33',
    `${CUDA_CALL}CUDA failure 2: out of memory ; GPU=0 ; hostname=DESKTOP-2UFN7CH ; file=D:\\a\\_work\\1\\s\\onnxruntime\\core\\providers\\cuda\\cuda_allocator.cc ; line=47 ; expr=cudaMalloc((void**)&p, size); \n\n`,
  ),
  // C0untFloyd/roop-unleashed#182: the arena could not grow.
  arena: running(
    'FusedConv',
    'stage3_unit1_conv1',
    '/onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:368 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 134217728\n',
  ),
  // hacksider/Deep-Live-Cam#645: cuBLAS could not allocate its workspace.
  cublas: running(
    'Gemm',
    'fc1',
    `${CUDA_CALL}CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED ; GPU=0 ; hostname=TOBI ; file=D:\\a\\_work\\1\\s\\onnxruntime\\core\\providers\\cuda\\cuda_execution_provider.cc ; line=168 ; expr=cublasCreate(&cublas_handle_); `,
  ),
  // hacksider/Deep-Live-Cam#584: no memory left for a stream.
  stream: `${CUDA_CALL}CUDA failure 2: out of memory ; GPU=0 ; hostname=DESKTOP-QUBEI ; file=D:\\a\\_work\\1\\s\\onnxruntime\\core\\providers\\cuda\\cuda_stream_handle.cc ; line=175 ; expr=cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);`,
  // Assembled from bfc_arena.cc's Extend(): gpu_mem_limit reached.
  limit: running('MatMul', '/vision/MatMul', 'Available memory of 0 is smaller than requested bytes of 4194304'),
  // Assembled: cuDNN 9's device allocation failure (status 4004) in the cuda_call.cc format.
  cudnn9: running(
    'Conv',
    '/vision/patchify/Conv',
    '/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:129 CUDNN failure 4004: CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED ; GPU=0 ; hostname=worker ; file=/onnxruntime_src/onnxruntime/core/providers/cuda/nn/conv.cc ; line=391 ; expr=cudnnConvolutionForward(...); ',
  ),
  // cuDNN 8's name for the same failure.
  cudnn8: 'CUDNN failure 2: CUDNN_STATUS_ALLOC_FAILED ; GPU=0 ; hostname=worker ; expr=cudnnCreate(&cudnn_handle_);',
};

const DEVICE_LOST = {
  // C0untFloyd/roop-unleashed#32: the driver reset under a kernel.
  launchFailure: `CUDA failure 719: unspecified launch failure ; GPU=0 ; hostname=BALYN-OMAVEL ; file=D:\\a\\_work\\1\\s\\onnxruntime\\core\\providers\\cuda\\gpu_data_transfer.cc ; line=73 ; expr=cudaMemcpyAsync(dst_data, src_data, bytes, cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(stream.GetHandle())); `,
  // microsoft/onnxruntime#5295.
  illegalAddress:
    'CUDA failure 700: an illegal memory access was encountered ; GPU=0 ; hostname=hemantj-X299-A ; expr=cudaMemcpy(dst_data, src_data, bytes, cudaMemcpyHostToDevice); ',
  // microsoft/onnxruntime#2963, built against CUDA 10.0, whose code for it was 77.
  illegalAddressCuda10:
    '/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:97 bool onnxruntime::CudaCall(ERRTYPE, const char*, const char*, ERRTYPE, const char*) [with ERRTYPE = cudaError; bool THRW = true] CUDA failure 77: an illegal memory access was encountered ; GPU=0 ; hostname=C246-WU4 ; expr=cudaEventDestroy(read_event_);',
  // Assembled: cudaErrorECCUncorrectable (214) with its cudaGetErrorString text.
  ecc: running(
    'MatMul',
    '/text/MatMul_3',
    `${CUDA_CALL}CUDA failure 214: uncorrectable ECC error encountered ; GPU=0 ; hostname=worker ; file=gpu_data_transfer.cc ; line=73 ; expr=cudaMemcpyAsync(...); `,
  ),
  // Assembled: what a GPU that fell off the bus (Xid 79) returns.
  unknown:
    'CUDA failure 999: unknown error ; GPU=0 ; hostname=worker ; file=cuda_execution_provider.cc ; line=201 ; expr=cudaStreamSynchronize(stream); ',
  busy: 'CUDA failure 46: CUDA-capable device(s) is/are busy or unavailable ; GPU=0 ; hostname=worker ; expr=cudaSetDevice(info_.device_id);',
  // The forms other CUDA software uses, which may reach a log through a wrapper.
  torchStyle: 'CUDA error: unspecified launch failure',
  named: 'cudaErrorIllegalAddress (700)',
  cublasExecution: 'CUBLAS failure 13: CUBLAS_STATUS_EXECUTION_FAILED ; GPU=0 ; hostname=worker ; expr=cublasGemmEx(...);',
};

describe('classifyRunFailure', () => {
  it.each(Object.entries(OUT_OF_MEMORY))('%s is out of memory', (_, message) => {
    expect(classifyRunFailure(new Error(message))).toBe('out-of-memory');
  });

  it.each(Object.entries(DEVICE_LOST))('%s leaves the device unusable', (_, message) => {
    expect(classifyRunFailure(new Error(message))).toBe('device-lost');
  });

  it('calls anything else an ordinary failure, including a real one from this ONNX Runtime', async () => {
    const model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
    // A real run failing on the CPU: pixel_values of the wrong rank.
    const vision = (model as unknown as { vision: { session: { run: (feeds: object) => Promise<unknown> } } }).vision.session;
    const real = await vision.run({ pixel_values: new Tensor('float32', new Float32Array(12), [1, 3, 4]) }).then(
      () => new Error('the run should have failed'),
      (error: unknown) => error as Error,
    );
    await model.release();
    expect(real.message).toMatch(/^Invalid rank for input: pixel_values/);
    expect(classifyRunFailure(real)).toBe('other');
    // onnxruntime-node 1.29's words when the CUDA provider's library cannot be loaded (seen here).
    expect(classifyRunFailure(new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library'))).toBe('other');
    expect(classifyRunFailure('CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version')).toBe('other');
  });
});

describe('failureSummary', () => {
  it('keeps the provider’s failure and drops host names and paths', () => {
    expect(failureSummary(new Error(DEVICE_LOST.launchFailure))).toBe('CUDA failure 719: unspecified launch failure');
    expect(failureSummary(new Error(OUT_OF_MEMORY.cublas))).toBe('CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED');
    expect(failureSummary(new Error(OUT_OF_MEMORY.arena))).toBe('Failed to allocate memory for requested buffer of size 134217728');
    expect(failureSummary(new Error('first line\nsecond'))).toBe('first line');
  });
});
