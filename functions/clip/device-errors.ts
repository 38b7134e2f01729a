/**
 * What a failed ONNX Runtime run means for this process, read from the error's text: from
 * JavaScript, an ONNX Runtime error is a message and nothing else (onnxruntime-node throws the
 * C++ status text). The CUDA execution provider builds that text in cuda_call.cc as
 * "<lib> failure <code>: <description> ; GPU=<n> ; hostname=... ; file=... ; line=... ; expr=...",
 * wrapped by the executor in "Non-zero status code returned while running <Op> node. ...".
 *
 * - `out-of-memory`: the run asked for more device memory than there was; a smaller batch may fit.
 * - `device-lost`: the CUDA context is unusable (CUDA documents these as leaving "the process in
 *   an inconsistent state"; any further CUDA work returns the same error) or the GPU is gone.
 *   Only a new process helps.
 * - `other`: anything else (a bad input, a missing kernel): the run failed, the device is fine.
 */
export type RunFailureKind = 'out-of-memory' | 'device-lost' | 'other';

/**
 * cudaError_t codes after which the process must be relaunched (CUDA's driver_types.h says so of
 * 226, 700, 702, 710 and 714-721), plus the hardware and driver failures that leave no usable
 * device: initialization error (3), driver shutting down (4), devices busy or unavailable (46),
 * uncorrectable ECC (214) and NVLink (220) errors, context destroyed (709), unknown error (999,
 * what a GPU that "has fallen off the bus", Xid 79, usually returns).
 */
const UNRECOVERABLE_CUDA_CODES = new Set([3, 4, 46, 214, 220, 226, 700, 702, 709, 710, 714, 715, 716, 717, 718, 719, 721, 999]);

/** cudaGetErrorString's texts and cudaError_t names of those errors, for messages without "CUDA failure <code>:". */
const DEVICE_LOST_TEXTS = [
  /an illegal memory access was encountered/i,
  /unspecified launch failure/i,
  /uncorrectable ECC error/i,
  /uncorrectable NVLink error/i,
  /device-side assert triggered/i,
  /an illegal instruction was encountered/i,
  /misaligned address/i,
  /hardware stack error/i,
  /invalid program counter/i,
  /the launch timed out and was terminated/i,
  /CUDA-capable device\(s\) is\/are busy or unavailable/i,
  /GPU has fallen off the bus/i,
  /\bcudaError(?:IllegalAddress|LaunchFailure|ECCUncorrectable|NvlinkUncorrectable|Assert|IllegalInstruction|MisalignedAddress|HardwareStackError|InvalidPc|InvalidAddressSpace|LaunchTimeout|DevicesUnavailable|ContextIsDestroyed|Contained|TensorMemoryLeak)\b/,
  /\bCUDA_ERROR_(?:ILLEGAL_ADDRESS|LAUNCH_FAILED|ECC_UNCORRECTABLE|ASSERT|HARDWARE_STACK_ERROR|ILLEGAL_INSTRUCTION|MISALIGNED_ADDRESS|INVALID_PC|LAUNCH_TIMEOUT)\b/,
  // cuBLAS and cuDNN report a kernel that died, usually after one of the above, as "execution failed".
  /\bCUBLAS_STATUS_EXECUTION_FAILED\b/,
  /\bCUDNN_STATUS_EXECUTION_FAILED\w*/,
];

const OUT_OF_MEMORY_TEXTS = [
  // "CUDA failure 2: out of memory" (cudaErrorMemoryAllocation) and the driver API's name for it.
  /\bout of memory\b/i,
  // BFCArena (onnxruntime/core/framework/bfc_arena.cc) when cudaMalloc fails while extending the arena,
  /Failed to allocate memory for requested buffer of size \d+/,
  // and when gpu_mem_limit is reached.
  /Available memory of \d+ is smaller than requested bytes of \d+/,
  /\bcudaErrorMemoryAllocation\b/,
  /\bCUDA_ERROR_OUT_OF_MEMORY\b/,
  /\bCUBLAS_STATUS_ALLOC_FAILED\b/,
  // cuDNN 8's name, and cuDNN 9's host and device allocation failures (4003, 4004).
  /\bCUDNN_STATUS_ALLOC_FAILED\b/,
  /\bCUDNN_STATUS_INTERNAL_ERROR_(?:HOST|DEVICE)_ALLOCATION_FAILED\b/,
  /\bCUFFT_ALLOC_FAILED\b/,
  // Host memory, when ONNX Runtime catches a failed new.
  /\bstd::bad_alloc\b/,
];

/** Which kind of failure an ONNX Runtime run's error is; see RunFailureKind. */
export function classifyRunFailure(error: unknown): RunFailureKind {
  const text = messageOf(error);
  for (const match of text.matchAll(/\bCUDA failure (\d+):/g)) {
    const code = Number(match[1]);
    if (UNRECOVERABLE_CUDA_CODES.has(code)) return 'device-lost';
  }
  if (DEVICE_LOST_TEXTS.some((pattern) => pattern.test(text))) return 'device-lost';
  if (OUT_OF_MEMORY_TEXTS.some((pattern) => pattern.test(text))) return 'out-of-memory';
  return 'other';
}

/**
 * The part of an ONNX Runtime error worth a log line: "CUDA failure 700: an illegal memory access
 * was encountered" out of the provider's long text (which carries host names and source paths),
 * else the arena's sentence, else the first line.
 */
export function failureSummary(error: unknown): string {
  const text = messageOf(error);
  const library = /\b(?:CUDA|CUBLAS|CUDNN|CUFFT|CURAND) failure -?\d+: [^;\n]*/.exec(text);
  if (library) return library[0].trim();
  const arena =
    /(?:Failed to allocate memory for requested buffer of size \d+|Available memory of \d+ is smaller than requested bytes of \d+)/.exec(
      text,
    );
  if (arena) return arena[0];
  const first = text.split('\n')[0];
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}

function messageOf(error: unknown): string {
  return String(error instanceof Error ? error.message : error);
}
