// Check timeouts that do not lie after an event-loop stall.
//
// The checker shares the supervisor's thread. If that thread was busy when a check's timer
// came due, the timer and the member's answer (a completed connect, a response) are both
// pending when the loop resumes, and timers run first: the check would time out although the
// member answered in time. Firing the timeout from setImmediate lets the pending I/O be
// handled first, so only a member that really did not answer times out.

/** Call `fire` once `ms` have passed and pending I/O has been handled; returns a cancel function. */
export function deadline(ms: number, fire: () => void): () => void {
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(fire);
  }, ms);
  return () => {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  };
}
