/*
 * test_slab.c — the tree's size-class allocator (tree/slab_int.h).
 *
 * Random allocations and frees across every class, each block filled
 * with a pattern of its own and checked before it is freed (blocks never
 * overlap, the allocator never writes into a live block); chunks that
 * empty are reused by other classes and their pages given back; blocks
 * over SLAB_MAX come from malloc and are counted apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tree/slab_int.h"

struct blk {
	unsigned char *p;
	size_t size;
	unsigned char tag;
};

static void fill(struct blk *b)
{
	memset(b->p, b->tag, b->size);
}

static void check(const struct blk *b)
{
	for (size_t i = 0; i < b->size; i++)
		if (b->p[i] != b->tag)
			fail_msg("block %p (%zu bytes) changed at %zu", b->p,
				 b->size, i);
}

static void test_random_blocks_never_overlap(void **state)
{
	enum { N = 20000, ROUNDS = 200000 };
	struct blk *b = calloc(N, sizeof(*b));
	struct slab s;
	unsigned x = 12345;
	int i, k;

	(void)state;
	assert_non_null(b);
	slab_init(&s);
	for (i = 0; i < ROUNDS; i++) {
		x = x * 1103515245u + 12345u;
		k = (int)((x >> 8) % N);
		if (b[k].p) {
			check(&b[k]);
			slab_free(&s, b[k].p, b[k].size);
			b[k].p = NULL;
			continue;
		}
		/* mostly small, some over SLAB_MAX */
		b[k].size = 1 + (x >> 4) % ((x & 15) == 0 ? 3000 : 300);
		b[k].tag = (unsigned char)(x >> 24);
		b[k].p = slab_alloc(&s, b[k].size);
		assert_non_null(b[k].p);
		assert_int_equal((uintptr_t)b[k].p % SLAB_ALIGN, 0);
		fill(&b[k]);
	}
	for (k = 0; k < N; k++)
		if (b[k].p) {
			check(&b[k]);
			slab_free(&s, b[k].p, b[k].size);
		}
	assert_int_equal(s.big, 0);
	/* everything freed: at most the kept empty chunks stay mapped */
	assert_true(s.mapped <= (uint64_t)SLAB_EMPTY_KEEP * (64u << 10));
	slab_destroy(&s);
	free(b);
}

/* One class fills chunks, frees them all; another class gets the same
 * memory back instead of new chunks. */
static void test_empty_chunks_move_to_another_class(void **state)
{
	enum { N = 50000 };
	void **p = calloc(N, sizeof(*p));
	struct slab s;
	uint64_t peak;
	int i;

	(void)state;
	assert_non_null(p);
	slab_init(&s);
	for (i = 0; i < N; i++)
		assert_non_null(p[i] = slab_alloc(&s, 128));
	peak = s.mapped;
	assert_true(peak >= (uint64_t)N * 128);
	for (i = 0; i < N; i++)
		slab_free(&s, p[i], 128);
	assert_true(s.mapped <= (uint64_t)SLAB_EMPTY_KEEP * (64u << 10));
	for (i = 0; i < N; i++)
		assert_non_null(p[i] = slab_alloc(&s, 120));
	/* 120-byte blocks pack a little tighter: no more than before */
	assert_true(s.mapped <= peak);
	for (i = 0; i < N; i++)
		slab_free(&s, p[i], 120);
	slab_destroy(&s);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_blocks_never_overlap),
	    cmocka_unit_test(test_empty_chunks_move_to_another_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
