/*
 * sb.h — stack-bench: the per-request cost of a server TCP/IP stack,
 * measured in memory (issue 15: "decide the stack by measurement").
 *
 * A synthetic client (sb_main.c) drives a server stack with raw IPv4
 * packets: no NIC, no DPDK, no syscall, so the numbers are the stacks'
 * own CPU per request on one core.  Two stacks sit behind struct
 * sb_stack: Debian's lwIP 2.1.3 through its raw API (sb_lwip.c, a
 * translation unit of its own: lwIP's headers clash with the system's),
 * and sb_own.c, the fast path of the lean TCP paddock would write
 * (preallocated connection table, nothing allocated per packet).  The
 * latter is a measuring prototype, not the product's stack: it has no
 * retransmission, FIN or RST handling.  Results and the decision:
 * dataplane/PROTOCOL.md §9, BENCHMARKS.md.
 */
#ifndef PADDOCK_SB_H
#define PADDOCK_SB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SB_SRV_IP 0x0a000001u /* 10.0.0.1 */
#define SB_CLI_IP 0x0a000002u
#define SB_SRV_PORT 2181

/* the server stack hands each packet it sends to this */
typedef void (*sb_out_fn)(const void *pkt, size_t len);

struct sb_stack {
	const char *name;
	/* once per process (lwIP's state is global) */
	int (*start)(sb_out_fn out, size_t reply_len);
	void (*input)(const void *pkt, size_t len);
	void (*poll)(void); /* timers, once per round of all connections */
};

extern const struct sb_stack sb_lwip, sb_own;

/* RFC 1071 checksum of p, added to sum (a pseudo-header's); network
 * order */
uint16_t sb_csum(const void *p, size_t len, uint32_t sum);
/* the TCP pseudo-header's sum (addresses in host order) */
uint32_t sb_pseudo(uint32_t src, uint32_t dst, uint16_t tcplen);

static inline uint16_t sb_get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t sb_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void sb_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static inline void sb_put32(unsigned char *p, uint32_t v)
{
	sb_put16(p, (uint16_t)(v >> 16));
	sb_put16(p + 2, (uint16_t)v);
}

/* a checksum as sb_csum returns it, stored in place */
static inline void sb_put_csum(unsigned char *p, uint16_t c)
{
	memcpy(p, &c, sizeof(c));
}

#endif
