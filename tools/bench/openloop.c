/* openloop.c - open-loop schedule and in-flight ring (see openloop.h). */
#include "openloop.h"

#include <stdlib.h>
#include <string.h>

uint64_t bench_sched_count(uint64_t first, uint64_t step, uint64_t lo, uint64_t hi)
{
	if (hi <= lo || first >= hi)
		return 0;
	if (step == 0)
		return first >= lo;
	uint64_t a = first; /* the first point >= lo */
	if (a < lo) {
		uint64_t k = (lo - first) / step + ((lo - first) % step != 0);
		if (k > (hi - first) / step)
			return 0;
		a = first + k * step;
		if (a >= hi)
			return 0;
	}
	return (hi - 1 - a) / step + 1;
}

int bench_ring_grow(void **ring, size_t elem, uint32_t *mask, uint32_t head,
		    uint32_t tail)
{
	uint64_t size = (uint64_t)*mask + 1;
	if (size >= (1ull << 31))
		return -1;
	uint32_t nmask = (uint32_t)(2 * size - 1);
	uint8_t *n = calloc(2 * size, elem);
	if (!n)
		return -1;
	const uint8_t *o = *ring;
	for (uint32_t i = head; i != tail; i++)
		memcpy(n + (size_t)(i & nmask) * elem, o + (size_t)(i & *mask) * elem, elem);
	free(*ring);
	*ring = n;
	*mask = nmask;
	return 0;
}
