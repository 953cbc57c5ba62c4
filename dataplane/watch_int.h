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

/* The two tables of ZooKeeper's DataTree, and a watch's mode in one. */
enum { WT_DATA = 1, WT_CHILD = 2 };
enum { WM_STANDARD = 1, WM_PERSISTENT = 2, WM_RECURSIVE = 3 };

/* Embedded in each watcher (connection). */
struct wt_owner {
	struct watch *head;
	int count;
};

struct wt;

struct wt *wt_new(void);
void wt_free(struct wt *t);

/* Register owner's watch on path in `table` with `mode`.  One mode per
 * (table, path, owner): a later registration replaces the mode, as
 * ZooKeeper's WatcherModeManager does.  Events with zxid <= reg do not
 * fire it (the read that set it already showed that change).
 * 0 or ZSYSTEMERROR. */
int wt_add(struct wt *t, const char *path, size_t len, struct wt_owner *o,
	   int table, int mode, zxid_t reg);
/* Remove owner's watches on path in the tables of `tables` whose mode is
 * `mode` (0 = any mode); true if any was removed. */
bool wt_remove(struct wt *t, const char *path, size_t len,
	       struct wt_owner *o, int tables, int mode);
/* Like wt_remove without removing. */
bool wt_has(struct wt *t, const char *path, size_t len,
	    const struct wt_owner *o, int tables, int mode);
/* Drop every watch of an owner. */
void wt_remove_owner(struct wt *t, struct wt_owner *o);
/* Number of watches, and of distinct paths. */
size_t wt_count(const struct wt *t);
size_t wt_paths(const struct wt *t);

/* Fire the watches a change fires (DataTree.createNode/deleteNode/
 * setData): fn(owner, arg) once per owner; standard watches removed.
 * reached (NULL: not wanted) gets, for each of the tables the event
 * fires ([0] WT_DATA, [1] WT_CHILD; NodeDeleted fires both, in that
 * order), how many owners it reached: the size of the `watchers` set of
 * ZooKeeper's WatchManager.triggerWatch for that table, which counts an
 * owner the data table told already (the suppression set) once more in
 * the child table.  0 for a table the event does not fire. */
void wt_trigger(struct wt *t, int event, const char *path, size_t len,
		zxid_t zxid, void (*fn)(struct wt_owner *o, void *arg),
		void *arg, size_t reached[2]);

/* Walk every watch: fn(path, len, owner, table, arg). */
void wt_foreach(const struct wt *t,
		void (*fn)(const char *path, size_t len,
			   const struct wt_owner *o, int table, void *arg),
		void *arg);

#endif
