import { DeviceError, type EmbedRequest } from '../../../functions/clip';
import type { ServedModel } from '../../../functions/handlers/http';

/**
 * What ONNX Runtime's CUDA provider throws when the device has failed (its cuda_call.cc text for
 * cudaErrorIllegalAddress), as a DeviceError. CUDA cannot run on the machines these tests run on,
 * so a wrapped model throws it: a stand-in for the GPU's failure, not for the model.
 */
export const CUDA_ILLEGAL_ADDRESS =
  'CUDA failure 700: an illegal memory access was encountered ; GPU=0 ; hostname=worker ; ' +
  'file=/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc ; line=129 ; expr=cudaStreamSynchronize(stream)';

export const deviceFailure = () => new DeviceError(CUDA_ILLEGAL_ADDRESS);

/**
 * The real model, with `before` run ahead of each embed call (numbered from 1): it may wait (an
 * invocation held in flight) or throw (a device failure on a chosen call).
 */
export function scriptedModel(model: ServedModel, before: (call: number, request: EmbedRequest) => Promise<void> | void): ServedModel {
  let calls = 0;
  return {
    info: model.info,
    describe: () => model.describe(),
    embed: async (request) => {
      await before(++calls, request);
      return model.embed(request);
    },
    release: () => model.release(),
  };
}

/** A promise with its resolve, to hold work until a test lets it go. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
