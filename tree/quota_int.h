/*
 * quota_int.h — between tree.c and quota.c (the tree module's private
 * seam for ZooKeeper's quota bookkeeping; the public API is in tree.h).
 */
#ifndef PADDOCK_QUOTA_INT_H
#define PADDOCK_QUOTA_INT_H

#include "tree/tree.h"

/* The quota paths (ZooKeeper's DataTree.pTrie); writer only. */
struct quota;

struct quota *quota_new(void);
void quota_free(struct quota *q);

/* tree.c calls these after a change succeeded (the writer).  `dlen`: the
 * created or deleted node's data length; `dbytes`: setData's change of
 * it. */
void quota_created(struct tree *t, struct quota *q, const char *path,
		   size_t len, int32_t dlen);
void quota_deleted(struct tree *t, struct quota *q, const char *path,
		   size_t len, int32_t dlen);
void quota_resized(struct tree *t, struct quota *q, const char *path,
		   size_t len, int64_t dbytes);

/* tree.c: the quota paths, for tree_quota_* in quota.c. */
struct quota *tree_quota(const struct tree *t);

/* tree.c: replace `path`'s data, leaving its stat as it is except
 * dataLength (how ZooKeeper updates a zookeeper_stats node: no new mzxid,
 * no version, no watch).  ZNONODE, ZSYSTEMERROR. */
int tree_data_rewrite(struct tree *t, const char *path, size_t len,
		      const char *data, size_t dlen);

/* tree.c: znode count and data bytes of n's subtree, n included; false
 * when out of memory. */
bool znode_subtree_usage(const struct znode *n, int64_t *count,
			 int64_t *bytes);

#endif
