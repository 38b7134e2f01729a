// What the RemoteBackend tests share: inputs whose calls and results can be told apart, and the
// function as a Transport that records what it is sent.
import { decodeRequest, encodeResults } from '../../../functions/protocol';
import type { EmbedRequest, EmbedRequestItem, EmbedResult } from '../../../functions/clip';
import { RemoteBackend, type RemoteBackendOptions, type Transport } from '../../../gateway/backends/remote';
import { textOf as messageText, type WireMessage } from '../../../gateway/backends/wire-codec';
import { ManualClock } from '../../helpers/clock';
import { SMALL_MODEL } from '../../helpers/remote-function';

/** What the function describes itself as. */
export const DESCRIPTION = SMALL_MODEL;

/**
 * Inputs that carry a tag (a small number) and have an exact wire size, so that a test can see
 * which inputs went in which call and which result belongs to which input.
 */
export const textOf = (tag: number, wireBytes: number): string => `${tag}:`.padEnd(wireBytes - 3, 'a');
export const cropOf = (tag: number, wireBytes: number): Uint8Array => {
  const crop = new Uint8Array(((wireBytes - 3) / 4) * 3);
  crop[0] = tag;
  return crop;
};
export const tagOf = (item: EmbedRequestItem): number => (typeof item === 'string' ? Number(item.split(':')[0]) : item[0]);

/** An answer as the function would send it: JSON. */
const jsonMessage = (answer: unknown): WireMessage => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify(answer)) });

/** What came back, readably: the tag its vector carries, or its error code. */
export const outcome = (result: EmbedResult): number | string => (result.ok ? result.vector[0] : result.code);

/** The function as this test's Transport: it records each embed call and answers with vectors [tag, 0]. */
export class RecordingTransport implements Transport {
  readonly kind = 'http' as const;
  /** JSON only: these tests are about calls and their failures, the same in either protocol. */
  readonly binary = false;
  readonly target = 'http://clip.test';
  /** Embed calls in the order they were made, decoded. */
  readonly calls: EmbedRequest[] = [];
  /** Bytes of each embed call's payload. */
  readonly payloadBytes: number[] = [];
  /** Describe calls received (start() and readiness probes). */
  describes = 0;
  /** How describe calls after the first (start()'s) are answered: readiness probes. */
  probeAnswer: (signal: AbortSignal, timeoutMs: number) => unknown = () => ({ v: 1, description: DESCRIPTION });
  closed = false;

  constructor(
    private readonly answer: (request: EmbedRequest, signal: AbortSignal, timeoutMs: number) => unknown = (request) =>
      RecordingTransport.vectors(request),
  ) {}

  static vectors(request: EmbedRequest): unknown {
    return encodeResults(request.items.map((item) => ({ ok: true, vector: Float32Array.of(tagOf(item), 0) })));
  }

  async call(message: WireMessage, signal: AbortSignal, timeoutMs: number): Promise<WireMessage> {
    const request = decodeRequest(JSON.parse(messageText(message)));
    if (request.kind === 'describe')
      return jsonMessage(this.describes++ === 0 ? { v: 1, description: DESCRIPTION } : await this.probeAnswer(signal, timeoutMs));
    this.calls.push(request);
    this.payloadBytes.push(message.body.byteLength);
    return jsonMessage(await this.answer(request, signal, timeoutMs));
  }

  /** The tags of each call's inputs. */
  get tags(): number[][] {
    return this.calls.map((call) => call.items.map(tagOf));
  }

  close(): void {
    this.closed = true;
  }
}

/** A RemoteBackend over `transport`, on a manual clock unless `options` give one, started. */
export async function started(transport: Transport, options: Partial<RemoteBackendOptions> = {}): Promise<RemoteBackend> {
  const backend = new RemoteBackend(transport, { clock: new ManualClock(), ...options });
  await backend.start();
  return backend;
}
