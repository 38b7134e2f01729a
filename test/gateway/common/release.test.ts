import { releaseOnce } from '../../../gateway/common/release';

describe('releaseOnce', () => {
  it('does its work the first time it is called, and nothing after', () => {
    let held = 2;
    const release = releaseOnce(() => held--);
    release();
    release();
    expect(held).toBe(1);
  });
});
