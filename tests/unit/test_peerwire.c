/*
 * test_peerwire.c — the peer-protocol codecs (consensus/peerwire.c)
 * against bytes captured from real Apache ZooKeeper 3.8.0 servers, plus
 * the legacy forms 3.8 still accepts, truncation, and garbage.
 *
 * Test vectors: captured from Debian's zookeeper 3.8.0-11+deb12u2 by
 * tests/integration/test_zkpeer.py run with
 * PADDOCK_PEERWIRE_CAPTURE=<file> (a three-voter ensemble on loopback,
 * servers 1 and 2 real, 3 and observer 4 the test; ports are the ones of
 * that run).  zk_* were sent by a ZooKeeper leader or election peer,
 * zkf_* by a ZooKeeper follower to the test acting as its leader.  The
 * same run's live assertions are in that file; the sequences are in
 * consensus/PEER-PROTOCOL.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/peerwire_int.h"

/* ------------------------------------------------------------------ */
/* captured vectors                                                     */
/* ------------------------------------------------------------------ */
/* zk_initmsg_sid2: 35 bytes */
static const uint8_t zk_initmsg_sid2[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x31, 0x32, 0x37, 0x2e,
    0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x34, 0x39, 0x39, 0x32, 0x35,
};

/* zk_note_following_1: 226 bytes */
static const uint8_t zk_note_following_1[] = {
    0x00, 0x00, 0x00, 0xde, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xb2,
    0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x2e, 0x31, 0x3d, 0x31, 0x32, 0x37,
    0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x33, 0x37, 0x39, 0x36, 0x35,
    0x3a, 0x33, 0x33, 0x32, 0x32, 0x31, 0x3a, 0x70, 0x61, 0x72, 0x74, 0x69,
    0x63, 0x69, 0x70, 0x61, 0x6e, 0x74, 0x0a, 0x73, 0x65, 0x72, 0x76, 0x65,
    0x72, 0x2e, 0x32, 0x3d, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e,
    0x31, 0x3a, 0x33, 0x37, 0x32, 0x34, 0x39, 0x3a, 0x34, 0x39, 0x39, 0x32,
    0x35, 0x3a, 0x70, 0x61, 0x72, 0x74, 0x69, 0x63, 0x69, 0x70, 0x61, 0x6e,
    0x74, 0x0a, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x2e, 0x33, 0x3d, 0x31,
    0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x34, 0x31, 0x31,
    0x35, 0x39, 0x3a, 0x35, 0x32, 0x34, 0x39, 0x33, 0x3a, 0x70, 0x61, 0x72,
    0x74, 0x69, 0x63, 0x69, 0x70, 0x61, 0x6e, 0x74, 0x0a, 0x73, 0x65, 0x72,
    0x76, 0x65, 0x72, 0x2e, 0x34, 0x3d, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e,
    0x30, 0x2e, 0x31, 0x3a, 0x34, 0x34, 0x33, 0x39, 0x31, 0x3a, 0x34, 0x32,
    0x32, 0x35, 0x33, 0x3a, 0x6f, 0x62, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72,
    0x0a, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x3d, 0x30,
};

/* zk_note_leading_2: 226 bytes */
static const uint8_t zk_note_leading_2[] = {
    0x00, 0x00, 0x00, 0xde, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xb2,
    0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x2e, 0x31, 0x3d, 0x31, 0x32, 0x37,
    0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x33, 0x37, 0x39, 0x36, 0x35,
    0x3a, 0x33, 0x33, 0x32, 0x32, 0x31, 0x3a, 0x70, 0x61, 0x72, 0x74, 0x69,
    0x63, 0x69, 0x70, 0x61, 0x6e, 0x74, 0x0a, 0x73, 0x65, 0x72, 0x76, 0x65,
    0x72, 0x2e, 0x32, 0x3d, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e,
    0x31, 0x3a, 0x33, 0x37, 0x32, 0x34, 0x39, 0x3a, 0x34, 0x39, 0x39, 0x32,
    0x35, 0x3a, 0x70, 0x61, 0x72, 0x74, 0x69, 0x63, 0x69, 0x70, 0x61, 0x6e,
    0x74, 0x0a, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x2e, 0x33, 0x3d, 0x31,
    0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x34, 0x31, 0x31,
    0x35, 0x39, 0x3a, 0x35, 0x32, 0x34, 0x39, 0x33, 0x3a, 0x70, 0x61, 0x72,
    0x74, 0x69, 0x63, 0x69, 0x70, 0x61, 0x6e, 0x74, 0x0a, 0x73, 0x65, 0x72,
    0x76, 0x65, 0x72, 0x2e, 0x34, 0x3d, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e,
    0x30, 0x2e, 0x31, 0x3a, 0x34, 0x34, 0x33, 0x39, 0x31, 0x3a, 0x34, 0x32,
    0x32, 0x35, 0x33, 0x3a, 0x6f, 0x62, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72,
    0x0a, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x3d, 0x30,
};

/* zk_leaderinfo: 24 bytes */
static const uint8_t zk_leaderinfo[] = {
    0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
};

