/*
 * urcu_tsan.c — teach ThreadSanitizer the happens-before edges of liburcu.
 *
 * Design note
 * -----------
 * Linked into the unit tests only in -Db_sanitize=thread builds
 * (tests/meson.build).  Debian's liburcu 0.13 is not built with TSan and
 * its synchronisation (rcu_set_pointer, cds_lfht_add, the grace-period
 * machinery behind call_rcu and synchronize_rcu) happens in the .so with
 * plain stores and barriers, so TSan sees a writer initialise a node, a
 * reader read it, and the call_rcu thread free it, with no ordering
 * between the three: every RCU-protected access looked like a race.
 *
 * No paddock source changes: paddock is built without _LGPL_SOURCE, so
 * every one of these is a call into the .so, and a definition in the
 * executable interposes it (the libraries' references bind to it at link
 * time).  Each
 * wrapper does what the real function does (or calls it through
 * dlsym(RTLD_NEXT)) and adds the edge liburcu guarantees, with
 * __tsan_release()/__tsan_acquire() on an address:
 *
 *  publication   rcu_set_pointer_sym(p, v) releases on v; rcu_dereference_sym
 *                (v) acquires on v.  cds_lfht_add, add_unique, add_replace and replace release on the
 *                node; lookup/next_duplicate/add_unique/add_replace acquire
 *                on every node handed to the match function, and lookup,
 *                first, next on the node they return.  (Release/consume,
 *                modelled as release/acquire on the published object.)
 *  grace period  every quiescent state (rcu_quiescent_state, offline,
 *                unregister, and the implicit ones in synchronize_rcu and
 *                rcu_barrier) releases on gp_sync; a call_rcu callback and
 *                the return of synchronize_rcu acquire on it.  Sound
 *                because a callback runs only after every registered
 *                reader passed a quiescent state that followed call_rcu,
 *                and the release is made before the real one.  A reader
 *                that keeps a pointer across its quiescent state is still
 *                reported (its later accesses follow the release).
 *  call_rcu      the callback runs through a trampoline that acquires on
 *                the call (released by the caller) and on gp_sync, and
 *                releases on cb_sync, which rcu_barrier's return acquires.
 *
 * What stays invisible and is suppressed in tools/tsan.supp: liburcu's own
 * heap traffic (called_from_lib).  The tree's child lists use C11
 * atomics of their own, which TSan sees.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

static char gp_sync; /* quiescent states -> callbacks, synchronize_rcu */
static char cb_sync; /* callbacks -> rcu_barrier */

/* The next definition of `name` (the liburcu one); aborts if missing,
 * which would mean the test binary does not link liburcu at all. */
static void *real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		fprintf(stderr, "urcu_tsan: no %s after the shim\n", name);
		abort();
	}
	return f;
}

