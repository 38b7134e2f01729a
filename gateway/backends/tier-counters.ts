import type { TierState } from './backend';

/**
 * Why inputs went to the spillover: the primary was `cold` (no capacity), `unavailable` (not
 * described, another model, circuit open), its call failed (`failover`), or it was slow to
 * answer while its state was unknown (`hedge`: sent to both).
 */
export type SpillReason = 'cold' | 'unavailable' | 'failover' | 'hedge';
export type WakeOutcome = 'ok' | 'cold' | 'failed';

/** Totals since start, for /metrics. */
export interface TierCountersSnapshot {
  batches: { primary: number; spillover: number };
  inputs: { primary: number; spillover: number };
  spilledInputs: Record<SpillReason, number>;
  /** Hedged batches the spillover answered first. */
  hedgesWon: number;
  wakeCalls: Record<WakeOutcome, number>;
  /** Seconds the primary has spent cold, the current spell included. */
  coldSeconds: number;
}

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
