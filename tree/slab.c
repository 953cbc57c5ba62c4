/*
 * slab.c — size-class allocator for the tree's blocks; see slab_int.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tree/slab_int.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SLAB_POISON(p, n) ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK_FIRST (64u << 10)	/* small trees (tests) stay small */
#define CHUNK_CAP (4u << 20)

struct slab_chunk {
	struct slab_chunk *next;
	size_t size;
	char mem[] __attribute__((aligned(SLAB_ALIGN)));
};

static inline size_t round_up(size_t size)
{
	return (size + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1);
}

void slab_init(struct slab *s)
{
	memset(s, 0, sizeof(*s));
	s->chunk_size = CHUNK_FIRST;
}

/* The rest of the current chunk becomes one free block of its class. */
static void retire_tail(struct slab *s)
{
	size_t left = (size_t)(s->end - s->bump);

	if (left >= SLAB_ALIGN) {
		void **b = (void **)s->bump;

		SLAB_UNPOISON(b, sizeof(*b));
		*b = s->free[left / SLAB_ALIGN];
		s->free[left / SLAB_ALIGN] = b;
		SLAB_POISON(b, left);
	}
	s->bump = s->end = NULL;
}

static bool new_chunk(struct slab *s)
{
	struct slab_chunk *c = malloc(sizeof(*c) + s->chunk_size);

	if (!c)
		return false;
	retire_tail(s);
	c->next = s->chunks;
	c->size = s->chunk_size;
	s->chunks = c;
	s->bump = c->mem;
	s->end = c->mem + c->size;
	SLAB_POISON(c->mem, c->size);
	if (s->chunk_size < CHUNK_CAP)
		s->chunk_size *= 2;
	return true;
}

void *slab_alloc(struct slab *s, size_t size)
{
	size_t r = round_up(size ? size : 1);
	void **b;

	if (r > SLAB_MAX) {
		b = malloc(r);
		if (b)
			s->bytes += r;
		return b;
	}
	b = s->free[r / SLAB_ALIGN];
	if (b) {
		SLAB_UNPOISON(b, r);
		s->free[r / SLAB_ALIGN] = *b;
	} else {
		if ((size_t)(s->end - s->bump) < r && !new_chunk(s))
			return NULL;
		b = (void **)s->bump;
		s->bump += r;
		SLAB_UNPOISON(b, r);
	}
	s->bytes += r;
	return b;
}

void slab_free(struct slab *s, void *p, size_t size)
{
	size_t r = round_up(size ? size : 1);
	void **b = p;

	if (!p)
		return;
	s->bytes -= r;
	if (r > SLAB_MAX) {
		free(p);
		return;
	}
	*b = s->free[r / SLAB_ALIGN];
	s->free[r / SLAB_ALIGN] = b;
	SLAB_POISON(b, r);
}

void slab_destroy(struct slab *s)
{
	struct slab_chunk *c, *next;

	for (c = s->chunks; c; c = next) {
		next = c->next;
		SLAB_UNPOISON(c->mem, c->size);
		free(c);
	}
	slab_init(s);
}
