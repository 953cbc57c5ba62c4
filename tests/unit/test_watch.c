/*
 * test_watch.c — the per-worker watch registry (dataplane/watch.c), as
 * ZooKeeper 3.8's WatchManager/WatcherModeManager behave: one-shot data
 * and child watches, persistent and persistent-recursive watches, one
 * callback per owner per trigger, the registration zxid, removal and
 * counts.  Tables are used as dataplane/proto.c uses them: WT_DATA for
 * getData/exists, WT_CHILD for getChildren, addWatch in both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/watch_int.h"
#include "tree/jute.h"

/* ------------------------------------------------------------------ */
/* fixture                                                              */
/* ------------------------------------------------------------------ */
struct rec {
	struct wt_owner *who[64];
	int n;
};

static void record(struct wt_owner *o, void *arg)
{
	struct rec *r = arg;
	if (r->n < 64)
		r->who[r->n] = o;
	r->n++;
}

static int times(const struct rec *r, const struct wt_owner *o)
{
	int k = 0;
	for (int i = 0; i < r->n && i < 64; i++)
		k += r->who[i] == o;
	return k;
}

/* Trigger and return how many callbacks ran; *r gets them. */
static int fire(struct wt *t, int event, const char *path, zxid_t zxid,
		struct rec *r)
{
	memset(r, 0, sizeof(*r));
	wt_trigger(t, event, path, strlen(path), zxid, record, r, NULL);
	return r->n;
}

static void add(struct wt *t, const char *path, struct wt_owner *o,
		int table, int mode)
{
	assert_int_equal(wt_add(t, path, strlen(path), o, table, mode, 0),
			 ZOK);
}

/* addWatch (DataTree.addWatch): the mode goes to both tables. */
static void add_watch(struct wt *t, const char *path, struct wt_owner *o,
		      int mode)
{
	add(t, path, o, WT_DATA, mode);
	add(t, path, o, WT_CHILD, mode);
}

static bool has(struct wt *t, const char *path, struct wt_owner *o,
		int tables, int mode)
{
	return wt_has(t, path, strlen(path), o, tables, mode);
}

static int setup(void **state)
{
	struct wt *t = wt_new();
	if (!t)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	wt_free(*state);
	return 0;
}

/* ------------------------------------------------------------------ */
/* one-shot data watches                                                */
/* ------------------------------------------------------------------ */
static void test_data_watch_fires_once_on_data_changed(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 10, &r), 1);
	assert_ptr_equal(r.who[0], &a);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 11, &r), 0);
	assert_int_equal(wt_count(t), 0);
	assert_int_equal(wt_paths(t), 0);
	assert_int_equal(a.count, 0);
	assert_null(a.head);
}

static void test_data_watch_fires_once_on_node_created(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD); /* exists on a missing node */
	assert_int_equal(fire(t, ZEV_CREATED, "/a", 10, &r), 1);
	assert_int_equal(fire(t, ZEV_CREATED, "/a", 11, &r), 0);
	assert_false(has(t, "/a", &a, WT_DATA, 0));
}

static void test_data_watch_fires_once_on_node_deleted(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_DELETED, "/a", 10, &r), 1);
	assert_int_equal(fire(t, ZEV_DELETED, "/a", 11, &r), 0);
	assert_int_equal(wt_count(t), 0);
}

static void test_data_watch_ignores_children_changed(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a", 10, &r), 0);
	assert_true(has(t, "/a", &a, WT_DATA, WM_STANDARD));
}

static void test_data_watch_ignores_other_paths(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/ab", 10, &r), 0);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 10, &r), 0);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/", 10, &r), 0);
	assert_int_equal(wt_count(t), 1);
}

static void test_data_watch_fires_every_owner_on_the_path(void **state)
{
	struct wt *t = *state;
	struct wt_owner o[5] = {{0}};
	struct rec r;
	for (int i = 0; i < 5; i++)
		add(t, "/a", &o[i], WT_DATA, WM_STANDARD);
	assert_int_equal(wt_count(t), 5);
	assert_int_equal(wt_paths(t), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 10, &r), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(times(&r, &o[i]), 1);
	assert_int_equal(wt_count(t), 0);
	assert_int_equal(wt_paths(t), 0);
}

