import { connectionProblem, describeError } from '../../../gateway/backends/call-failure';

describe('connectionProblem', () => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each<[string, unknown, string | undefined]>([
    ['ECONNREFUSED', coded('ECONNREFUSED'), 'connection refused'],
    ['ENOTFOUND', coded('ENOTFOUND'), 'host not found'],
    ['EAI_AGAIN', coded('EAI_AGAIN'), 'host not found'],
    ['ECONNRESET (the SDK renames it TimeoutError)', Object.assign(coded('ECONNRESET'), { name: 'TimeoutError' }), 'connection reset'],
    ['EPIPE', coded('EPIPE'), 'connection reset'],
    ["undici's closed socket", new TypeError('fetch failed', { cause: coded('UND_ERR_SOCKET') }), 'connection reset'],
    ['a self-signed certificate', coded('DEPTH_ZERO_SELF_SIGNED_CERT'), 'TLS failure'],
    ['an expired certificate', coded('CERT_HAS_EXPIRED'), 'TLS failure'],
    ['an unverifiable chain', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'TLS failure'],
    ['a wrong host name', coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'TLS failure'],
    ['EPROTO (TLS through the SDK)', coded('EPROTO'), 'TLS failure'],
    ['ETIMEDOUT', coded('ETIMEDOUT'), 'connection timed out'],
    ["undici's connect timeout", new TypeError('fetch failed', { cause: coded('UND_ERR_CONNECT_TIMEOUT') }), 'connection timed out'],
    ['EHOSTUNREACH', coded('EHOSTUNREACH'), 'network unreachable'],
    [
      'a failed happy-eyeballs connect',
      new TypeError('fetch failed', { cause: new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]) }),
      'connection refused',
    ],
    ['no code', new Error('something'), undefined],
    ['an unknown code', coded('EWHATEVER'), undefined],
    ['not an error', 'boom', undefined],
  ])('%s', (_, error, expected) => {
    expect(connectionProblem(error)).toBe(expected);
  });

  it('describeError keeps the whole error for the log, causes and codes included', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(describeError(new TypeError('fetch failed', { cause }))).toBe(
      'TypeError: fetch failed; cause: Error: connect ECONNREFUSED 127.0.0.1:9',
    );
    expect(describeError(Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' }))).toBe(
      'SocketError [UND_ERR_SOCKET]: other side closed',
    );
    expect(describeError(new AggregateError([new Error('a'), new Error('b')], 'all failed'))).toBe(
      'AggregateError: all failed (Error: a; Error: b)',
    );
  });
});
