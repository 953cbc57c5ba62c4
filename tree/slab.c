/*
 * slab.c — size-class allocator for the tree's blocks; see slab_int.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tree/slab_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif

#ifdef SLAB_ASAN
/* Free blocks are poisoned; arenas are mmap'ed, so LeakSanitizer must be
 * told to look in them for the pointers (to ACLs, to data blobs) that
 * versions hold, or everything those point to would look leaked. */
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#define SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#define SLAB_ROOT(p, n) __lsan_register_root_region(p, n)
#define SLAB_UNROOT(p, n) __lsan_unregister_root_region(p, n)
#else
#define SLAB_POISON(p, n) ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#define SLAB_ROOT(p, n) ((void)(p), (void)(n))
#define SLAB_UNROOT(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK ((size_t)64 << 10)
#define ARENA ((size_t)32 << 20)
#define CHUNKS (ARENA / CHUNK) /* chunk 0 holds struct slab_arena */

struct slab_chunk {
	struct slab_chunk *next, *prev; /* partial, kept or released list */
	void *free;			/* freed blocks, linked through word 0 */
	char *mem;
	uint32_t bump; /* bytes carved from mem so far */
	uint32_t live; /* blocks allocated */
	uint16_t cls;  /* block size / SLAB_ALIGN; 0 while empty */
	bool listed;   /* on a partial list (has room) */
	bool released; /* empty and its pages given back */
};

struct slab_arena {
	struct slab_arena *next;
	struct slab_chunk c[CHUNKS];
};

_Static_assert(sizeof(struct slab_arena) <= CHUNK, "arena header");

static inline size_t round_up(size_t size)
{
	return (size + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1);
}

static void list_push(struct slab_chunk **head, struct slab_chunk *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

static void list_remove(struct slab_chunk **head, struct slab_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

void slab_init(struct slab *s)
{
	memset(s, 0, sizeof(*s));
}

/* A new arena aligned to its size; its chunks go on the empty list
 * (never touched, so they count as released). */
static bool new_arena(struct slab *s)
{
	char *m = mmap(NULL, 2 * ARENA, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *base;
	struct slab_arena *a;
	size_t i, head;

	if (m == MAP_FAILED)
		return false;
	base = (char *)(((uintptr_t)m + ARENA - 1) & ~(uintptr_t)(ARENA - 1));
	head = (size_t)(base - m);
	if (head)
		munmap(m, head);
	munmap(base + ARENA, ARENA - head);
	a = (struct slab_arena *)base;
	SLAB_ROOT(a, ARENA);
	a->next = s->arenas;
	s->arenas = a;
	for (i = CHUNKS - 1; i >= 1; i--) {
		struct slab_chunk *c = &a->c[i];

		memset(c, 0, sizeof(*c));
		c->mem = base + i * CHUNK;
		c->released = true;
		SLAB_POISON(c->mem, CHUNK);
		list_push(&s->released, c);
	}
	return true;
}

static struct slab_chunk *take_empty(struct slab *s)
{
	struct slab_chunk *c = s->kept;

	if (c) {
		list_remove(&s->kept, c);
		s->n_kept--;
		return c;
	}
	if (!s->released && !new_arena(s))
		return NULL;
	c = s->released;
	list_remove(&s->released, c);
	c->released = false;
	s->mapped += CHUNK;
	return c;
}

void *slab_alloc(struct slab *s, size_t size)
{
	size_t r = round_up(size ? size : 1), cls = r / SLAB_ALIGN;
	struct slab_chunk *c;
	void **b;

	if (r > SLAB_MAX) {
		b = malloc(r);
		if (b)
			s->big += r;
		return b;
	}
	c = s->partial[cls];
	if (!c) {
		c = take_empty(s);
		if (!c)
			return NULL;
		c->cls = (uint16_t)cls;
		c->bump = 0;
		c->live = 0;
		c->free = NULL;
		c->listed = true;
		list_push(&s->partial[cls], c);
	}
	if (c->free) {
		b = c->free;
		SLAB_UNPOISON(b, r);
		c->free = *b;
	} else {
		b = (void **)(c->mem + c->bump);
		c->bump += (uint32_t)r;
		SLAB_UNPOISON(b, r);
	}
	c->live++;
	if (!c->free && c->bump + r > CHUNK) { /* full */
		list_remove(&s->partial[cls], c);
		c->listed = false;
	}
	return b;
}

/* c's last block went: any class may have it now. */
static void chunk_empty(struct slab *s, struct slab_chunk *c)
{
	if (c->listed)
		list_remove(&s->partial[c->cls], c);
	c->listed = false;
	c->cls = 0;
	c->free = NULL;
	c->bump = 0;
	SLAB_POISON(c->mem, CHUNK);
	/* past a few spare chunks, give the pages back */
	if (s->n_kept < SLAB_EMPTY_KEEP) {
		list_push(&s->kept, c);
		s->n_kept++;
		return;
	}
	madvise(c->mem, CHUNK, MADV_DONTNEED);
	c->released = true;
	s->mapped -= CHUNK;
	list_push(&s->released, c);
}

void slab_free(struct slab *s, void *p, size_t size)
{
	size_t r = round_up(size ? size : 1);
	struct slab_arena *a;
	struct slab_chunk *c;
	void **b = p;

	if (!p)
		return;
	if (r > SLAB_MAX) {
		s->big -= r;
		free(p);
		return;
	}
	a = (struct slab_arena *)((uintptr_t)p & ~(uintptr_t)(ARENA - 1));
	c = &a->c[((uintptr_t)p - (uintptr_t)a) / CHUNK];
	*b = c->free;
	c->free = b;
	SLAB_POISON(b, r);
	if (--c->live == 0) {
		chunk_empty(s, c);
	} else if (!c->listed) {
		list_push(&s->partial[c->cls], c);
		c->listed = true;
	}
}

void slab_destroy(struct slab *s)
{
	struct slab_arena *a, *next;

	for (a = s->arenas; a; a = next) {
		next = a->next;
		/* no stale poison for whoever maps this range next */
		SLAB_UNPOISON(a, ARENA);
		SLAB_UNROOT(a, ARENA);
		munmap(a, ARENA);
	}
	slab_init(s);
}
