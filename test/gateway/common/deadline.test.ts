import { deadlineOf, withDeadline } from '../../../gateway/common/deadline';

describe('deadlines carried by signals', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('aborts at the deadline with the reason it is given, and the signal tells when that is', () => {
    const expired = new Error('too late');
    const request = withDeadline(undefined, 250, () => expired);
    expect(request.deadline).toBe(1_000_250);
    expect(deadlineOf(request.signal)).toBe(1_000_250);
    jest.advanceTimersByTime(249);
    expect(request.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(request.signal.reason).toBe(expired);
  });

  it('aborts with its parent first, and never after dispose', () => {
    const client = new AbortController();
    let made = 0;
    const request = withDeadline(client.signal, 250, () => ++made);
    client.abort('gone');
    expect(request.signal.aborted).toBe(true);
    expect(request.signal.reason).toBe('gone');
    request.dispose();

    const disposed = withDeadline(undefined, 250, () => ++made);
    disposed.dispose();
    jest.advanceTimersByTime(10_000);
    expect(disposed.signal.aborted).toBe(false);
    expect(made).toBe(0);
  });

  it('knows no deadline for a signal it did not make', () => {
    expect(deadlineOf(new AbortController().signal)).toBeUndefined();
    expect(deadlineOf(undefined)).toBeUndefined();
  });
});