/* ------------------------------------------------------------------ */
/* one-shot child watches                                               */
/* ------------------------------------------------------------------ */
static void test_child_watch_fires_once_on_children_changed(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a", 10, &r), 1);
	assert_ptr_equal(r.who[0], &a);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a", 11, &r), 0);
	assert_int_equal(wt_count(t), 0);
}

static void test_child_watch_fires_on_node_deleted_of_its_path(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_DELETED, "/a", 10, &r), 1);
	assert_int_equal(wt_count(t), 0);
}

static void test_child_watch_ignores_data_changed_and_created(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 10, &r), 0);
	assert_int_equal(fire(t, ZEV_CREATED, "/a", 11, &r), 0);
	/* a child's own events are not the parent's */
	assert_int_equal(fire(t, ZEV_DELETED, "/a/b", 12, &r), 0);
	assert_true(has(t, "/a", &a, WT_CHILD, WM_STANDARD));
}

static void test_node_deleted_calls_owner_once_with_data_and_child_watch(
	void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	add(t, "/a", &b, WT_CHILD, WM_STANDARD);
	assert_int_equal(wt_count(t), 3);
	assert_int_equal(fire(t, ZEV_DELETED, "/a", 10, &r), 2);
	assert_int_equal(times(&r, &a), 1);
	assert_int_equal(times(&r, &b), 1);
	/* both of a's one-shot watches are consumed */
	assert_int_equal(wt_count(t), 0);
	assert_int_equal(a.count, 0);
}

static void test_separate_triggers_each_call_the_owner(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	/* create /a/b: NodeCreated on /a/b, NodeChildrenChanged on /a */
	add(t, "/a/b", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_CREATED, "/a/b", 10, &r), 1);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a", 10, &r), 1);
}

/* ------------------------------------------------------------------ */
/* persistent watches                                                   */
/* ------------------------------------------------------------------ */
static void test_persistent_watch_fires_repeatedly_on_data_events(
	void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_PERSISTENT);
	assert_int_equal(fire(t, ZEV_CREATED, "/a", 10, &r), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 11, &r), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 12, &r), 1);
	assert_int_equal(fire(t, ZEV_DELETED, "/a", 13, &r), 1);
	assert_int_equal(fire(t, ZEV_CREATED, "/a", 14, &r), 1);
	assert_int_equal(wt_count(t), 2);
	assert_true(has(t, "/a", &a, WT_DATA | WT_CHILD, WM_PERSISTENT));
}

static void test_persistent_watch_fires_repeatedly_on_children_changed(
	void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_PERSISTENT);
	for (zxid_t z = 10; z < 15; z++)
		assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a", z, &r), 1);
	assert_int_equal(wt_count(t), 2);
}

static void test_persistent_watch_ignores_descendants(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_PERSISTENT);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 10, &r), 0);
	assert_int_equal(fire(t, ZEV_CREATED, "/a/b", 11, &r), 0);
	assert_int_equal(fire(t, ZEV_DELETED, "/a/b", 12, &r), 0);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a/b", 13, &r), 0);
}

static void test_persistent_node_deleted_calls_owner_once(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_PERSISTENT); /* in both tables */
	assert_int_equal(fire(t, ZEV_DELETED, "/a", 10, &r), 1);
}

/* ------------------------------------------------------------------ */
/* recursive watches                                                    */
/* ------------------------------------------------------------------ */
static void test_recursive_watch_fires_for_descendants_data_events(
	void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_RECURSIVE);
	assert_int_equal(fire(t, ZEV_CREATED, "/a/b", 10, &r), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 11, &r), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b/c/d", 12, &r), 1);
	assert_int_equal(fire(t, ZEV_DELETED, "/a/b", 13, &r), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 14, &r), 1);
	assert_int_equal(fire(t, ZEV_DELETED, "/a", 15, &r), 1);
	assert_int_equal(wt_count(t), 2);
}

static void test_recursive_watch_never_fires_children_changed(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_RECURSIVE);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a", 10, &r), 0);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a/b", 11, &r), 0);
	assert_int_equal(wt_count(t), 2);
}

