import { execFile } from 'node:child_process';

/**
 * What nvidia-smi says about the host's GPU, for the startup line and the GPU check. Absent
 * (a CPU host, a container started without the NVIDIA runtime) is an answer, never a failure.
 */
export type GpuProbe =
  | {
      found: true;
      /** The first GPU's name ("NVIDIA L4"); ONNX Runtime's device 0 is the first one visible. */
      name: string;
      driver: string;
      /** The newest CUDA the driver supports, from nvidia-smi's header; undefined when it prints none. */
      cuda?: string;
      /** How many GPUs nvidia-smi lists. */
      count: number;
    }
  | { found: false; reason: string };

/** How long a hung driver may keep nvidia-smi waiting before the probe gives up. */
const TIMEOUT_MS = 5_000;

/**
 * Asks `command` (nvidia-smi, or a stand-in) for the GPU's name and driver
 * (`--query-gpu=name,driver_version --format=csv,noheader`: one "NVIDIA L4, 550.90.07" line per
 * GPU) and, from its plain table's header, the CUDA version: `--query-gpu` has no field for it.
 */
export async function probeGpu(command = 'nvidia-smi'): Promise<GpuProbe> {
  const query = await run(command, ['--query-gpu=name,driver_version', '--format=csv,noheader']);
  if (!query.ok) return { found: false, reason: query.reason };
  const gpus = query.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const comma = line.lastIndexOf(',');
      return { name: line.slice(0, comma).trim(), driver: line.slice(comma + 1).trim() };
    });
  if (gpus.length === 0 || gpus[0].name === '' || gpus[0].driver === '') {
    return { found: false, reason: `${command} listed no GPU (${JSON.stringify(query.stdout.trim().slice(0, 80))})` };
  }
  const table = await run(command, []);
  return { found: true, ...gpus[0], cuda: table.ok ? cudaVersionOf(table.stdout) : undefined, count: gpus.length };
}

/**
 * The CUDA version in nvidia-smi's header: "| NVIDIA-SMI 550.90.07  Driver Version: 550.90.07
 * CUDA Version: 12.4 |"; drivers from the 610 series label it "CUDA UMD Version".
 */
export function cudaVersionOf(table: string): string | undefined {
  return /CUDA (?:UMD )?Version:\s*([0-9][0-9.]*)/.exec(table)?.[1];
}

/**
 * Device memory in use on the first GPU, in MiB (`--query-gpu=memory.used --format=csv,noheader,nounits`);
 * undefined without nvidia-smi. The figure covers every process on the GPU, and ONNX Runtime's
 * arena keeps what it has grown to, so it reads as "the most this process has needed so far".
 */
export async function gpuMemoryUsedMiB(command = 'nvidia-smi'): Promise<number | undefined> {
  const query = await run(command, ['--query-gpu=memory.used', '--format=csv,noheader,nounits']);
  if (!query.ok) return undefined;
  const used = Number(query.stdout.split('\n')[0].trim());
  return Number.isFinite(used) ? used : undefined;
}

/** "NVIDIA L4, driver 550.90.07, CUDA 12.4", or why there is none. */
export function describeGpu(probe: GpuProbe): string {
  if (!probe.found) return `none (${probe.reason})`;
  const count = probe.count > 1 ? ` (the first of ${probe.count})` : '';
  return `${probe.name}${count}, driver ${probe.driver}, CUDA ${probe.cuda ?? 'version not shown by nvidia-smi'}`;
}

type RunResult = { ok: true; stdout: string } | { ok: false; reason: string };

function run(command: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve({ ok: true, stdout });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return resolve({ ok: false, reason: `${command} not found` });
      if (code === 'EACCES') return resolve({ ok: false, reason: `${command} cannot be run (permission denied)` });
      if ((error as { killed?: boolean }).killed) {
        return resolve({ ok: false, reason: `${command} did not answer within ${TIMEOUT_MS / 1000} s` });
      }
      // nvidia-smi prints its reason on stdout ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. ...").
      const said =
        `${stdout}\n${stderr}`
          .split('\n')
          .find((line) => line.trim() !== '')
          ?.trim() ?? '';
      resolve({ ok: false, reason: `${command} failed${typeof code === 'number' ? ` (exit ${code})` : ''}${said ? `: ${said}` : ''}` });
    });
  });
}
