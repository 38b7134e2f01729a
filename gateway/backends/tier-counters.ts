import type { SpillReason, TierCountersSnapshot, TierState, WakeOutcome } from './backend';

/** What a tiered backend counts: plain numbers, read by the gateway's metrics when scraped. */
export class TierCounters {
  private readonly totals: Omit<TierCountersSnapshot, 'coldSeconds'> = {
    batches: { primary: 0, spillover: 0 },
    inputs: { primary: 0, spillover: 0 },
    spilledInputs: { cold: 0, unavailable: 0, failover: 0, hedge: 0 },
    hedgesWon: 0,
    wakeCalls: { ok: 0, cold: 0, failed: 0 },
  };
  private coldMs = 0;
  private coldSince?: number;

  constructor(private readonly now: () => number) {}

  batch(tier: 'primary' | 'spillover', inputs: number): void {
    this.totals.batches[tier]++;
    this.totals.inputs[tier] += inputs;
  }

  spilled(reason: SpillReason, inputs: number): void {
    this.totals.spilledInputs[reason] += inputs;
  }

  hedgeWon(): void {
    this.totals.hedgesWon++;
  }

  wake(outcome: WakeOutcome): void {
    this.totals.wakeCalls[outcome]++;
  }

  /** The primary's new state: starts or ends a cold spell. */
  primaryState(state: TierState): void {
    if (state === 'cold') this.coldSince ??= this.now();
    else if (this.coldSince !== undefined) {
      this.coldMs += this.now() - this.coldSince;
      this.coldSince = undefined;
    }
  }

  snapshot(): TierCountersSnapshot {
    const current = this.coldSince === undefined ? 0 : this.now() - this.coldSince;
    return structuredClone({ ...this.totals, coldSeconds: (this.coldMs + current) / 1000 });
  }
}
