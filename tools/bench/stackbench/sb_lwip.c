/*
 * sb_lwip.c — stack-bench's lwIP server: Debian's lwIP 2.1.3 through its
 * raw API, driven from the caller's loop (lwip_init, never tcpip_init;
 * packets into netif->input, sys_check_timeouts per round).  The netif
 * has no Ethernet (no ARP): packets in through ip_input, out through
 * netif->output.  The app answers each request from its receive callback
 * with reply_len bytes, Nagle off.
 */
#include <string.h>
#include <lwip/init.h>
#include <lwip/ip.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/tcp.h>
#include <lwip/timeouts.h>

#include "sb.h"

static struct netif nif;
static sb_out_fn g_out;
static size_t g_reply;
static char g_buf[2048], g_rep[2048];

static err_t nif_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
	(void)n;
	(void)a;
	if (p->tot_len > sizeof(g_buf))
		return ERR_BUF;
	if (p->next == NULL) {
		g_out(p->payload, p->tot_len);
	} else {
		pbuf_copy_partial(p, g_buf, p->tot_len, 0);
		g_out(g_buf, p->tot_len);
	}
	return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
	n->mtu = 1500;
	n->name[0] = 's';
	n->name[1] = 'b';
	n->output = nif_output;
	n->flags = NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (!p) {
		tcp_recv(pcb, NULL);
		tcp_close(pcb);
		return ERR_OK;
	}
	u16_t got = p->tot_len;
	pbuf_free(p);
	tcp_recved(pcb, got);
	/* one reply per request (requests arrive whole: one per segment) */
	if (tcp_write(pcb, g_rep, (u16_t)g_reply, TCP_WRITE_FLAG_COPY) == ERR_OK)
		tcp_output(pcb);
	return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	tcp_nagle_disable(pcb);
	tcp_recv(pcb, on_recv);
	return ERR_OK;
}

static int lw_start(sb_out_fn out, size_t reply_len)
{
	ip4_addr_t ip, mask, gw;

	g_out = out;
	g_reply = reply_len;
	memset(g_rep, 'r', sizeof(g_rep));
	lwip_init();
	ip.addr = lwip_htonl(SB_SRV_IP);
	mask.addr = lwip_htonl(0xffffff00u);
	gw.addr = 0;
	if (!netif_add(&nif, &ip, &mask, &gw, NULL, nif_init, ip_input))
		return -1;
	netif_set_default(&nif);
	netif_set_up(&nif);
	struct tcp_pcb *l = tcp_new();
	if (!l || tcp_bind(l, IP_ADDR_ANY, SB_SRV_PORT) != ERR_OK)
		return -1;
	l = tcp_listen_with_backlog(l, 255);
	tcp_accept(l, on_accept);
	return 0;
}

static void lw_input(const void *pkt, size_t len)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
	if (!p)
		return;
	pbuf_take(p, pkt, (u16_t)len);
	if (nif.input(p, &nif) != ERR_OK)
		pbuf_free(p);
}

static void lw_poll(void)
{
	sys_check_timeouts();
}

const struct sb_stack sb_lwip = {"lwIP 2.1.3 (Debian)", lw_start, lw_input,
				 lw_poll};
