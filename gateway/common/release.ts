/** A release that does its work the first time only: holders may release twice (an error path and a finally). */
export function releaseOnce(release: () => void): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release();
  };
}
