// Samples of the gateway process: memory, descriptors, CPU and sockets from /proc, its /metrics,
// and the period's counts, for the time series and the checks.
import { availableParallelism } from 'node:os';

import { openFds, processCpuMs, processMemory } from '../lib';
import type { Client } from './client';
import { kernelCounters, machineCpu, socketStates, tcpState, type TcpState } from './kernel';
import { METRICS_TIMEOUT_MS, parseMetrics, type MetricsReading } from './metrics';
import { percentile, type Window } from './stats';

export interface Sample {
  /** Seconds since the soak's load began (negative before it). */
  t: number;
  phase: string;
  rssMb: number;
  peakRssMb: number;
  /** RssAnon: memory the gateway allocated (heap, buffers, ONNX Runtime's arenas, the model's weights). */
  anonMb: number;
  /** RssFile: mapped files' resident pages; mostly the catalogue's SQLite file (mmap), which grows with the catalogue. */
  fileMb: number;
  threads: number;
  fds: number;
  sockets: number;
  /** Of one core, over the period since the previous sample. */
  gatewayCpuPct: number;
  loadGeneratorCpuPct: number;
  /** Everything else on the machine (its busy time less the gateway's and this process's): a shared machine shows here. */
  otherCpuPct: number;
  clientInFlight: number;
  /** Increase of the kernel's TCP counters (machine-wide) since the previous sample. */
  kernel?: Record<string, number>;
  /** The gateway's sockets by TCP state, in the idle samples. */
  socketStates?: Record<string, number>;
  /** The gateway's port seen from the kernel (/proc/net/tcp): connections not yet accepted, and established ones. */
  tcp?: TcpState;
  period?: {
    sent: number;
    ok: number;
    refused: number;
    deadline: number;
    failed: number;
    timeouts: number;
    skipped: number;
    okP99Ms: number | null;
  };
  metrics?: MetricsReading;
  metricsError?: string;
}

export class Sampler {
  readonly samples: Sample[] = [];
  private lastWall = performance.now();
  private lastGatewayCpu: number;
  private lastOwnCpu = process.cpuUsage();
  private lastKernel = kernelCounters();
  private lastMachine = machineCpu();

  constructor(
    private readonly pid: number,
    private readonly port: number,
    private readonly control: Client,
  ) {
    this.lastGatewayCpu = processCpuMs(pid);
  }

  async take(t: number, phase: string, client?: Client, window?: Window): Promise<Sample> {
    const wall = performance.now();
    const gatewayCpu = processCpuMs(this.pid);
    const own = process.cpuUsage();
    const elapsed = Math.max(1, wall - this.lastWall);
    const memory = processMemory(this.pid);
    const fds = openFds(this.pid);
    const sample: Sample = {
      t: Math.round(t * 10) / 10,
      phase,
      rssMb: memory.rssBytes / 2 ** 20,
      peakRssMb: memory.peakRssBytes / 2 ** 20,
      anonMb: memory.anonBytes / 2 ** 20,
      fileMb: memory.fileBytes / 2 ** 20,
      threads: memory.threads,
      fds: fds.fds,
      sockets: fds.sockets,
      gatewayCpuPct: ((gatewayCpu - this.lastGatewayCpu) / elapsed) * 100,
      loadGeneratorCpuPct: ((own.user - this.lastOwnCpu.user + own.system - this.lastOwnCpu.system) / 1000 / elapsed) * 100,
      otherCpuPct: 0,
      clientInFlight: client?.inFlight ?? 0,
      tcp: tcpState(this.port),
      kernel: (() => {
        const now = kernelCounters();
        const delta = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (this.lastKernel[k] ?? v)]));
        this.lastKernel = now;
        return delta;
      })(),
      ...(phase.startsWith('idle') && { socketStates: socketStates(fds.socketInodes, this.port) }),
    };
    const machine = machineCpu();
    const machinePct = ((machine.busy - this.lastMachine.busy) / (machine.total - this.lastMachine.total)) * availableParallelism() * 100;
    sample.otherCpuPct = Math.max(0, machinePct - sample.gatewayCpuPct - sample.loadGeneratorCpuPct);
    this.lastMachine = machine;
    this.lastWall = wall;
    this.lastGatewayCpu = gatewayCpu;
    this.lastOwnCpu = own;
    if (window) {
      sample.period = {
        sent: window.sent,
        ok: window.ok,
        refused: window.refused,
        deadline: window.deadline,
        failed: window.failed,
        timeouts: window.timeouts,
        skipped: window.skipped,
        okP99Ms: window.okLatencies.length ? percentile(window.okLatencies, 0.99) : null,
      };
    }
    const answer = await this.control.request('GET', '/metrics', undefined, {}, METRICS_TIMEOUT_MS);
    if (answer.kind === 'response' && answer.status === 200) sample.metrics = parseMetrics(answer.text);
    else sample.metricsError = answer.kind === 'response' ? `HTTP ${answer.status}` : answer.kind;
    this.samples.push(sample);
    return sample;
  }
}
