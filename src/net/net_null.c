/* src/net/net_null.c: the net layer of a build without UCX
 * (CHI_ENABLE_UCX=OFF or no libucx-dev): the same API, no cluster. A
 * runtime with cluster.node set refuses to start with the reason; every
 * forward finds no such node. */
#include <errno.h>
#include <stdio.h>

#include "net/net.h"

int chi_net_start(const chi_config *cfg, uint64_t epoch, chi_client *local, chi_net **out,
		  char *err, size_t errlen)
{
	(void)cfg;
	(void)epoch;
	(void)local;
	if (out)
		*out = NULL;
	if (err && errlen)
		snprintf(err, errlen, "built without UCX (CHI_ENABLE_UCX)");
	return -ENOTSUP;
}

void chi_net_stop(chi_net *n)
{
	(void)n;
}

uint32_t chi_net_node(const chi_net *n)
{
	(void)n;
	return 0;
}

int chi_net_forward(chi_net *n, uint32_t node, const uint8_t *wire, uint32_t len,
		    const chi_net_target *t)
{
	(void)n;
	(void)node;
	(void)wire;
	(void)len;
	(void)t;
	return -EHOSTUNREACH;
}

uint32_t chi_net_peers(chi_net *n, chi_net_peer_info *out, uint32_t max)
{
	(void)n;
	(void)out;
	(void)max;
	return 0;
}

void chi_net_served_done(chi_net *n, uint64_t off)
{
	(void)n;
	(void)off;
}
