import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Stand-ins for nvidia-smi (this host has no GPU and no driver): shell scripts that print what the
 * real command prints for the queries this project makes, in nvidia-smi's documented formats
 * (`--format=csv,noheader`: one comma-separated line per GPU; `nounits` drops " MiB"; the plain
 * table's header carries the driver and CUDA versions).
 */
export type NvidiaSmiHost = 'one-l4' | 'four-a10g' | 'driver-not-loaded';

const L4_TABLE = `Fri Dec  6 10:12:01 2026
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.90.07              Driver Version: 550.90.07      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA L4                      Off |   00000000:31:00.0 Off |                    0 |
| N/A   34C    P8             16W /   72W |     812MiB /  23034MiB |      0%      Default |
|                                         |                        |                  N/A |
+-----------------------------------------+------------------------+----------------------+

+-----------------------------------------------------------------------------------------+
| Processes:                                                                              |
|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |
|        ID   ID                                                               Usage      |
|=========================================================================================|
|  No running processes found                                                             |
+-----------------------------------------------------------------------------------------+`;

const A10G_HEADER = `Fri Dec  6 10:12:01 2026
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 535.183.01             Driver Version: 535.183.01   CUDA Version: 12.2     |
|-----------------------------------------+----------------------+----------------------+`;

const DRIVER_NOT_LOADED =
  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.";

function script(host: NvidiaSmiHost): string {
  if (host === 'driver-not-loaded') return `#!/bin/sh\necho "${DRIVER_NOT_LOADED}"\necho\nexit 9\n`;
  const [names, memory, table] =
    host === 'one-l4'
      ? ['NVIDIA L4, 550.90.07', '812', L4_TABLE]
      : [Array(4).fill('NVIDIA A10G, 535.183.01').join('\n'), Array(4).fill('0').join('\n'), A10G_HEADER];
  return `#!/bin/sh
case "$*" in
  "--query-gpu=name,driver_version --format=csv,noheader") printf '%s\\n' '${names.split('\n').join("' '")}' ;;
  "--query-gpu=memory.used --format=csv,noheader,nounits") printf '%s\\n' '${memory.split('\n').join("' '")}' ;;
  "") cat <<'TABLE'
${table}
TABLE
  ;;
  *) echo "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help."; exit 2 ;;
esac
`;
}

/** Writes a stand-in named nvidia-smi into a fresh directory (to put on PATH) and returns its path. */
export function nvidiaSmiStandIn(host: NvidiaSmiHost): string {
  const dir = mkdtempSync(join(tmpdir(), `nvidia-smi-${host}-`));
  const path = join(dir, 'nvidia-smi');
  writeFileSync(path, script(host));
  chmodSync(path, 0o755);
  return path;
}