static void test_recursive_watch_ignores_siblings_with_common_prefix(
	void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_RECURSIVE);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/ab", 10, &r), 0);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/ab/c", 11, &r), 0);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/", 12, &r), 0);
}

static void test_recursive_watch_on_root_sees_everything(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/", &a, WM_RECURSIVE);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/", 10, &r), 1);
	assert_int_equal(fire(t, ZEV_CREATED, "/x", 11, &r), 1);
	assert_int_equal(fire(t, ZEV_DELETED, "/x/y/z", 12, &r), 1);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/", 13, &r), 0);
}

static void test_recursive_and_standard_watches_call_owner_once(
	void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0};
	struct rec r;
	add_watch(t, "/", &a, WM_RECURSIVE);
	add_watch(t, "/a", &a, WM_RECURSIVE);
	add(t, "/a/b", &a, WT_DATA, WM_STANDARD);
	add(t, "/a/b", &a, WT_CHILD, WM_STANDARD);
	add(t, "/a/b", &b, WT_DATA, WM_STANDARD);
	assert_int_equal(fire(t, ZEV_DELETED, "/a/b", 10, &r), 2);
	assert_int_equal(times(&r, &a), 1);
	assert_int_equal(times(&r, &b), 1);
	/* the one-shot watches are gone even though a was called once */
	assert_false(has(t, "/a/b", &a, WT_DATA | WT_CHILD, 0));
	assert_int_equal(wt_count(t), 4);
}

static void test_standard_watch_on_ancestor_does_not_fire(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0};
	struct rec r;
	add_watch(t, "/x", &a, WM_RECURSIVE); /* makes the walk happen */
	add(t, "/a", &b, WT_DATA, WM_STANDARD);
	add_watch(t, "/a", &b, WM_PERSISTENT);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 10, &r), 0);
	assert_true(has(t, "/a", &b, WT_DATA, 0));
}

/* ------------------------------------------------------------------ */
/* modes per (table, path, owner)                                       */
/* ------------------------------------------------------------------ */
static void test_last_registration_sets_the_mode(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_DATA, WM_PERSISTENT);
	assert_int_equal(wt_count(t), 1);
	assert_true(has(t, "/a", &a, WT_DATA, WM_PERSISTENT));
	assert_false(has(t, "/a", &a, WT_DATA, WM_STANDARD));
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 10, &r), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 11, &r), 1);
	assert_int_equal(wt_count(t), 1);
}

static void test_standard_after_recursive_degrades_the_watch(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_RECURSIVE);
	add(t, "/a", &a, WT_DATA, WM_STANDARD); /* getData with watch */
	assert_int_equal(wt_count(t), 2);
	assert_true(has(t, "/a", &a, WT_DATA, WM_STANDARD));
	assert_false(has(t, "/a", &a, WT_DATA, WM_RECURSIVE));
	assert_true(has(t, "/a", &a, WT_CHILD, WM_RECURSIVE));
	/* the data table no longer sees descendants... */
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 10, &r), 0);
	/* ...and its own change fires it once */
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 11, &r), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 12, &r), 0);
	assert_false(has(t, "/a", &a, WT_DATA, 0));
	/* the child table's recursive watch still sees a descendant's
	 * deletion */
	assert_int_equal(fire(t, ZEV_DELETED, "/a/b", 13, &r), 1);
}

static void test_degrading_last_recursive_watch_stops_ancestor_walk(
	void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_RECURSIVE);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 10, &r), 1);
	add(t, "/a", &a, WT_DATA, WM_PERSISTENT);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 11, &r), 0);
	add(t, "/a", &a, WT_DATA, WM_RECURSIVE);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 12, &r), 1);
}

static void test_modes_are_per_table(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_CHILD, WM_PERSISTENT);
	assert_int_equal(wt_count(t), 2);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a", 10, &r), 1);
	assert_int_equal(fire(t, ZEV_CHILD_CHANGED, "/a", 11, &r), 1);
	assert_true(has(t, "/a", &a, WT_DATA, WM_STANDARD));
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 12, &r), 1);
	assert_false(has(t, "/a", &a, WT_DATA, 0));
	assert_true(has(t, "/a", &a, WT_CHILD, WM_PERSISTENT));
}

