export interface Timed {
  /** Wall seconds. */
  wall: number;
  /** CPU seconds of the process (every thread): what a busy shared machine disturbs least. */
  cpu: number;
}

/** Wall and CPU seconds of `work`. */
export async function timed(work: () => Promise<unknown>): Promise<Timed> {
  const [t0, c0] = [performance.now(), process.cpuUsage()];
  await work();
  const cpu = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}
