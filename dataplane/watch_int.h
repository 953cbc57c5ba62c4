/*
 * watch_int.h — a worker's watch registry (ZooKeeper's WatchManager, one
 * per worker, holding only that worker's connections' watches).
 *
 * Kinds, as in ZooKeeper 3.8 DataTree: one-shot data watches (getData,
 * exists), one-shot child watches (getChildren), persistent watches (fire
 * on data and child events of the path, not removed) and persistent
 * recursive watches (data events of the path and every descendant).
 * A trigger calls back each owner at most once, like ZooKeeper's
 * suppression set.  Not thread-safe: the owning worker only.
 */
#ifndef PADDOCK_WATCH_INT_H
#define PADDOCK_WATCH_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "tree/tree.h"

enum {
	WK_DATA = 1,
	WK_CHILD = 2,
	WK_PERSIST = 4,
	WK_RECURSIVE = 8,
};

/* Embedded in each watcher (connection). */
struct wt_owner {
	struct watch *head;
	int count;
};

struct wt;

struct wt *wt_new(void);
void wt_free(struct wt *t);

/* Register; a duplicate (same path, owner, kind) only updates `reg`.
 * Events with zxid <= reg do not fire this watch (the read that set it
 * already showed that change).  0 or ZSYSTEMERROR. */
int wt_add(struct wt *t, const char *path, size_t len, struct wt_owner *o,
	   int kind, zxid_t reg);
/* Remove owner's watches of `kinds` on path; true if any was removed. */
bool wt_remove(struct wt *t, const char *path, size_t len,
	       struct wt_owner *o, int kinds);
/* Does owner have a watch of one of `kinds` on path? */
bool wt_has(struct wt *t, const char *path, size_t len,
	    const struct wt_owner *o, int kinds);
/* Drop every watch of an owner. */
void wt_remove_owner(struct wt *t, struct wt_owner *o);
/* Number of watches, and of distinct paths. */
size_t wt_count(const struct wt *t);
size_t wt_paths(const struct wt *t);

/* Fire `event` (enum zk_event) at path.  fn(owner, arg) is called once per
 * owner that had a matching watch; one-shot watches are removed first. */
void wt_trigger(struct wt *t, int event, const char *path, size_t len,
		zxid_t zxid, void (*fn)(struct wt_owner *o, void *arg),
		void *arg);

/* Walk every watch: fn(path, len, owner, kind, arg). */
void wt_foreach(const struct wt *t,
		void (*fn)(const char *path, size_t len,
			   const struct wt_owner *o, int kind, void *arg),
		void *arg);

#endif
