/*
 * watch.c — per-worker watch registry.  See watch_int.h.
 *
 * A chained hash table of watched paths; each path holds a doubly linked
 * list of watches, and each watch is also on its owner's list so a closing
 * connection drops its watches without a scan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/watch_int.h"
#include "tree/jute.h"

struct wpath {
	struct wpath *next;
	struct watch *head;
	size_t len;
	char path[];
};

struct watch {
	struct wpath *wp;
	struct wt_owner *owner;
	int table;
	int mode;
	zxid_t reg;
	struct watch *pnext, *pprev;
	struct watch *onext, *oprev;
};

struct wt {
	struct wpath **b;
	size_t nb;
	size_t npaths;
	size_t count;
	size_t recursive; /* WM_RECURSIVE watches (either table) */
	/* per-trigger de-duplication */
	struct wt_owner **fired;
	size_t nfired, capfired;
};

struct wt *wt_new(void)
{
	struct wt *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->nb = 1024;
	t->b = calloc(t->nb, sizeof(*t->b));
	if (!t->b) {
		free(t);
		return NULL;
	}
	return t;
}

void wt_free(struct wt *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct wpath *wp = t->b[i];
		while (wp) {
			struct wpath *n = wp->next;
			struct watch *w = wp->head;
			while (w) {
				struct watch *x = w->pnext;
				free(w);
				w = x;
			}
			free(wp);
			wp = n;
		}
	}
	free(t->b);
	free(t->fired);
	free(t);
}

static struct wpath **find(struct wt *t, const char *path, size_t len)
{
	struct wpath **pp = &t->b[zk_path_hash(path, len) & (t->nb - 1)];
	while (*pp && ((*pp)->len != len || memcmp((*pp)->path, path, len)))
		pp = &(*pp)->next;
	return pp;
}

