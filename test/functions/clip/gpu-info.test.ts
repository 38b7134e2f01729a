import { rmSync } from 'node:fs';
import { dirname } from 'node:path';

import { cudaVersionOf, describeGpu, gpuMemoryUsedMiB, probeGpu } from '../../../functions/clip/gpu-info';
import { nvidiaSmiStandIn } from './nvidia-smi-stand-in';

/** nvidia-smi cannot run here (no GPU, no driver): stand-ins print what it prints. */
describe('probeGpu', () => {
  const made: string[] = [];
  const standIn = (host: Parameters<typeof nvidiaSmiStandIn>[0]) => {
    const path = nvidiaSmiStandIn(host);
    made.push(dirname(path));
    return path;
  };
  afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('reads the name and driver from the CSV query and the CUDA version from the table header', async () => {
    const probe = await probeGpu(standIn('one-l4'));
    expect(probe).toEqual({ found: true, name: 'NVIDIA L4', driver: '550.90.07', cuda: '12.4', count: 1 });
    expect(describeGpu(probe)).toBe('NVIDIA L4, driver 550.90.07, CUDA 12.4');
  });

  it('counts the GPUs and describes the first', async () => {
    const probe = await probeGpu(standIn('four-a10g'));
    expect(probe).toMatchObject({ found: true, name: 'NVIDIA A10G', driver: '535.183.01', cuda: '12.2', count: 4 });
    expect(describeGpu(probe)).toBe('NVIDIA A10G (the first of 4), driver 535.183.01, CUDA 12.2');
  });

  it('says when nvidia-smi is missing, without failing', async () => {
    const probe = await probeGpu('/nonexistent/nvidia-smi');
    expect(probe).toEqual({ found: false, reason: '/nonexistent/nvidia-smi not found' });
    expect(describeGpu(probe)).toBe('none (/nonexistent/nvidia-smi not found)');
    expect(await probeGpu()).toEqual({ found: false, reason: 'nvidia-smi not found' });
  });

  it('passes on what nvidia-smi says when the driver is not loaded', async () => {
    const path = standIn('driver-not-loaded');
    expect(await probeGpu(path)).toEqual({
      found: false,
      reason: `${path} failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.`,
    });
    expect(await gpuMemoryUsedMiB(path)).toBeUndefined();
  });

  it('reads the memory in use on the first GPU', async () => {
    expect(await gpuMemoryUsedMiB(standIn('one-l4'))).toBe(812);
    expect(await gpuMemoryUsedMiB('/nonexistent/nvidia-smi')).toBeUndefined();
  });
});

describe('cudaVersionOf', () => {
  it('reads both labels of the header', () => {
    expect(cudaVersionOf('| NVIDIA-SMI 450.57       Driver Version: 450.57       CUDA Version: 11.0     |')).toBe('11.0');
    // Drivers from the 610 series say "CUDA UMD Version" (github.com/gkyle/startrails pull 18).
    expect(cudaVersionOf('| NVIDIA-SMI 610.47   KMD Version: 610.47   CUDA UMD Version: 13.3 |')).toBe('13.3');
    expect(cudaVersionOf('| NVIDIA-SMI 331.62     Driver Version: 331.62         |')).toBeUndefined();
  });
});
