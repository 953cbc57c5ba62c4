/*
 * fuzz_seq_int.h — private to tests/: the sequencer configuration that
 * fuzz_sequencer.c, fuzz_recover.c and unit/test_handoff.c share (one
 * worker, tickTime 2000, session timeouts 4000..40000 ms, server id 1,
 * the default container interval; no snapshot or log directory).
 */
#ifndef PADDOCK_FUZZ_SEQ_INT_H
#define PADDOCK_FUZZ_SEQ_INT_H

#include "consensus/consensus.h"
#include "tree/tree.h"

/* Fill *sc for a sequencer over tree t; every other field is zero. */
static inline void fuzz_seq_config(struct zab_seq_config *sc, struct tree *t)
{
	*sc = (struct zab_seq_config){
		.tree = t,
		.n_workers = 1,
		.tick_time = 2000,
		.min_session_timeout = 4000,
		.max_session_timeout = 40000,
		.server_id = 1,
		.container_interval_ms = 60000,
	};
}

#endif