static void grow(struct wt *t)
{
	size_t nb = t->nb * 2;
	struct wpath **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct wpath *wp = t->b[i];
		while (wp) {
			struct wpath *n = wp->next;
			size_t h = zk_path_hash(wp->path, wp->len) & (nb - 1);
			wp->next = b[h];
			b[h] = wp;
			wp = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

int wt_add(struct wt *t, const char *path, size_t len, struct wt_owner *o,
	   int table, int mode, zxid_t reg)
{
	struct wpath **pp = find(t, path, len);
	struct wpath *wp = *pp;
	if (wp) {
		for (struct watch *w = wp->head; w; w = w->pnext)
			if (w->owner == o && w->table == table) {
				if (w->mode == WM_RECURSIVE)
					t->recursive--;
				if (mode == WM_RECURSIVE)
					t->recursive++;
				w->mode = mode;
				w->reg = reg;
				return ZOK;
			}
	} else {
		wp = malloc(sizeof(*wp) + len + 1);
		if (!wp)
			return ZSYSTEMERROR;
		wp->head = NULL;
		wp->len = len;
		memcpy(wp->path, path, len);
		wp->path[len] = 0;
		wp->next = NULL;
		*pp = wp;
		t->npaths++;
	}
	struct watch *w = calloc(1, sizeof(*w));
	if (!w) {
		if (!wp->head) {
			*find(t, path, len) = wp->next;
			free(wp);
			t->npaths--;
		}
		return ZSYSTEMERROR;
	}
	w->wp = wp;
	w->owner = o;
	w->table = table;
	w->mode = mode;
	w->reg = reg;
	w->pnext = wp->head;
	if (wp->head)
		wp->head->pprev = w;
	wp->head = w;
	w->onext = o->head;
	if (o->head)
		o->head->oprev = w;
	o->head = w;
	o->count++;
	t->count++;
	if (mode == WM_RECURSIVE)
		t->recursive++;
	if (t->npaths > t->nb)
		grow(t);
	return ZOK;
}

static void unlink_watch(struct wt *t, struct watch *w)
{
	struct wpath *wp = w->wp;
	if (w->pprev)
		w->pprev->pnext = w->pnext;
	else
		wp->head = w->pnext;
	if (w->pnext)
		w->pnext->pprev = w->pprev;
	if (w->oprev)
		w->oprev->onext = w->onext;
	else
		w->owner->head = w->onext;
	if (w->onext)
		w->onext->oprev = w->oprev;
	w->owner->count--;
	t->count--;
	if (w->mode == WM_RECURSIVE)
		t->recursive--;
	free(w);
	if (!wp->head) {
		struct wpath **pp = find(t, wp->path, wp->len);
		*pp = wp->next;
		free(wp);
		t->npaths--;
	}
}

static bool match(const struct watch *w, const struct wt_owner *o,
		  int tables, int mode)
{
	return w->owner == o && (w->table & tables) &&
	       (mode == 0 || w->mode == mode);
}

bool wt_remove(struct wt *t, const char *path, size_t len,
	       struct wt_owner *o, int tables, int mode)
{
	bool any = false;
	for (;;) {
		struct wpath *wp = *find(t, path, len);
		struct watch *w = wp ? wp->head : NULL;
		while (w && !match(w, o, tables, mode))
			w = w->pnext;
		if (!w)
			return any;
		unlink_watch(t, w); /* may free wp: look it up again */
		any = true;
	}
}

bool wt_has(struct wt *t, const char *path, size_t len,
	    const struct wt_owner *o, int tables, int mode)
{
	struct wpath *wp = *find(t, path, len);
	for (struct watch *w = wp ? wp->head : NULL; w; w = w->pnext)
		if (match(w, o, tables, mode))
			return true;
	return false;
}

void wt_remove_owner(struct wt *t, struct wt_owner *o)
{
	while (o->head)
		unlink_watch(t, o->head);
}

size_t wt_count(const struct wt *t)
{
	return t->count;
}

size_t wt_paths(const struct wt *t)
{
	return t->npaths;
}

/* Whether o is in fired[from, to). */
static bool fired_in(const struct wt *t, size_t from, size_t to,
		     const struct wt_owner *o)
{
	for (size_t i = from; i < to; i++)
		if (t->fired[i] == o)
			return true;
	return false;
}

/* Add o to the suppression set.  If memory is short it is not added: o
 * is then told again, and counted again, if it fires again in this
 * trigger. */
static void fired_add(struct wt *t, struct wt_owner *o)
{
	if (t->nfired == t->capfired) {
		size_t cap = t->capfired ? t->capfired * 2 : 64;
		struct wt_owner **f = realloc(t->fired, cap * sizeof(*f));
		if (!f)
			return;
		t->fired = f;
		t->capfired = cap;
	}
	t->fired[t->nfired++] = o;
}

/*
 * WatchManager.triggerWatch for one table: at the path itself every
 * watch fires (standard ones are removed); at its ancestors only
 * recursive ones; recursive watches never fire NodeChildrenChanged.
 * Returns the number of owners it reached (its `watchers` set: each
 * owner once, also one an earlier table of this trigger told already).
 * The suppression set: fired[0, from) the earlier tables' owners,
 * fired[from, nfired) this table's so far.
 */
static size_t fire_table(struct wt *t, int table, int event, const char *path,
			 size_t len, zxid_t zxid,
			 void (*fn)(struct wt_owner *, void *), void *arg)
{
	size_t l = len, from = t->nfired, reached = 0;
	bool parent = false;
	for (;;) {
		struct wpath *wp = *find(t, path, l);
		struct watch *w = wp ? wp->head : NULL;
		while (w) {
			struct watch *next = w->pnext;
			bool fire = false, remove = false;
			if (w->table == table && zxid > w->reg) {
				if (w->mode == WM_RECURSIVE)
					fire = event != ZEV_CHILD_CHANGED;
				else if (!parent)
					fire = true,
					remove = w->mode == WM_STANDARD;
			}
			if (fire) {
				struct wt_owner *o = w->owner;
				bool last = remove && !w->pnext && !w->pprev;
				if (remove)
					unlink_watch(t, w); /* may free wp */
				if (!fired_in(t, from, t->nfired, o)) {
					bool told = fired_in(t, 0, from, o);
					reached++;
					fired_add(t, o);
					if (!told)
						fn(o, arg);
				}
				if (last)
					break;
			}
			w = next;
		}
		if (!t->recursive || l <= 1)
			return reached;
		while (l > 0 && path[l - 1] != '/')
			l--;
		l = l > 1 ? l - 1 : 1; /* the parent's length */
		parent = true;
	}
}

void wt_trigger(struct wt *t, int event, const char *path, size_t len,
		zxid_t zxid, void (*fn)(struct wt_owner *o, void *arg),
		void *arg, size_t reached[2])
{
	size_t n[2] = {0, 0};
	/* One suppression set per DataTree operation. */
	t->nfired = 0;
	switch (event) {
	case ZEV_CHILD_CHANGED:
		n[1] = fire_table(t, WT_CHILD, event, path, len, zxid, fn, arg);
		break;
	case ZEV_DELETED:
		n[0] = fire_table(t, WT_DATA, event, path, len, zxid, fn, arg);
		n[1] = fire_table(t, WT_CHILD, event, path, len, zxid, fn, arg);
		break;
	default:
		n[0] = fire_table(t, WT_DATA, event, path, len, zxid, fn, arg);
		break;
	}
	if (reached) {
		reached[0] = n[0];
		reached[1] = n[1];
	}
}

void wt_foreach(const struct wt *t,
		void (*fn)(const char *path, size_t len,
			   const struct wt_owner *o, int table, void *arg),
		void *arg)
{
	for (size_t i = 0; i < t->nb; i++)
		for (struct wpath *wp = t->b[i]; wp; wp = wp->next)
			for (struct watch *w = wp->head; w; w = w->pnext)
				fn(wp->path, wp->len, w->owner, w->table, arg);
}
