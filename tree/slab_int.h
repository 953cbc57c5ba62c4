/*
 * slab_int.h — the tree's allocator for znodes and versions (private).
 *
 * Design note
 * -----------
 * A million znodes are two million small blocks whose sizes the tree
 * always knows (header + path, header + stat fields + data), so they need
 * neither malloc's 8-byte header nor its 16-byte rounding: blocks come in
 * size classes 8 bytes apart, carved from 64 KiB chunks that each serve
 * one class at a time (as Linux's SLUB does with pages).
 *
 * Memory must be able to move between classes: a znode's first setData
 * replaces its 128-byte version by a 144-byte one (the stat grows by the
 * fields that now differ from their defaults), and a million freed
 * 128-byte blocks would otherwise stay stranded in their class.  So each
 * chunk counts its live blocks and keeps its own free list; a chunk
 * whose last block is freed goes to a list of empty chunks that any
 * class takes from, and beyond SLAB_EMPTY_KEEP of them its pages go back
 * to the system (madvise MADV_DONTNEED; the address range stays ours).
 * Chunks live in 32 MiB arenas aligned to their size, whose first chunk
 * holds the chunk descriptors, so a block finds its chunk by masking its
 * address.  Blocks over SLAB_MAX bytes come from malloc.
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
#define SLAB_MAX 1024 /* larger blocks are malloc'ed: any thread may free() */
#define SLAB_CLASSES (SLAB_MAX / SLAB_ALIGN + 1)
#define SLAB_EMPTY_KEEP 64 /* empty chunks kept mapped (4 MiB) */

struct slab_chunk;
struct slab_arena;

struct slab {
	struct slab_chunk *partial[SLAB_CLASSES]; /* chunks with room */
	struct slab_chunk *kept;     /* empty chunks still mapped */
	size_t n_kept;
	struct slab_chunk *released; /* empty chunks given back (or new) */
	struct slab_arena *arenas;
	uint64_t mapped; /* bytes of chunks in use or kept (not released) */
	uint64_t big;	 /* bytes of live malloc'ed blocks (over SLAB_MAX) */
};

void slab_init(struct slab *s);
/* A block of `size` bytes (8-byte aligned); NULL on ENOMEM. */
void *slab_alloc(struct slab *s, size_t size);
/* Give back a block from slab_alloc with the same `size`. */
void slab_free(struct slab *s, void *p, size_t size);
/* Unmap every arena: blocks still allocated from them die too, blocks
 * over SLAB_MAX must have been freed one by one. */
void slab_destroy(struct slab *s);

#endif