/* ------------------------------------------------------------------ */
/* registration zxid                                                    */
/* ------------------------------------------------------------------ */
static void test_event_at_or_before_reg_zxid_does_not_fire(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	assert_int_equal(wt_add(t, "/a", 2, &a, WT_DATA, WM_STANDARD, 100),
			 ZOK);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 99, &r), 0);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 100, &r), 0);
	assert_true(has(t, "/a", &a, WT_DATA, WM_STANDARD)); /* kept */
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 101, &r), 1);
	assert_int_equal(wt_count(t), 0);
}

static void test_reg_zxid_applies_to_recursive_ancestors(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	assert_int_equal(wt_add(t, "/a", 2, &a, WT_DATA, WM_RECURSIVE, 50),
			 ZOK);
	assert_int_equal(fire(t, ZEV_CREATED, "/a/b", 50, &r), 0);
	assert_int_equal(fire(t, ZEV_CREATED, "/a/b", 51, &r), 1);
}

static void test_reregistration_updates_reg_zxid(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	assert_int_equal(wt_add(t, "/a", 2, &a, WT_DATA, WM_PERSISTENT, 10),
			 ZOK);
	assert_int_equal(wt_add(t, "/a", 2, &a, WT_DATA, WM_PERSISTENT, 20),
			 ZOK);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 15, &r), 0);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 21, &r), 1);
}

/* ------------------------------------------------------------------ */
/* removal                                                              */
/* ------------------------------------------------------------------ */
static void test_remove_by_table(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0};
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	add(t, "/a", &b, WT_CHILD, WM_STANDARD);
	assert_true(wt_remove(t, "/a", 2, &a, WT_CHILD, 0));
	assert_false(has(t, "/a", &a, WT_CHILD, 0));
	assert_true(has(t, "/a", &a, WT_DATA, 0));
	assert_true(has(t, "/a", &b, WT_CHILD, 0)); /* other owner kept */
	assert_false(wt_remove(t, "/a", 2, &a, WT_CHILD, 0));
	assert_int_equal(wt_count(t), 2);
	assert_int_equal(a.count, 1);
	assert_true(wt_remove(t, "/a", 2, &a, WT_DATA | WT_CHILD, 0));
	assert_int_equal(wt_count(t), 1);
	assert_int_equal(a.count, 0);
	assert_int_equal(wt_paths(t), 1);
}

static void test_remove_by_mode_leaves_other_modes(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_CHILD, WM_PERSISTENT);
	/* removeWatches(Persistent) */
	assert_false(wt_remove(t, "/a", 2, &a, WT_DATA | WT_CHILD,
			       WM_RECURSIVE));
	assert_true(wt_remove(t, "/a", 2, &a, WT_DATA | WT_CHILD,
			      WM_PERSISTENT));
	assert_true(has(t, "/a", &a, WT_DATA, WM_STANDARD));
	assert_false(has(t, "/a", &a, WT_CHILD, 0));
	/* removeWatches(Data) only matches standard data watches */
	assert_false(wt_remove(t, "/a", 2, &a, WT_CHILD, WM_STANDARD));
	assert_true(wt_remove(t, "/a", 2, &a, WT_DATA, WM_STANDARD));
	assert_int_equal(wt_count(t), 0);
	assert_int_equal(wt_paths(t), 0);
}

static void test_has_by_table_and_mode(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0};
	add_watch(t, "/a", &a, WM_RECURSIVE);
	assert_true(has(t, "/a", &a, WT_DATA, 0));
	assert_true(has(t, "/a", &a, WT_CHILD, WM_RECURSIVE));
	assert_false(has(t, "/a", &a, WT_DATA, WM_PERSISTENT));
	assert_false(has(t, "/a", &a, WT_DATA, WM_STANDARD));
	assert_false(has(t, "/a", &b, WT_DATA | WT_CHILD, 0));
	assert_false(has(t, "/b", &a, WT_DATA | WT_CHILD, 0));
	assert_false(has(t, "/a/b", &a, WT_DATA | WT_CHILD, 0));
	assert_int_equal(wt_count(t), 2); /* wt_has removes nothing */
}