/* zk_snap: 20 bytes */
static const uint8_t zk_snap[] = {
    0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* zk_newleader: 198 bytes */
static const uint8_t zk_newleader[] = {
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xb2, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x2e, 0x31,
    0x3d, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x33,
    0x37, 0x39, 0x36, 0x35, 0x3a, 0x33, 0x33, 0x32, 0x32, 0x31, 0x3a, 0x70,
    0x61, 0x72, 0x74, 0x69, 0x63, 0x69, 0x70, 0x61, 0x6e, 0x74, 0x0a, 0x73,
    0x65, 0x72, 0x76, 0x65, 0x72, 0x2e, 0x32, 0x3d, 0x31, 0x32, 0x37, 0x2e,
    0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x33, 0x37, 0x32, 0x34, 0x39, 0x3a,
    0x34, 0x39, 0x39, 0x32, 0x35, 0x3a, 0x70, 0x61, 0x72, 0x74, 0x69, 0x63,
    0x69, 0x70, 0x61, 0x6e, 0x74, 0x0a, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72,
    0x2e, 0x33, 0x3d, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31,
    0x3a, 0x34, 0x31, 0x31, 0x35, 0x39, 0x3a, 0x35, 0x32, 0x34, 0x39, 0x33,
    0x3a, 0x70, 0x61, 0x72, 0x74, 0x69, 0x63, 0x69, 0x70, 0x61, 0x6e, 0x74,
    0x0a, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x2e, 0x34, 0x3d, 0x31, 0x32,
    0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x34, 0x34, 0x33, 0x39,
    0x31, 0x3a, 0x34, 0x32, 0x32, 0x35, 0x33, 0x3a, 0x6f, 0x62, 0x73, 0x65,
    0x72, 0x76, 0x65, 0x72, 0x0a, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e,
    0x3d, 0x30, 0xff, 0xff, 0xff, 0xff,
};

/* zk_uptodate: 20 bytes */
static const uint8_t zk_uptodate[] = {
    0x00, 0x00, 0x00, 0x0c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* zk_proposal_create: 112 bytes */
static const uint8_t zk_proposal_create[] = {
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04,
    0x00, 0x00, 0x00, 0x5c, 0x01, 0x00, 0x01, 0x61, 0xca, 0xa0, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04,
    0x00, 0x00, 0x01, 0xa2, 0x4a, 0xf2, 0x3b, 0x65, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x07, 0x2f, 0x73, 0x6e, 0x61, 0x70, 0x2f, 0x66, 0x00,
    0x00, 0x00, 0x01, 0x78, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1f,
    0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00, 0x00,
    0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x3b, 0x78, 0x35, 0xc6,
    0xff, 0xff, 0xff, 0xff,
};

/* zk_commit: 20 bytes */
static const uint8_t zk_commit[] = {
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* zk_ping: 20 bytes */
static const uint8_t zk_ping[] = {
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* zk_proposal_createsession: 68 bytes */
static const uint8_t zk_proposal_createsession[] = {
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06,
    0x00, 0x00, 0x00, 0x30, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5a, 0x5a,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06,
    0x00, 0x00, 0x01, 0xa2, 0x4a, 0xf2, 0x3c, 0x96, 0xff, 0xff, 0xff, 0xf6,
    0x00, 0x00, 0x17, 0x70, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,
    0x63, 0x1c, 0x21, 0x0e, 0xff, 0xff, 0xff, 0xff,
};

/* zk_revalidate_valid: 29 bytes */
static const uint8_t zk_revalidate_valid[] = {
    0x00, 0x00, 0x00, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x09, 0x03, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x5a, 0x5a, 0x01, 0xff, 0xff, 0xff, 0xff,
};

/* zk_sync: 20 bytes */
static const uint8_t zk_sync[] = {
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* zk_trunc: 20 bytes */
static const uint8_t zk_trunc[] = {
    0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x0c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* zk_diff: 20 bytes */
static const uint8_t zk_diff[] = {
    0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* zk_inform: 114 bytes */
static const uint8_t zk_inform[] = {
    0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x12,
    0x00, 0x00, 0x00, 0x5e, 0x02, 0x00, 0x01, 0x61, 0xca, 0xc7, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x12,
    0x00, 0x00, 0x01, 0xa2, 0x4a, 0xf2, 0x52, 0x74, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x06, 0x2f, 0x6f, 0x62, 0x73, 0x2f, 0x78, 0x00, 0x00,
    0x00, 0x04, 0x73, 0x65, 0x65, 0x6e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00,
    0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05, 0xbd, 0x12,
    0xc3, 0x0b, 0xff, 0xff, 0xff, 0xff,
};

/* zkf_followerinfo: 40 bytes */
static const uint8_t zkf_followerinfo[] = {
    0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
};

/* zkf_ackepoch: 24 bytes */
static const uint8_t zkf_ackepoch[] = {
    0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
};

/* zkf_ack_newleader: 20 bytes */
static const uint8_t zkf_ack_newleader[] = {
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* zkf_request_createsession: 40 bytes */
static const uint8_t zkf_request_createsession[] = {
    0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x14, 0x01, 0x00, 0x01, 0x61,
    0xf3, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
    0xff, 0xf6, 0x00, 0x00, 0x17, 0x70, 0xff, 0xff, 0xff, 0xff,
};

/* zkf_ping_touch: 32 bytes */
static const uint8_t zkf_ping_touch[] = {
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x01, 0x61, 0xf3, 0x09,
    0x00, 0x00, 0x00, 0x00, 0x17, 0x70, 0xff, 0xff, 0xff, 0xff,
};

/* zkf_request_create_auth: 166 bytes */
static const uint8_t zkf_request_create_auth[] = {
    0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x4d, 0x01, 0x00, 0x01, 0x61, 0xf3, 0x09, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0a,
    0x2f, 0x70, 0x61, 0x64, 0x64, 0x6f, 0x63, 0x6b, 0x2f, 0x77, 0x00, 0x00,
    0x00, 0x0c, 0x76, 0x69, 0x61, 0x20, 0x66, 0x6f, 0x6c, 0x6c, 0x6f, 0x77,
    0x65, 0x72, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00,
    0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61,
    0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x06, 0x64, 0x69, 0x67, 0x65, 0x73, 0x74, 0x00,
    0x00, 0x00, 0x24, 0x70, 0x61, 0x64, 0x64, 0x6f, 0x63, 0x6b, 0x3a, 0x70,
    0x41, 0x6b, 0x57, 0x48, 0x66, 0x4d, 0x4e, 0x76, 0x55, 0x32, 0x55, 0x43,
    0x65, 0x46, 0x4e, 0x46, 0x54, 0x64, 0x72, 0x2f, 0x52, 0x70, 0x35, 0x35,
    0x2f, 0x49, 0x3d, 0x00, 0x00, 0x00, 0x02, 0x69, 0x70, 0x00, 0x00, 0x00,
    0x09, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31,
};

/* QuorumMaj.toString() of that run's ensemble, as the notifications,
 * NEWLEADER and /zookeeper/config carry it */
#define CFG                                                                    \
	"server.1=127.0.0.1:37965:33221:participant\n"                         \
	"server.2=127.0.0.1:37249:49925:participant\n"                         \
	"server.3=127.0.0.1:41159:52493:participant\n"                         \
	"server.4=127.0.0.1:44391:42253:observer\n"                            \
	"version=0"

#define V(a) a, sizeof(a)

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */
static size_t be32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;
	p[0] = (uint8_t)(u >> 24);
	p[1] = (uint8_t)(u >> 16);
	p[2] = (uint8_t)(u >> 8);
	p[3] = (uint8_t)u;
	return 4;
}

static size_t be64(uint8_t *p, int64_t v)
{
	be32(p, (int32_t)((uint64_t)v >> 32));
	be32(p + 4, (int32_t)(uint32_t)v);
	return 8;
}

static struct qpkt decode_whole(const uint8_t *p, size_t n)
{
	struct qpkt q;
	assert_int_equal(pw_qpkt_decode(p, n, &q), (long)n);
	return q;
}

/* A notification payload of `len` bytes: the 44-byte 3.8 header filled
 * in, zero padding after it (version/config fields set by the caller). */
static void note_bytes(uint8_t *b, size_t len, int32_t version, int32_t cfglen)
{
	memset(b, 0, len);
	size_t o = 0;
	o += be32(b + o, PW_FOLLOWING);
	o += be64(b + o, 7);
	o += be64(b + o, pw_zxid_make(5, 9));
	o += be64(b + o, 3);
	if (len >= 36)
		o += be64(b + o, 4);
	if (len >= 40)
		o += be32(b + o, version);
	if (len >= 44)
		be32(b + o, cfglen);
}

/* ------------------------------------------------------------------ */
/* election port                                                        */
/* ------------------------------------------------------------------ */
static void test_initmsg_decodes_zookeeper_v1(void **state)
{
	(void)state;
	struct pw_initmsg m;
	assert_int_equal(pw_initmsg_decode(V(zk_initmsg_sid2), &m), 35);
	assert_true(m.version == PW_ELECTION_V1);
	assert_int_equal(m.sid, 2);
	assert_int_equal(m.addr_len, 15);
	assert_memory_equal(m.addr, "127.0.0.1:49925", 15);
	for (size_t n = 0; n < sizeof(zk_initmsg_sid2); n++)
		assert_int_equal(pw_initmsg_decode(zk_initmsg_sid2, n, &m), 0);
}

static void test_initmsg_encode_is_byte_identical(void **state)
{
	(void)state;
	struct jw w = {0};
	assert_int_equal(
	    pw_initmsg_encode(&w, PW_ELECTION_V1, 2, "127.0.0.1:49925"), ZOK);
	assert_int_equal(w.len, sizeof(zk_initmsg_sid2));
	assert_memory_equal(w.p, zk_initmsg_sid2, w.len);
	jw_free(&w);
}

static void test_initmsg_accepts_pre35_and_v2_forms(void **state)
{
	(void)state;
	struct jw w = {0};
	struct pw_initmsg m;
	/* pre-3.5: the sid alone, nothing after it is read */
	assert_int_equal(pw_initmsg_encode(&w, 0, 9, NULL), ZOK);
	jw_bytes(&w, "junk", 4);
	assert_int_equal(pw_initmsg_decode(w.p, w.len, &m), 8);
	assert_int_equal(m.version, 0);
	assert_int_equal(m.sid, 9);
	assert_null(m.addr);
	jw_free(&w);
	/* V2: several addresses; Java's split drops a trailing '|' */
	const char *a = "10.0.0.1:3888|[::1]:3889|h:1|";
	assert_int_equal(pw_initmsg_encode(&w, PW_ELECTION_V2, 4, a), ZOK);
	assert_int_equal(pw_initmsg_decode(w.p, w.len, &m), (long)w.len);
	assert_true(m.version == PW_ELECTION_V2);
	assert_int_equal(m.sid, 4);
	assert_int_equal(m.addr_len, (int32_t)strlen(a));
	jw_free(&w);
}

static void test_initmsg_rejects_what_zookeeper_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "host",	   "host:",    ":1",	 "host:x",  "host:65536",
	    "host:123456", "[::1]",    "[::1]:", "[::1]2",  "[]:1",
	    "a:1:2",	   "a:1||b:2", "|a:1",	 "[::1:80",
	};
	struct pw_initmsg m;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jw w = {0};
		assert_int_equal(
		    pw_initmsg_encode(&w, PW_ELECTION_V1, 1, bad[i]), ZOK);
		assert_int_equal(pw_initmsg_decode(w.p, w.len, &m),
				 ZMARSHALLINGERROR);
		jw_free(&w);
	}
	uint8_t b[32];
	/* unknown negative version: rejected after its 8 bytes */
	be64(b, -65534);
	assert_int_equal(pw_initmsg_decode(b, 8, &m), ZMARSHALLINGERROR);
	/* address length 0 and 2049: rejected before any address byte */
	be64(b, PW_ELECTION_V1);
	be64(b + 8, 1);
	be32(b + 16, 0);
	assert_int_equal(pw_initmsg_decode(b, 20, &m), ZMARSHALLINGERROR);
	be32(b + 16, PW_INITMSG_MAX_ADDR + 1);
	assert_int_equal(pw_initmsg_decode(b, 20, &m), ZMARSHALLINGERROR);
	be32(b + 16, -1);
	assert_int_equal(pw_initmsg_decode(b, 20, &m), ZMARSHALLINGERROR);
	/* encoder refuses what the decoder would refuse */
	struct jw w = {0};
	assert_int_equal(pw_initmsg_encode(&w, -5, 1, "h:1"), ZBADARGUMENTS);
	assert_int_equal(pw_initmsg_encode(&w, PW_ELECTION_V1, 1, ""),
			 ZBADARGUMENTS);
	assert_int_equal(pw_initmsg_encode(&w, 0, -1, NULL), ZBADARGUMENTS);
	assert_int_equal(w.len, 0);
	jw_free(&w);
}

static void check_zk_note(const uint8_t *frame, size_t n, int32_t state)
{
	const uint8_t *pl;
	int32_t len;
	assert_int_equal(pw_eframe_decode(frame, n, &pl, &len), (long)n);
	assert_int_equal(len, PW_NOTIFICATION_HDR + (int32_t)strlen(CFG));
	struct pw_note note;
	assert_int_equal(pw_note_decode(pl, len, &note), ZOK);
	assert_int_equal(note.state, state);
	assert_int_equal(note.leader, 2);
	assert_int_equal(note.zxid, 0);
	assert_int_equal(note.election_epoch, 1);
	assert_int_equal(note.peer_epoch, 1);
	assert_int_equal(note.version, PW_NOTIFICATION_VERSION);
	assert_int_equal(note.config_len, (int32_t)strlen(CFG));
	assert_memory_equal(note.config, CFG, strlen(CFG));

	/* re-encoded: the same bytes, frame length included */
	struct jw w = {0};
	assert_int_equal(pw_note_encode(&w, &note), ZOK);
	assert_int_equal(w.len, n);
	assert_memory_equal(w.p, frame, n);
	jw_free(&w);

	for (size_t k = 0; k < n; k++)
		assert_int_equal(pw_eframe_decode(frame, k, &pl, &len), 0);
}

static void test_note_decodes_zookeeper_following_and_leading(void **state)
{
	(void)state;
	check_zk_note(V(zk_note_following_1), PW_FOLLOWING);
	check_zk_note(V(zk_note_leading_2), PW_LEADING);
}

static void test_note_legacy_lengths_as_zookeeper_38_reads_them(void **st)
{
	(void)st;
	uint8_t b[64];
	struct pw_note n;
	/* 28: no peer epoch: the zxid's epoch stands in */
	note_bytes(b, 28, 0, 0);
	assert_int_equal(pw_note_decode(b, 28, &n), ZOK);
	assert_int_equal(n.peer_epoch, 5);
	assert_int_equal(n.version, 0);
	assert_null(n.config);
	/* 40: the version field is there but 3.8 does not read it */
	note_bytes(b, 40, 2, 0);
	assert_int_equal(pw_note_decode(b, 40, &n), ZOK);
	assert_int_equal(n.peer_epoch, 4);
	assert_int_equal(n.version, 0);
	/* 41..43 with version 1: read, no config */
	note_bytes(b, 43, 1, 0);
	assert_int_equal(pw_note_decode(b, 43, &n), ZOK);
	assert_int_equal(n.version, 1);
	assert_null(n.config);
	/* 44 with version 2 and an empty config */
	note_bytes(b, 44, 2, 0);
	assert_int_equal(pw_note_decode(b, 44, &n), ZOK);
	assert_int_equal(n.version, 2);
	assert_int_equal(n.config_len, 0);
	/* trailing bytes after the config are ignored */
	note_bytes(b, 50, 2, 2);
	assert_int_equal(pw_note_decode(b, 50, &n), ZOK);
	assert_int_equal(n.config_len, 2);
	/* too short for what the length promises: dropped */
	static const int32_t drop[] = {0, 27, 29, 35, 36, 37, 39};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		note_bytes(b, (size_t)drop[i], 2, 0);
		assert_int_equal(pw_note_decode(b, drop[i], &n),
				 ZMARSHALLINGERROR);
	}
	note_bytes(b, 42, 2, 0); /* version 2 but no room for a length */
	assert_int_equal(pw_note_decode(b, 42, &n), ZMARSHALLINGERROR);
	note_bytes(b, 44, 2, 1); /* config longer than what is left */
	assert_int_equal(pw_note_decode(b, 44, &n), ZMARSHALLINGERROR);
	note_bytes(b, 44, 2, -1);
	assert_int_equal(pw_note_decode(b, 44, &n), ZMARSHALLINGERROR);
	note_bytes(b, 44, 2, 45); /* > capacity: IOException in 3.8 */
	assert_int_equal(pw_note_decode(b, 44, &n), ZMARSHALLINGERROR);
	assert_int_equal(pw_note_decode(NULL, 44, &n), ZMARSHALLINGERROR);
	/* a state outside 0..3 decodes; the caller drops it */
	note_bytes(b, 44, 2, 0);
	be32(b, 9);
	assert_int_equal(pw_note_decode(b, 44, &n), ZOK);
	assert_false(pw_note_state_valid(n.state));
}

static void test_eframe_rejects_lengths_recvworker_rejects(void **state)
{
	(void)state;
	uint8_t b[8] = {0};
	const uint8_t *pl;
	int32_t len;
	assert_int_equal(pw_eframe_decode(b, 3, &pl, &len), 0);
	be32(b, 0);
	assert_int_equal(pw_eframe_decode(b, 8, &pl, &len), ZMARSHALLINGERROR);
	be32(b, -4);
	assert_int_equal(pw_eframe_decode(b, 8, &pl, &len), ZMARSHALLINGERROR);
	be32(b, PW_ELECTION_MAX_FRAME + 1);
	assert_int_equal(pw_eframe_decode(b, 4, &pl, &len), ZMARSHALLINGERROR);
	be32(b, 4);
	assert_int_equal(pw_eframe_decode(b, 8, &pl, &len), 8);
	assert_int_equal(len, 4);
	assert_ptr_equal(pl, b + 4);
	/* the encoder refuses a config that would not fit a frame */
	struct pw_note n = {.config = "x", .config_len = PW_ELECTION_MAX_FRAME};
	struct jw w = {0};
	assert_int_equal(pw_note_encode(&w, &n), ZBADARGUMENTS);
	jw_free(&w);
}

/* ------------------------------------------------------------------ */
/* quorum packets                                                       */
/* ------------------------------------------------------------------ */
struct pv {
	const uint8_t *b;
	size_t n;
	int32_t type;
	int64_t zxid;
	int32_t len;
	int32_t nauth;
};

#define PV(a, t, z, l, na)                                                     \
	{                                                                      \
		a, sizeof(a), t, z, l, na                                      \
	}

static const struct pv packets[] = {
    PV(zk_leaderinfo, PW_LEADERINFO, 0x100000000LL, 4, -1),
    PV(zk_snap, PW_SNAP, 0x100000003LL, -1, -1),
    PV(zk_newleader, PW_NEWLEADER, 0x100000000LL, 178, -1),
    PV(zk_uptodate, PW_UPTODATE, -1, -1, -1),
    PV(zk_proposal_create, PW_PROPOSAL, 0x100000004LL, 92, -1),
    PV(zk_commit, PW_COMMIT, 0x100000004LL, -1, -1),
    PV(zk_ping, PW_PING, 0x100000005LL, -1, -1),
    PV(zk_proposal_createsession, PW_PROPOSAL, 0x100000006LL, 48, -1),
    PV(zk_revalidate_valid, PW_REVALIDATE, -1, 9, -1),
    PV(zk_sync, PW_SYNC, 0, -1, -1),
    PV(zk_trunc, PW_TRUNC, 0x10000000cLL, -1, -1),
    PV(zk_diff, PW_DIFF, 0x10000000eLL, -1, -1),
    PV(zk_inform, PW_INFORM, 0x100000012LL, 94, -1),
    PV(zkf_followerinfo, PW_FOLLOWERINFO, 0, 20, -1),
    PV(zkf_ackepoch, PW_ACKEPOCH, 0, 4, -1),
    PV(zkf_ack_newleader, PW_ACK, 0x100000000LL, -1, -1),
    PV(zkf_request_createsession, PW_REQUEST, -1, 20, -1),
    PV(zkf_ping_touch, PW_PING, 0x100000002LL, 12, -1),
    PV(zkf_request_create_auth, PW_REQUEST, -1, 77, 2),
};
#define NPACKETS (sizeof(packets) / sizeof(packets[0]))

static void test_qpkt_decodes_and_reencodes_zookeeper_packets(void **st)
{
	(void)st;
	for (size_t i = 0; i < NPACKETS; i++) {
		const struct pv *v = &packets[i];
		struct qpkt q = decode_whole(v->b, v->n);
		assert_int_equal(q.type, v->type);
		assert_true(q.zxid == v->zxid);
		assert_int_equal(q.len, v->len);
		assert_int_equal(q.nauth, v->nauth);
		if (v->len < 0)
			assert_null(q.data);
		struct jw w = {0};
		assert_int_equal(pw_qpkt_encode(&w, &q), ZOK);
		assert_int_equal(w.len, v->n);
		assert_memory_equal(w.p, v->b, v->n);
		jw_free(&w);
		/* every proper prefix: "give me more" */
		for (size_t k = 0; k < v->n; k++)
			assert_int_equal(pw_qpkt_decode(v->b, k, &q), 0);
	}
	assert_string_equal(pw_qtype_name(PW_INFORMANDACTIVATE),
			    "INFORMANDACTIVATE");
	assert_string_equal(pw_qtype_name(PW_REQUEST), "REQUEST");
	assert_string_equal(pw_qtype_name(0), "UNKNOWN");
	assert_string_equal(pw_qtype_name(20), "UNKNOWN");
}

static void test_qpkt_built_packets_match_zookeeper(void **state)
{
	(void)state;
	/* what a paddock leader sends, built from fields */
	struct jw w = {0};
	uint8_t ver[4];
	be32(ver, PW_ZAB_VERSION);
	struct qpkt q = pw_qpkt(PW_LEADERINFO, pw_zxid_make(1, 0));
	q.data = ver;
	q.len = 4;
	assert_int_equal(pw_qpkt_encode(&w, &q), ZOK);
	q = pw_qpkt(PW_UPTODATE, -1);
	assert_int_equal(pw_qpkt_encode(&w, &q), ZOK);
	q = pw_qpkt(PW_NEWLEADER, pw_zxid_make(1, 0));
	q.data = (const uint8_t *)CFG;
	q.len = (int32_t)strlen(CFG);
	assert_int_equal(pw_qpkt_encode(&w, &q), ZOK);
	size_t a = sizeof(zk_leaderinfo), b = sizeof(zk_uptodate);
	assert_int_equal(w.len, a + b + sizeof(zk_newleader));
	assert_memory_equal(w.p, zk_leaderinfo, a);
	assert_memory_equal(w.p + a, zk_uptodate, b);
	assert_memory_equal(w.p + a + b, zk_newleader, sizeof(zk_newleader));
	jw_free(&w);

	/* what a paddock follower sends */
	assert_int_equal(pw_learnerinfo_encode(&w, 1, PW_ZAB_VERSION, 0), ZOK);
	uint8_t li[20];
	memcpy(li, w.p, 20);
	w.len = 0;
	q = pw_qpkt(PW_FOLLOWERINFO, pw_zxid_make(0, 0));
	q.data = li;
	q.len = 20;
	assert_int_equal(pw_qpkt_encode(&w, &q), ZOK);
	assert_int_equal(w.len, sizeof(zkf_followerinfo));
	assert_memory_equal(w.p, zkf_followerinfo, w.len);
	w.len = 0;
	pw_ping_put(&w, 0x01000161f3090000LL, 6000);
	uint8_t touch[12];
	memcpy(touch, w.p, 12);
	w.len = 0;
	q = pw_qpkt(PW_PING, 0x100000002LL);
	q.data = touch;
	q.len = 12;
	assert_int_equal(pw_qpkt_encode(&w, &q), ZOK);
	assert_memory_equal(w.p, zkf_ping_touch, sizeof(zkf_ping_touch));
	jw_free(&w);
}

static void test_qpkt_rejects_bad_lengths_before_waiting(void **state)
{
	(void)state;
	uint8_t b[32];
	struct qpkt q;
	size_t o = be32(b, PW_PING);
	o += be64(b + o, 1);
	/* data length -2, and one past jute.maxbuffer + extrasize */
	be32(b + o, -2);
	assert_int_equal(pw_qpkt_decode(b, o + 4, &q), ZMARSHALLINGERROR);
	be32(b + o, PW_JUTE_MAXBUFFER + 1);
	assert_int_equal(pw_qpkt_decode(b, o + 4, &q), ZMARSHALLINGERROR);
	be32(b + o, PW_JUTE_MAXBUFFER);
	assert_int_equal(pw_qpkt_decode(b, o + 4, &q), 0); /* may come */
	/* authinfo count -2, and a count no bounded packet could hold */
	be32(b + o, -1);
	be32(b + o + 4, -2);
	assert_int_equal(pw_qpkt_decode(b, o + 8, &q), ZMARSHALLINGERROR);
	be32(b + o + 4, INT32_MAX);
	assert_int_equal(pw_qpkt_decode(b, o + 8, &q), ZMARSHALLINGERROR);
	/* an Id with a bad string length */
	be32(b + o + 4, 1);
	be32(b + o + 8, -7);
	assert_int_equal(pw_qpkt_decode(b, o + 12, &q), ZMARSHALLINGERROR);
	/* the Ids of one packet share one jute.maxbuffer-sized budget */
	size_t big = o + 8 + PW_JUTE_MAXBUFFER + 4;
	uint8_t *m = calloc(1, big);
	assert_non_null(m);
	memcpy(m, b, o);
	be32(m + o, -1);
	be32(m + o + 4, 1);
	be32(m + o + 8, PW_JUTE_MAXBUFFER - 4); /* scheme: all but 4 */
	be32(m + big - 4, 1);			/* id: 1 byte: too many */
	assert_int_equal(pw_qpkt_decode(m, big, &q), ZMARSHALLINGERROR);
	be32(m + big - 4, 0); /* id: empty: fits */
	assert_int_equal(pw_qpkt_decode(m, big, &q), (long)big);
	assert_int_equal(q.auth_len, PW_JUTE_MAXBUFFER + 4);
	free(m);
	/* empty vector and empty buffer are not null */
	be32(b + o, 0);
	be32(b + o + 4, 0);
	assert_int_equal(pw_qpkt_decode(b, o + 8, &q), (long)(o + 8));
	assert_int_equal(q.len, 0);
	assert_non_null(q.data);
	assert_int_equal(q.nauth, 0);
	/* encoder arguments */
	struct jw w = {0};
	struct qpkt e = pw_qpkt(PW_ACK, 1);
	e.len = 3;
	assert_int_equal(pw_qpkt_encode(&w, &e), ZBADARGUMENTS);
	e = pw_qpkt(PW_ACK, 1);
	e.nauth = -2;
	assert_int_equal(pw_qpkt_encode(&w, &e), ZBADARGUMENTS);
	e = pw_qpkt(PW_ACK, 1);
	e.nauth = 1;
	e.auth_len = 4;
	assert_int_equal(pw_qpkt_encode(&w, &e), ZBADARGUMENTS);
	assert_int_equal(w.len, 0);
	jw_free(&w);
}

static void test_request_with_authinfo_from_zookeeper_follower(void **st)
{
	(void)st;
	struct qpkt q = decode_whole(V(zkf_request_create_auth));
	size_t off = 0;
	struct pw_id id;
	assert_int_equal(pw_id_next(&q, &off, &id), 1);
	assert_int_equal(id.scheme_len, 6);
	assert_memory_equal(id.scheme, "digest", 6);
	static const char dig[] = "paddock:pAkWHfMNvU2UCeFNFTdr/Rp55/I=";
	assert_int_equal(id.id_len, (int32_t)strlen(dig));
	assert_memory_equal(id.id, dig, strlen(dig));
	assert_int_equal(pw_id_next(&q, &off, &id), 1);
	assert_memory_equal(id.scheme, "ip", 2);
	assert_memory_equal(id.id, "127.0.0.1", 9);
	assert_int_equal(pw_id_next(&q, &off, &id), 0);

	struct pw_request r;
	assert_int_equal(pw_request_decode(q.data, q.len, &r), ZOK);
	assert_true(r.session == 0x01000161f3090000LL);
	assert_int_equal(r.cxid, 2);
	assert_int_equal(r.type, ZOP_CREATE);
	assert_int_equal(r.body_len, 61);
	assert_memory_equal(r.body, "\0\0\0\x0a/paddock/w", 14);

	/* re-encode the ids: the same authinfo region */
	struct pw_id ids[2] = {{"digest", -1, dig, -1},
			       {"ip", -1, "127.0.0.1", -1}};
	struct jw w = {0};
	assert_int_equal(pw_auth_encode(&w, ids, 2), ZOK);
	assert_int_equal(w.len, q.auth_len);
	assert_memory_equal(w.p, q.auth, q.auth_len);
	jw_free(&w);

	q = decode_whole(V(zkf_request_createsession));
	assert_int_equal(pw_request_decode(q.data, q.len, &r), ZOK);
	assert_true(r.session == 0x01000161f3090000LL);
	assert_int_equal(r.cxid, 0);
	assert_int_equal(r.type, ZOP_CREATESESSION);
	assert_int_equal(r.body_len, 4); /* the session timeout */
	int32_t to;
	assert_int_equal(pw_int_payload_decode(r.body, r.body_len, &to), ZOK);
	assert_int_equal(to, 6000);

	struct pw_request rr = {r.session, 0, ZOP_CREATESESSION, r.body, 4};
	assert_int_equal(pw_request_encode(&w, &rr), ZOK);
	assert_int_equal(w.len, 20);
	assert_memory_equal(w.p, q.data, 20);
	jw_free(&w);
	rr.body = NULL;
	assert_int_equal(pw_request_encode(&w, &rr), ZBADARGUMENTS);
	assert_int_equal(pw_request_decode(q.data, 15, &r), ZMARSHALLINGERROR);
}

static void test_handshake_payloads_of_zookeeper_follower(void **state)
{
	(void)state;
	struct qpkt q = decode_whole(V(zkf_followerinfo));
	struct pw_learnerinfo li;
	pw_learnerinfo_decode(q.data, q.len, &li);
	assert_true(li.has_sid && li.has_config);
	assert_int_equal(li.sid, 1);
	assert_int_equal(li.protocol_version, PW_ZAB_VERSION);
	assert_int_equal(li.config_version, 0);
	/* shorter LearnerInfo as LearnerHandler reads it */
	pw_learnerinfo_decode(q.data, 12, &li);
	assert_true(li.has_sid && !li.has_config);
	assert_int_equal(li.protocol_version, PW_ZAB_VERSION);
	pw_learnerinfo_decode(q.data, 8, &li);
	assert_true(li.has_sid);
	assert_int_equal(li.protocol_version, 1);
	pw_learnerinfo_decode(NULL, -1, &li);
	assert_false(li.has_sid);

	int32_t v;
	q = decode_whole(V(zkf_ackepoch));
	assert_int_equal(pw_int_payload_decode(q.data, q.len, &v), ZOK);
	assert_int_equal(v, 0); /* its currentEpoch */
	q = decode_whole(V(zk_leaderinfo));
	assert_int_equal(pw_int_payload_decode(q.data, q.len, &v), ZOK);
	assert_int_equal(v, PW_ZAB_VERSION);
	assert_int_equal(pw_int_payload_decode(q.data, 3, &v),
			 ZMARSHALLINGERROR);
	q = decode_whole(V(zk_newleader));
	assert_memory_equal(q.data, CFG, strlen(CFG));
}

static void test_ping_touches_and_revalidate(void **state)
{
	(void)state;
	struct qpkt q = decode_whole(V(zkf_ping_touch));
	assert_int_equal(pw_ping_count(q.data, q.len), 1);
	int64_t s;
	int32_t to;
	pw_ping_get(q.data, 0, &s, &to);
	assert_true(s == 0x01000161f3090000LL);
	assert_int_equal(to, 6000);
	assert_int_equal(pw_ping_count(q.data, 11), ZMARSHALLINGERROR);
	assert_int_equal(pw_ping_count(q.data, 0), 0);
	q = decode_whole(V(zk_ping)); /* the leader's: null data */
	assert_int_equal(pw_ping_count(q.data, q.len), 0);

	q = decode_whole(V(zk_revalidate_valid));
	bool valid = false;
	assert_int_equal(pw_revalidate_ans_decode(q.data, q.len, &s, &valid),
			 ZOK);
	assert_true(s == 0x0300000000005a5aLL);
	assert_true(valid);
	assert_int_equal(pw_revalidate_ans_decode(q.data, 8, &s, &valid),
			 ZMARSHALLINGERROR);
	uint8_t b[12];
	be64(b, 77);
	be32(b + 8, 4000);
	assert_int_equal(pw_revalidate_req_decode(b, 12, &s, &to), ZOK);
	assert_int_equal(s, 77);
	assert_int_equal(to, 4000);
	assert_int_equal(pw_revalidate_req_decode(b, 11, &s, &to),
			 ZMARSHALLINGERROR);

	/* what paddock sends: a learner's question, a leader's answer
	 * byte-identical to the ZooKeeper leader's */
	struct jw w = {0};
	pw_revalidate_req_put(&w, 77, 4000);
	assert_int_equal(w.len, 12);
	assert_memory_equal(w.p, b, 12);
	w.len = 0;
	pw_revalidate_ans_put(&w, 0x0300000000005a5aLL, true);
	uint8_t ans[9];
	assert_int_equal(w.len, sizeof(ans));
	memcpy(ans, w.p, sizeof(ans));
	w.len = 0;
	struct qpkt a = pw_qpkt(PW_REVALIDATE, -1);
	a.data = ans;
	a.len = sizeof(ans);
	assert_int_equal(pw_qpkt_encode(&w, &a), ZOK);
	assert_int_equal(w.len, sizeof(zk_revalidate_valid));
	assert_memory_equal(w.p, zk_revalidate_valid, w.len);
	jw_free(&w);
}

/* ------------------------------------------------------------------ */
/* quorum stream: packets back to back                                 */
/* ------------------------------------------------------------------ */
/* Every captured packet, back to back, as one connection's input. */
static uint8_t *packet_stream(size_t *n)
{
	size_t total = 0;
	for (size_t i = 0; i < NPACKETS; i++)
		total += packets[i].n;
	uint8_t *s = malloc(total);
	assert_non_null(s);
	size_t o = 0;
	for (size_t i = 0; i < NPACKETS; i++) {
		memcpy(s + o, packets[i].b, packets[i].n);
		o += packets[i].n;
	}
	*n = total;
	return s;
}

/* Cut s[0..n) into packets as if it arrived `chunk` bytes at a time,
 * the way peer.c does (keep what is not consumed, decode from its
 * start).  The count, or the error that stopped it. */
static int cut(const uint8_t *s, size_t n, size_t chunk, struct qpkt *out,
	       int max)
{
	size_t have = 0, used = 0;
	int k = 0;
	while (used < n) {
		long r = pw_qpkt_decode(s + used, have - used, &out[k]);
		if (r < 0)
			return (int)r;
		if (r == 0) {
			if (have == n)
				return -1000; /* stuck */
			have = have + chunk > n ? n : have + chunk;
			continue;
		}
		assert_true(k < max);
		used += (size_t)r;
		k++;
	}
	return k;
}

static void test_stream_cuts_zookeeper_packets_any_chunking(void **st)
{
	(void)st;
	size_t n;
	uint8_t *s = packet_stream(&n);
	static const size_t chunks[] = {1, 2, 3, 7, 64, 100000};
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct qpkt q[NPACKETS];
		assert_int_equal(cut(s, n, chunks[c], q, (int)NPACKETS),
				 (int)NPACKETS);
		for (size_t i = 0; i < NPACKETS; i++) {
			assert_int_equal(q[i].type, packets[i].type);
			assert_true(q[i].zxid == packets[i].zxid);
			assert_int_equal(q[i].len, packets[i].len);
			assert_int_equal(q[i].nauth, packets[i].nauth);
		}
	}
	/* a bad length after good packets stops the stream there */
	uint8_t *b = malloc(n + 16);
	assert_non_null(b);
	memcpy(b, s, n);
	size_t o = n;
	o += be32(b + o, PW_PING);
	o += be64(b + o, 1);
	o += be32(b + o, -2);
	struct qpkt q[NPACKETS + 1];
	assert_int_equal(cut(b, o, 7, q, (int)NPACKETS + 1), ZMARSHALLINGERROR);
	free(b);
	free(s);
}

static void test_stream_stops_at_the_end_of_snap(void **state)
{
	(void)state;
	/* SNAP, an empty snapshot (no sessions, no ACLs, "/",
	 * "BenWasHere"), NEWLEADER, UPTODATE: the decoder consumes exactly
	 * the SNAP packet; the snapshot is the caller's (peer.c hands it to
	 * ops->snap), and packets are cut again from the byte after it */
	uint8_t b[sizeof(zk_snap) + 64 + sizeof(zk_newleader) +
		  sizeof(zk_uptodate)];
	size_t o = 0;
	memcpy(b, zk_snap, sizeof(zk_snap));
	o += sizeof(zk_snap);
	size_t snap_at = o;
	o += be32(b + o, 0);
	o += be32(b + o, 0);
	o += be32(b + o, 1);
	b[o++] = '/';
	o += be32(b + o, 10);
	memcpy(b + o, "BenWasHere", 10);
	o += 10;
	size_t after = o;
	memcpy(b + o, zk_newleader, sizeof(zk_newleader));
	o += sizeof(zk_newleader);
	memcpy(b + o, zk_uptodate, sizeof(zk_uptodate));
	o += sizeof(zk_uptodate);

	struct qpkt q[2];
	assert_int_equal(pw_qpkt_decode(b, o, &q[0]), (long)snap_at);
	assert_int_equal(q[0].type, PW_SNAP);
	assert_true(q[0].zxid == 0x100000003LL);
	static const size_t chunks[] = {1, 3, 64};
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		assert_int_equal(cut(b + after, o - after, chunks[c], q, 2), 2);
		assert_int_equal(q[0].type, PW_NEWLEADER);
		assert_int_equal(q[1].type, PW_UPTODATE);
	}
}

/* Ids of null strings take 8 bytes each and no budget of their own:
 * after a scheme that used the whole budget they must not add more. */
static void test_null_ids_do_not_exceed_the_authinfo_bound(void **state)
{
	(void)state;
	int extra = 1000;
	size_t n = 4 + 8 + 4 + 4 + 4 + PW_JUTE_MAXBUFFER - 4 + 4 +
		   (size_t)extra * 8;
	uint8_t *b = calloc(1, n);
	assert_non_null(b);
	size_t o = be32(b, PW_PROPOSAL);
	o += be64(b + o, 1);
	o += be32(b + o, 0); /* data: empty */
	o += be32(b + o, 1 + extra);
	o += be32(b + o, PW_JUTE_MAXBUFFER - 4); /* scheme */
	o += PW_JUTE_MAXBUFFER - 4;
	o += be32(b + o, 0); /* id: empty */
	for (int i = 0; i < extra; i++) {
		o += be32(b + o, (uint32_t)-1);
		o += be32(b + o, (uint32_t)-1);
	}
	assert_int_equal(o, n);
	struct qpkt q;
	assert_int_equal(pw_qpkt_decode(b, n, &q), ZMARSHALLINGERROR);
	free(b);
}

static void test_largest_packet_fits_rx_max_item(void **state)
{
	(void)state;
	/* data of jute.maxbuffer + extrasize bytes and one Id that takes
	 * the whole authinfo budget (PW_JUTE_MAXBUFFER + 4 bytes): the
	 * largest packet peer.c's input buffer must hold */
	size_t n = 4 + 8 + 4 + PW_JUTE_MAXBUFFER + 4 + PW_JUTE_MAXBUFFER + 4;
	assert_true(n <= PW_RX_MAX_ITEM);
	uint8_t *b = calloc(1, n);
	assert_non_null(b);
	size_t o = be32(b, PW_PROPOSAL);
	o += be64(b + o, 1);
	o += be32(b + o, PW_JUTE_MAXBUFFER);
	o += PW_JUTE_MAXBUFFER;
	o += be32(b + o, 1);
	o += be32(b + o, PW_JUTE_MAXBUFFER - 4); /* scheme */
	o += PW_JUTE_MAXBUFFER - 4;
	o += be32(b + o, 0); /* id: empty */
	assert_int_equal(o, n);
	struct qpkt q;
	assert_int_equal(pw_qpkt_decode(b, n, &q), (long)n);
	assert_int_equal(q.len, PW_JUTE_MAXBUFFER);
	assert_int_equal(q.auth_len, PW_JUTE_MAXBUFFER + 4);
	assert_int_equal(pw_qpkt_decode(b, n - 1, &q), 0);
	free(b);
}

/* ------------------------------------------------------------------ */
/* garbage                                                              */
/* ------------------------------------------------------------------ */
static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Run every decoder over b[0..n); results are not checked, only that
 * nothing reads out of bounds (ASan) or loops. */
static void all_decoders(const uint8_t *b, size_t n)
{
	struct qpkt q;
	struct pw_initmsg m;
	struct pw_note note;
	struct pw_learnerinfo li;
	struct pw_request r;
	const uint8_t *pl;
	int32_t len, i32;
	int64_t s;
	bool v;
	int32_t k = n > INT32_MAX ? INT32_MAX : (int32_t)n;
	if (pw_qpkt_decode(b, n, &q) > 0) {
		size_t off = 0;
		struct pw_id id;
		while (pw_id_next(&q, &off, &id) > 0)
			;
	}
	(void)pw_initmsg_decode(b, n, &m);
	(void)pw_eframe_decode(b, n, &pl, &len);
	(void)pw_note_decode(b, k, &note);
	pw_learnerinfo_decode(b, k, &li);
	(void)pw_int_payload_decode(b, k, &i32);
	(void)pw_request_decode(b, k, &r);
	if (pw_ping_count(b, k) > 0)
		pw_ping_get(b, pw_ping_count(b, k) - 1, &s, &i32);
	(void)pw_revalidate_req_decode(b, k, &s, &i32);
	(void)pw_revalidate_ans_decode(b, k, &s, &v);
	/* packets back to back, as a quorum connection cuts them */
	size_t used = 0;
	long got;
	while (used < n && (got = pw_qpkt_decode(b + used, n - used, &q)) > 0)
		used += (size_t)got;
}

static void test_garbage_and_mutations_never_crash(void **state)
{
	(void)state;
	uint32_t seed = 12345;
	for (int round = 0; round < 3000; round++) {
		size_t n = lcg(&seed) % 96;
		uint8_t *b = malloc(n ? n : 1); /* exact size: ASan sees
						   any overread */
		assert_non_null(b);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)lcg(&seed);
		/* small lengths and valid types now and then */
		if (n >= 4 && round % 3 == 0)
			be32(b, (int32_t)(lcg(&seed) % 24));
		if (n >= 16 && round % 5 == 0)
			be32(b + 12, (int32_t)(lcg(&seed) % 40) - 2);
		all_decoders(b, n);
		free(b);
	}
	/* every captured vector with each byte replaced, and cut short */
	size_t sn;
	uint8_t *stream = packet_stream(&sn);
	for (size_t pos = 0; pos < sn; pos++) {
		uint8_t *b = malloc(sn);
		assert_non_null(b);
		memcpy(b, stream, sn);
		static const uint8_t vals[] = {0x00, 0x7f, 0x80, 0xff};
		for (size_t j = 0; j < sizeof(vals); j++) {
			b[pos] = vals[j];
			all_decoders(b, sn);
		}
		all_decoders(b, pos);
		free(b);
	}
	free(stream);
	for (size_t i = 0; i < NPACKETS; i++) {
		for (size_t pos = 0; pos < packets[i].n; pos++) {
			uint8_t *b = malloc(packets[i].n);
			assert_non_null(b);
			memcpy(b, packets[i].b, packets[i].n);
			b[pos] ^= 0xff;
			all_decoders(b, packets[i].n);
			all_decoders(b + pos, packets[i].n - pos);
			free(b);
		}
	}
	const uint8_t *notes[] = {zk_note_following_1, zk_note_leading_2};
	for (size_t i = 0; i < 2; i++) {
		size_t n = sizeof(zk_note_following_1);
		for (size_t pos = 0; pos < n; pos++) {
			uint8_t *b = malloc(n);
			assert_non_null(b);
			memcpy(b, notes[i], n);
			b[pos] ^= 0x80;
			all_decoders(b, n);
			all_decoders(b + 4, n - 4);
			free(b);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_initmsg_decodes_zookeeper_v1),
	    cmocka_unit_test(test_initmsg_encode_is_byte_identical),
	    cmocka_unit_test(test_initmsg_accepts_pre35_and_v2_forms),
	    cmocka_unit_test(test_initmsg_rejects_what_zookeeper_rejects),
	    cmocka_unit_test(test_note_decodes_zookeeper_following_and_leading),
	    cmocka_unit_test(
		test_note_legacy_lengths_as_zookeeper_38_reads_them),
	    cmocka_unit_test(test_eframe_rejects_lengths_recvworker_rejects),
	    cmocka_unit_test(test_qpkt_decodes_and_reencodes_zookeeper_packets),
	    cmocka_unit_test(test_qpkt_built_packets_match_zookeeper),
	    cmocka_unit_test(test_qpkt_rejects_bad_lengths_before_waiting),
	    cmocka_unit_test(
		test_request_with_authinfo_from_zookeeper_follower),
	    cmocka_unit_test(test_handshake_payloads_of_zookeeper_follower),
	    cmocka_unit_test(test_ping_touches_and_revalidate),
	    cmocka_unit_test(test_stream_cuts_zookeeper_packets_any_chunking),
	    cmocka_unit_test(test_stream_stops_at_the_end_of_snap),
	    cmocka_unit_test(test_largest_packet_fits_rx_max_item),
	    cmocka_unit_test(test_null_ids_do_not_exceed_the_authinfo_bound),
	    cmocka_unit_test(test_garbage_and_mutations_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
