/* openloop.h - the bookkeeping of paddock-bench's open loop.
 *
 * A connection in open loop has a schedule of intended send times, first,
 * first + step, first + 2 step, ...; requests it could not send by the end
 * of the run are counted from what is left of that schedule.  The
 * requests a connection has in flight are a ring indexed by free-running
 * 32-bit counters (head: oldest, tail: next free); under overload far more
 * are in flight than a closed loop ever has, so the ring grows on demand
 * instead of being sized for the largest window up front.
 *
 * Thread: reentrant; a ring belongs to one thread.
 */
#ifndef BENCH_OPENLOOP_H
#define BENCH_OPENLOOP_H

#include <stddef.h>
#include <stdint.h>

/* How many of first, first + step, first + 2 step, ... lie in [lo, hi).
 * step 0 counts first alone. */
uint64_t bench_sched_count(uint64_t first, uint64_t step, uint64_t lo, uint64_t hi);

/* Doubles the ring *ring of (*mask + 1) elements of elem bytes (a power of
 * two), keeping the elements head..tail-1 at their index & the new mask.
 * On 0 *ring and *mask are the new ones and the old ring is freed; on -1
 * (out of memory, or 2^31 elements already) nothing changed. */
int bench_ring_grow(void **ring, size_t elem, uint32_t *mask, uint32_t head,
		    uint32_t tail);

#endif