static void test_removed_recursive_watch_no_longer_fires(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	add_watch(t, "/a", &a, WM_RECURSIVE);
	assert_true(wt_remove(t, "/a", 2, &a, WT_DATA | WT_CHILD,
			      WM_RECURSIVE));
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a/b", 10, &r), 0);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 11, &r), 0);
	assert_int_equal(wt_count(t), 0);
}

static void test_remove_owner_drops_everything_of_that_owner(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0};
	struct rec r;
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	add_watch(t, "/b", &a, WM_PERSISTENT);
	add_watch(t, "/", &a, WM_RECURSIVE);
	add(t, "/a", &b, WT_DATA, WM_STANDARD);
	assert_int_equal(a.count, 6);
	assert_int_equal(wt_count(t), 7);
	assert_int_equal(wt_paths(t), 3);
	wt_remove_owner(t, &a);
	assert_int_equal(a.count, 0);
	assert_null(a.head);
	assert_int_equal(wt_count(t), 1);
	assert_int_equal(wt_paths(t), 1);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/b", 10, &r), 0);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/a", 11, &r), 1);
	assert_ptr_equal(r.who[0], &b);
	wt_remove_owner(t, &a); /* nothing left: harmless */
	assert_int_equal(wt_count(t), 0);
}

/* ------------------------------------------------------------------ */
/* counts and growth                                                    */
/* ------------------------------------------------------------------ */
static void test_counts_track_watches_and_distinct_paths(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0};
	assert_int_equal(wt_count(t), 0);
	assert_int_equal(wt_paths(t), 0);
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &b, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	add(t, "/b", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_DATA, WM_STANDARD); /* duplicate: no new watch */
	assert_int_equal(wt_count(t), 4);
	assert_int_equal(wt_paths(t), 2);
	assert_int_equal(a.count, 3);
	assert_int_equal(b.count, 1);
}

struct tally {
	size_t n;
	size_t data, child;
};

static void tally(const char *path, size_t len, const struct wt_owner *o,
		  int table, void *arg)
{
	struct tally *x = arg;
	assert_int_equal(strlen(path), len); /* stored NUL-terminated */
	x->n++;
	if (table == WT_DATA)
		x->data++;
	if (table == WT_CHILD)
		x->child++;
}

static void test_many_paths_grow_the_table_and_stay_reachable(void **state)
{
	struct wt *t = *state;
	enum { N = 5000 };
	struct wt_owner a = {0}, b = {0};
	char p[32];
	for (int i = 0; i < N; i++) {
		int n = snprintf(p, sizeof(p), "/n/%d", i);
		assert_int_equal(wt_add(t, p, (size_t)n, &a, WT_DATA,
					WM_STANDARD, 0),
				 ZOK);
		if (i % 2)
			assert_int_equal(wt_add(t, p, (size_t)n, &b,
						WT_CHILD, WM_STANDARD, 0),
					 ZOK);
	}
	assert_int_equal(wt_paths(t), N);
	assert_int_equal(wt_count(t), N + N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(p, sizeof(p), "/n/%d", i);
		assert_true(has(t, p, &a, WT_DATA, WM_STANDARD));
		assert_true(has(t, p, &b, WT_CHILD, 0) == (i % 2 == 1));
	}
	struct tally x = {0};
	wt_foreach(t, tally, &x);
	assert_int_equal(x.n, N + N / 2);
	assert_int_equal(x.data, N);
	assert_int_equal(x.child, N / 2);

	struct rec r;
	assert_int_equal(fire(t, ZEV_DELETED, "/n/4321", 10, &r), 2);
	assert_int_equal(fire(t, ZEV_DATA_CHANGED, "/n/1234", 10, &r), 1);
	assert_int_equal(wt_count(t), N + N / 2 - 3);
	assert_int_equal(wt_paths(t), N - 2); /* both emptied */

	for (int i = 0; i < N; i += 3) {
		int n = snprintf(p, sizeof(p), "/n/%d", i);
		wt_remove(t, p, (size_t)n, &a, WT_DATA | WT_CHILD, 0);
	}
	wt_remove_owner(t, &b);
	assert_int_equal(b.count, 0);
	assert_int_equal(wt_count(t), (size_t)a.count);
	assert_int_equal(wt_paths(t), (size_t)a.count);
	wt_remove_owner(t, &a);
	assert_int_equal(wt_count(t), 0);
	assert_int_equal(wt_paths(t), 0);
}