/* Declares fn, liburcu's definition of the function we are in. */
#define REAL(name)                                                             \
	static __typeof__(&name) real_fn;                                      \
	__typeof__(&name) fn = __atomic_load_n(&real_fn, __ATOMIC_ACQUIRE);    \
	if (!fn) {                                                             \
		fn = (__typeof__(&name))real(#name);                           \
		__atomic_store_n(&real_fn, fn, __ATOMIC_RELEASE);              \
	}

/* ---- publication: rcu_assign_pointer / rcu_dereference ---------------- */

void *rcu_dereference_sym(void *p)
{
	if (p)
		__tsan_acquire(p);
	return p;
}

/*
 * The stores themselves stay in liburcu: the matching load is a plain read
 * in the caller (rcu_dereference(p) passes the value of p), so an
 * instrumented store here would turn every dereference into a report.
 */
void *rcu_set_pointer_sym(void **p, void *v)
{
	REAL(rcu_set_pointer_sym);

	if (v)
		__tsan_release(v);
	return fn(p, v);
}

void *rcu_xchg_pointer_sym(void **p, void *v)
{
	REAL(rcu_xchg_pointer_sym);
	void *old;

	if (v)
		__tsan_release(v);
	old = fn(p, v);
	if (old)
		__tsan_acquire(old);
	return old;
}

void *rcu_cmpxchg_pointer_sym(void **p, void *old, void *v)
{
	REAL(rcu_cmpxchg_pointer_sym);
	void *seen;

	if (v)
		__tsan_release(v);
	seen = fn(p, old, v);
	if (seen)
		__tsan_acquire(seen);
	return seen;
}

/* ---- cds_lfht ---------------------------------------------------------- */

struct match_ctx {
	cds_lfht_match_fct match;
	const void *key;
};

static int match_acquire(struct cds_lfht_node *node, const void *arg)
{
	const struct match_ctx *c = arg;

	__tsan_acquire(node);
	return c->match(node, c->key);
}

static void iter_acquire(struct cds_lfht_iter *iter)
{
	struct cds_lfht_node *n = cds_lfht_iter_get_node(iter);

	if (n)
		__tsan_acquire(n);
}

void cds_lfht_lookup(struct cds_lfht *ht, unsigned long hash,
		     cds_lfht_match_fct match, const void *key,
		     struct cds_lfht_iter *iter)
{
	REAL(cds_lfht_lookup);
	struct match_ctx c = {match, key};

	fn(ht, hash, match_acquire, &c, iter);
	iter_acquire(iter);
}

void cds_lfht_next_duplicate(struct cds_lfht *ht, cds_lfht_match_fct match,
			     const void *key, struct cds_lfht_iter *iter)
{
	REAL(cds_lfht_next_duplicate);
	struct match_ctx c = {match, key};

	fn(ht, match_acquire, &c, iter);
	iter_acquire(iter);
}

void cds_lfht_first(struct cds_lfht *ht, struct cds_lfht_iter *iter)
{
	REAL(cds_lfht_first);

	fn(ht, iter);
	iter_acquire(iter);
}

void cds_lfht_next(struct cds_lfht *ht, struct cds_lfht_iter *iter)
{
	REAL(cds_lfht_next);

	fn(ht, iter);
	iter_acquire(iter);
}

void cds_lfht_add(struct cds_lfht *ht, unsigned long hash,
		  struct cds_lfht_node *node)
{
	REAL(cds_lfht_add);

	__tsan_release(node);
	fn(ht, hash, node);
}

/* add_unique and add_replace: publish node, and acquire on the nodes the
 * match function sees and on the node returned. */
typedef struct cds_lfht_node *(*add_match_fn)(struct cds_lfht *, unsigned long,
					      cds_lfht_match_fct, const void *,
					      struct cds_lfht_node *);

static struct cds_lfht_node *add_matching(add_match_fn fn,
					  struct cds_lfht *ht,
					  unsigned long hash,
					  cds_lfht_match_fct match,
					  const void *key,
					  struct cds_lfht_node *node)
{
	struct match_ctx c = {match, key};
	struct cds_lfht_node *r;

	__tsan_release(node);
	r = fn(ht, hash, match_acquire, &c, node);
	if (r)
		__tsan_acquire(r);
	/* r is a table node, never &c (c only feeds the match callback) */
	// cppcheck-suppress returnDanglingLifetime
	return r;
}

struct cds_lfht_node *cds_lfht_add_unique(struct cds_lfht *ht,
					  unsigned long hash,
					  cds_lfht_match_fct match,
					  const void *key,
					  struct cds_lfht_node *node)
{
	REAL(cds_lfht_add_unique);
	return add_matching(fn, ht, hash, match, key, node);
}

struct cds_lfht_node *cds_lfht_add_replace(struct cds_lfht *ht,
					   unsigned long hash,
					   cds_lfht_match_fct match,
					   const void *key,
					   struct cds_lfht_node *node)
{
	REAL(cds_lfht_add_replace);
	return add_matching(fn, ht, hash, match, key, node);
}

int cds_lfht_replace(struct cds_lfht *ht, struct cds_lfht_iter *old_iter,
		     unsigned long hash, cds_lfht_match_fct match,
		     const void *key, struct cds_lfht_node *new_node)
{
	REAL(cds_lfht_replace);
	struct match_ctx c = {match, key};

	__tsan_release(new_node);
	return fn(ht, old_iter, hash, match_acquire, &c, new_node);
}

/* ---- grace periods ----------------------------------------------------- */

void urcu_qsbr_quiescent_state(void)
{
	REAL(urcu_qsbr_quiescent_state);

	__tsan_release(&gp_sync);
	fn();
}

void urcu_qsbr_thread_offline(void)
{
	REAL(urcu_qsbr_thread_offline);

	__tsan_release(&gp_sync);
	fn();
}

void urcu_qsbr_unregister_thread(void)
{
	REAL(urcu_qsbr_unregister_thread);

	__tsan_release(&gp_sync);
	fn();
}

void urcu_qsbr_synchronize_rcu(void)
{
	REAL(urcu_qsbr_synchronize_rcu);

	__tsan_release(&gp_sync); /* the caller is quiescent meanwhile */
	fn();
	__tsan_acquire(&gp_sync);
}

struct tramp {
	struct rcu_head head;
	struct rcu_head *orig;
	void (*func)(struct rcu_head *);
};

static void tramp_cb(struct rcu_head *h)
{
	struct tramp *t = caa_container_of(h, struct tramp, head);

	__tsan_acquire(t);	  /* everything before call_rcu */
	__tsan_acquire(&gp_sync); /* every reader up to its quiescent state */
	t->func(t->orig);
	__tsan_release(&cb_sync);
	free(t);
}

void urcu_qsbr_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *))
{
	REAL(urcu_qsbr_call_rcu);
	struct tramp *t = malloc(sizeof(*t));

	if (!t) { /* no annotation then, but the same behaviour */
		fn(head, func);
		return;
	}
	t->orig = head;
	t->func = func;
	__tsan_release(t);
	fn(&t->head, tramp_cb);
}

void urcu_qsbr_barrier(void)
{
	REAL(urcu_qsbr_barrier);

	__tsan_release(&gp_sync);
	fn();
	__tsan_acquire(&cb_sync);
}
