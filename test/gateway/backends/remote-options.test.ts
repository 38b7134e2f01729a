import { WIRE_REQUEST_OVERHEAD_BYTES } from '../../../functions/protocol';
import { RemoteBackend, type RemoteBackendOptions } from '../../../gateway/backends/remote';
import { RecordingTransport } from './recording-transport';

describe('RemoteBackend options', () => {
  const thrown = (options: Partial<RemoteBackendOptions>): unknown => {
    try {
      new RemoteBackend(new RecordingTransport(), options);
    } catch (error) {
      return error;
    }
    throw new Error('no error');
  };

  it.each<[string, Partial<RemoteBackendOptions>]>([
    ['timeoutMs must be an integer from 1 to 2147483647, got 0', { timeoutMs: 0 }],
    ['timeoutMs must be an integer from 1 to 2147483647, got 2147483648', { timeoutMs: 2 ** 31 }],
    ['maxAttempts must be a positive integer, got 0', { maxAttempts: 0 }],
    ['maxInFlight must be a positive integer, got 1.5', { maxInFlight: 1.5 }],
    ['maxItemsPerCall must be a positive integer, got -1', { maxItemsPerCall: -1 }],
    ['maxRequestBytes must be an integer from 65 to 6291456, got 64', { maxRequestBytes: WIRE_REQUEST_OVERHEAD_BYTES }],
    ['maxRequestBytes must be an integer from 65 to 6291456, got 6291457', { maxRequestBytes: 6 * 1024 * 1024 + 1 }],
    ['retryBaseMs must be a non-negative number, got -1', { retryBaseMs: -1 }],
    ['retryMaxMs must be a non-negative number, got NaN', { retryMaxMs: Number.NaN }],
    ['failureThreshold must be a positive integer, got 0', { circuit: { failureThreshold: 0, cooldownMs: 1 } }],
    ['cooldownMs must be a non-negative number, got -5', { circuit: { failureThreshold: 1, cooldownMs: -5 } }],
    ['readyCacheMs must be a non-negative integer, got -1', { readyCacheMs: -1 }],
    ['readyTimeoutMs must be an integer from 1 to 2147483647, got 0', { readyTimeoutMs: 0 }],
  ])('refuses with a TypeError naming the option and the value: %s', (message, options) => {
    const error = thrown(options);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(message);
  });
});