static void test_many_owners_on_one_path_are_each_called_once(void **state)
{
	struct wt *t = *state;
	enum { N = 200 }; /* beyond the suppression set's first size */
	static struct wt_owner o[N];
	memset(o, 0, sizeof(o));
	for (int i = 0; i < N; i++) {
		add(t, "/a", &o[i], WT_DATA, WM_STANDARD);
		add(t, "/a", &o[i], WT_CHILD, WM_STANDARD);
	}
	int calls = 0;
	struct rec r = {0};
	wt_trigger(t, ZEV_DELETED, "/a", 2, 10, record, &r, NULL);
	calls = r.n;
	assert_int_equal(calls, N);
	assert_int_equal(wt_count(t), 0);
}

/* ------------------------------------------------------------------ */
/* how many watchers each table reached (ServerMetrics' NODE_*_WATCHER) */
/* ------------------------------------------------------------------ */

/* Trigger; reached[] as wt_trigger reports it, *r the callbacks. */
static void fire_counted(struct wt *t, int event, const char *path,
			 struct rec *r, size_t reached[2])
{
	memset(r, 0, sizeof(*r));
	reached[0] = reached[1] = 99;
	wt_trigger(t, event, path, strlen(path), 10, record, r, reached);
}

static void test_event_without_watchers_reaches_none(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r;
	size_t n[2];
	add(t, "/other", &a, WT_DATA, WM_STANDARD);
	fire_counted(t, ZEV_DATA_CHANGED, "/a", &r, n);
	assert_int_equal(r.n, 0);
	assert_int_equal(n[0], 0);
	assert_int_equal(n[1], 0);
	fire_counted(t, ZEV_DELETED, "/a", &r, n);
	assert_int_equal(n[0], 0);
	assert_int_equal(n[1], 0);
}

static void test_data_event_reaches_every_owner_of_the_data_table(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0}, c = {0};
	struct rec r;
	size_t n[2];
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &b, WT_DATA, WM_STANDARD);
	add(t, "/a", &c, WT_DATA, WM_PERSISTENT);
	add(t, "/a", &c, WT_CHILD, WM_PERSISTENT);
	fire_counted(t, ZEV_DATA_CHANGED, "/a", &r, n);
	assert_int_equal(r.n, 3);
	assert_int_equal(n[0], 3);
	assert_int_equal(n[1], 0);
	fire_counted(t, ZEV_CREATED, "/a", &r, n); /* only c is left */
	assert_int_equal(n[0], 1);
	assert_int_equal(n[1], 0);
}

/* DataTree.deleteNode: the data table, then the child table with the
 * data table's watchers suppressed; each triggerWatch counts its whole
 * set, the suppressed ones too. */
static void test_node_deleted_counts_each_table_suppressed_included(
	void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0}, c = {0};
	struct rec r;
	size_t n[2];
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	add(t, "/a", &a, WT_CHILD, WM_STANDARD);
	add(t, "/a", &b, WT_CHILD, WM_STANDARD);
	add(t, "/a", &c, WT_DATA, WM_STANDARD);
	fire_counted(t, ZEV_DELETED, "/a", &r, n);
	assert_int_equal(r.n, 3); /* each told once */
	assert_int_equal(n[0], 2); /* a, c */
	assert_int_equal(n[1], 2); /* a (told already), b */
}

