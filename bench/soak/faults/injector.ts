// Faults for the local Lambda endpoint, kept coming.
import type { Client } from '../client';
import { timers } from '../processes';
import type { LambdaFault } from './types';

/** Below this many faults queued, another batch goes in (5 ticks a second; at most ~20 invocations a second here). */
export const FAULT_QUEUE_LOW = 64;
export const FAULT_QUEUE_BATCH = 128;

/**
 * Keeps the stand-in's fault queue topped up, so that every invocation meets a fault however many
 * there are (the stand-in takes one fault per invocation, in order). `POST /_local/faults []`
 * adds nothing and answers the queue's length.
 */
export class FaultInjector {
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  private queued = 0;
  private next = 0;
  errors = 0;

  constructor(private readonly lambda: Client) {}

  async start(cycle: LambdaFault[]): Promise<void> {
    this.queued = 0;
    await this.topUp(cycle);
    this.timer = setInterval(() => {
      this.tick ??= this.topUp(cycle).finally(() => (this.tick = undefined));
    }, 200);
    timers.add(this.timer);
  }

  /** No more faults queued, and those left cleared (DELETE), before it resolves. */
  async stop(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
      timers.delete(this.timer);
      this.timer = undefined;
    }
    await this.tick;
    const answer = await this.lambda.request('DELETE', '/_local/faults');
    if (answer.kind !== 'response' || answer.status !== 200) this.errors++;
  }

  private async topUp(cycle: LambdaFault[]): Promise<void> {
    const add = this.queued < FAULT_QUEUE_LOW ? Array.from({ length: FAULT_QUEUE_BATCH }, () => cycle[this.next++ % cycle.length]) : [];
    const answer = await this.lambda.request('POST', '/_local/faults', JSON.stringify(add));
    if (answer.kind === 'response' && answer.status === 200) this.queued = (JSON.parse(answer.text) as { queued: number }).queued;
    else this.errors++;
  }
}
