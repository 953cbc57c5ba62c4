/*
 * zstat_int.h — comparing two stats in the unit tests that need it
 * (test_tree.c, test_snap.c).  Include after <cmocka.h> and tree/tree.h.
 */
#ifndef PADDOCK_ZSTAT_INT_H
#define PADDOCK_ZSTAT_INT_H

/* Field by field: a struct zstat has padding (after aversion), which
 * copies need not carry, so memcmp of two equal stats may differ (it
 * did in a release build). */
static void assert_stat_equal(const struct zstat *a, const struct zstat *b)
{
	assert_int_equal(a->czxid, b->czxid);
	assert_int_equal(a->mzxid, b->mzxid);
	assert_int_equal(a->ctime, b->ctime);
	assert_int_equal(a->mtime, b->mtime);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->cversion, b->cversion);
	assert_int_equal(a->aversion, b->aversion);
	assert_int_equal(a->ephemeral_owner, b->ephemeral_owner);
	assert_int_equal(a->data_length, b->data_length);
	assert_int_equal(a->num_children, b->num_children);
	assert_int_equal(a->pzxid, b->pzxid);
}

#endif