static void test_children_changed_counts_the_child_table_only(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0}, c = {0};
	struct rec r;
	size_t n[2];
	add(t, "/p", &a, WT_CHILD, WM_STANDARD);
	add_watch(t, "/p", &b, WM_PERSISTENT);
	add_watch(t, "/", &c, WM_RECURSIVE); /* never NodeChildrenChanged */
	add(t, "/p", &c, WT_DATA, WM_STANDARD);
	fire_counted(t, ZEV_CHILD_CHANGED, "/p", &r, n);
	assert_int_equal(r.n, 2);
	assert_int_equal(n[0], 0);
	assert_int_equal(n[1], 2);
}

/* An owner reached at several levels (its own watch and a recursive one
 * on an ancestor) is one member of triggerWatch's set. */
static void test_owner_reached_at_two_levels_counts_once(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0}, b = {0};
	struct rec r;
	size_t n[2];
	add_watch(t, "/a", &a, WM_RECURSIVE);
	add(t, "/a/b", &a, WT_DATA, WM_STANDARD);
	add_watch(t, "/", &b, WM_RECURSIVE);
	fire_counted(t, ZEV_CREATED, "/a/b", &r, n);
	assert_int_equal(r.n, 2);
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 0);
	/* NodeDeleted: ZooKeeper 3.8 keeps addWatch's recursive watches in
	 * both tables, and the child table's walk reaches them too */
	fire_counted(t, ZEV_DELETED, "/a/b", &r, n);
	assert_int_equal(r.n, 2);
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 2);
}

static void test_reached_may_be_null(void **state)
{
	struct wt *t = *state;
	struct wt_owner a = {0};
	struct rec r = {0};
	add(t, "/a", &a, WT_DATA, WM_STANDARD);
	wt_trigger(t, ZEV_DATA_CHANGED, "/a", 2, 10, record, &r, NULL);
	assert_int_equal(r.n, 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_data_watch_fires_once_on_data_changed),
		T(test_data_watch_fires_once_on_node_created),
		T(test_data_watch_fires_once_on_node_deleted),
		T(test_data_watch_ignores_children_changed),
		T(test_data_watch_ignores_other_paths),
		T(test_data_watch_fires_every_owner_on_the_path),
		T(test_child_watch_fires_once_on_children_changed),
		T(test_child_watch_fires_on_node_deleted_of_its_path),
		T(test_child_watch_ignores_data_changed_and_created),
		T(test_node_deleted_calls_owner_once_with_data_and_child_watch),
		T(test_separate_triggers_each_call_the_owner),
		T(test_persistent_watch_fires_repeatedly_on_data_events),
		T(test_persistent_watch_fires_repeatedly_on_children_changed),
		T(test_persistent_watch_ignores_descendants),
		T(test_persistent_node_deleted_calls_owner_once),
		T(test_recursive_watch_fires_for_descendants_data_events),
		T(test_recursive_watch_never_fires_children_changed),
		T(test_recursive_watch_ignores_siblings_with_common_prefix),
		T(test_recursive_watch_on_root_sees_everything),
		T(test_recursive_and_standard_watches_call_owner_once),
		T(test_standard_watch_on_ancestor_does_not_fire),
		T(test_last_registration_sets_the_mode),
		T(test_standard_after_recursive_degrades_the_watch),
		T(test_degrading_last_recursive_watch_stops_ancestor_walk),
		T(test_modes_are_per_table),
		T(test_event_at_or_before_reg_zxid_does_not_fire),
		T(test_reg_zxid_applies_to_recursive_ancestors),
		T(test_reregistration_updates_reg_zxid),
		T(test_remove_by_table),
		T(test_remove_by_mode_leaves_other_modes),
		T(test_has_by_table_and_mode),
		T(test_removed_recursive_watch_no_longer_fires),
		T(test_remove_owner_drops_everything_of_that_owner),
		T(test_counts_track_watches_and_distinct_paths),
		T(test_many_paths_grow_the_table_and_stay_reachable),
		T(test_many_owners_on_one_path_are_each_called_once),
		T(test_event_without_watchers_reaches_none),
		T(test_data_event_reaches_every_owner_of_the_data_table),
		T(test_node_deleted_counts_each_table_suppressed_included),
		T(test_children_changed_counts_the_child_table_only),
		T(test_owner_reached_at_two_levels_counts_once),
		T(test_reached_may_be_null),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
