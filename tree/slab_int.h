/*
 * slab_int.h — the tree's allocator for znodes and versions (private).
 *
 * Design note
 * -----------
 * A million znodes are two million small blocks whose sizes the tree
 * always knows (header + path, header + stat fields + data), so they need
 * neither malloc's 8-byte header nor its 16-byte rounding: blocks are
 * carved from big chunks at 8-byte granularity and a freed block goes on
 * the free list of its size class, ready for the next block of that size.
 * Blocks over SLAB_MAX bytes come from malloc.  Memory is returned to the
 * system only by slab_destroy.
 *
 * One thread at a time (the tree's writer) allocates and frees; blocks
 * readers may still see are freed only after an RCU grace period (tree.c
 * batches them and gets them back through a lock-free stack).  In ASan
 * builds a free block is poisoned, so a use after free is still reported.
 */
#ifndef PADDOCK_SLAB_INT_H
#define PADDOCK_SLAB_INT_H

#include <stddef.h>
#include <stdint.h>

#define SLAB_ALIGN 8
#define SLAB_MAX 1024
#define SLAB_CLASSES (SLAB_MAX / SLAB_ALIGN + 1)

struct slab_chunk;

struct slab {
	void *free[SLAB_CLASSES]; /* per size class, linked through word 0 */
	char *bump, *end;	  /* the unused tail of the newest chunk */
	struct slab_chunk *chunks;
	size_t chunk_size; /* of the next chunk: doubles up to a cap */
	uint64_t bytes;	   /* live bytes, rounded, malloc'ed ones too */
};

void slab_init(struct slab *s);
/* A block of `size` bytes (8-byte aligned); NULL on ENOMEM. */
void *slab_alloc(struct slab *s, size_t size);
/* Give back a block from slab_alloc with the same `size`. */
void slab_free(struct slab *s, void *p, size_t size);
/* Free every chunk: blocks still allocated from them die too, blocks
 * over SLAB_MAX must have been freed one by one. */
void slab_destroy(struct slab *s);

#endif
