/* src/net/msg.c: encoding and the strict decoder of the net messages; the
 * layouts and the decoder's errors are in msg.h. No UCX here: the decoder
 * is built into every libchi, tested by tests/test_net_msg.c and fuzzed by
 * fuzz/fuzz_net_msg.c. */
#include <errno.h>
#include <string.h>

#include "net/msg.h"

/* fixed part of each type after the header; REQ and REP then carry data */
static const uint32_t fixed[CHI_NET_NTYPES] = {
	[CHI_NET_CHALLENGE] = 8 + CHI_NET_NONCE,
	[CHI_NET_HELLO] = 16 + CHI_NET_NONCE + CHI_NET_MAC,
	[CHI_NET_WELCOME] = 8 + CHI_NET_MAC,
	[CHI_NET_REFUSED] = 8 + CHI_NET_REASON,
	[CHI_NET_REQ] = CHI_NET_REQ_HDR - CHI_NET_HDR,
	[CHI_NET_REP] = CHI_NET_REP_HDR - CHI_NET_HDR,
	[CHI_NET_PING] = 16,
	[CHI_NET_PONG] = 16,
	[CHI_NET_BYE] = 8,
};

static const char *const names[CHI_NET_NTYPES] = {
	[CHI_NET_CHALLENGE] = "CHALLENGE", [CHI_NET_HELLO] = "HELLO", [CHI_NET_WELCOME] = "WELCOME",
	[CHI_NET_REFUSED] = "REFUSED",     [CHI_NET_REQ] = "REQ",     [CHI_NET_REP] = "REP",
	[CHI_NET_PING] = "PING",           [CHI_NET_PONG] = "PONG",   [CHI_NET_BYE] = "BYE",
};

const char *chi_net_type_name(uint32_t type)
{
	return type > 0 && type < CHI_NET_NTYPES ? names[type] : "?";
}

uint32_t chi_net_msg_size(uint32_t type, uint32_t data_len)
{
	if (type == 0 || type >= CHI_NET_NTYPES)
		return 0;
	uint32_t n = CHI_NET_HDR + fixed[type];
	if (type == CHI_NET_REQ || type == CHI_NET_REP)
		n += data_len;
	return n;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}
static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

uint32_t chi_net_msg_encode(void *buf, const chi_net_msg *m)
{
	uint8_t *b = (uint8_t *)buf;
	uint32_t len = chi_net_msg_size(m->type, m->data_len);
	put32(b, CHI_NET_MAGIC);
	uint16_t ver = (uint16_t)(m->version ? m->version : CHI_NET_WIRE_VERSION);
	uint16_t type = (uint16_t)m->type;
	memcpy(b + 4, &ver, 2);
	memcpy(b + 6, &type, 2);
	put32(b + 8, len);
	put32(b + 12, m->node);
	uint8_t *f = b + CHI_NET_HDR;
	memset(f, 0, fixed[m->type]);
	switch (m->type) {
	case CHI_NET_CHALLENGE:
		put32(f, m->ucx);
		memcpy(f + 8, m->nonce, CHI_NET_NONCE);
		break;
	case CHI_NET_HELLO:
		put32(f, m->ucx);
		put64(f + 8, m->epoch);
		memcpy(f + 16, m->nonce, CHI_NET_NONCE);
		memcpy(f + 16 + CHI_NET_NONCE, m->mac, CHI_NET_MAC);
		break;
	case CHI_NET_WELCOME:
		put64(f, m->epoch);
		memcpy(f + 8, m->mac, CHI_NET_MAC);
		break;
	case CHI_NET_REFUSED:
		put32(f, (uint32_t)m->code);
		put32(f + 4, m->ucx);
		if (m->reason) {
			size_t n = strnlen(m->reason, CHI_NET_REASON - 1);
			memcpy(f + 8, m->reason, n);
		}
		break;
	case CHI_NET_REQ:
		put64(f, m->id);
		put64(f + 8, m->epoch);
		if (m->data)
			memcpy(f + 16, m->data, m->data_len);
		break;
	case CHI_NET_REP:
		put64(f, m->id);
		put64(f + 8, m->epoch);
		put64(f + 16, (uint64_t)m->result);
		put32(f + 24, m->data_len);
		if (m->data)
			memcpy(f + 32, m->data, m->data_len);
		break;
	case CHI_NET_PING:
	case CHI_NET_PONG:
		put64(f, m->t_ns);
		put64(f + 8, m->epoch);
		break;
	case CHI_NET_BYE:
		put64(f, m->epoch);
		break;
	}
	return len;
}

uint32_t chi_net_msg_first(const void *buf, size_t len)
{
	if (!buf || len < CHI_NET_HDR)
		return 0;
	uint32_t l = get32((const uint8_t *)buf + 8);
	return l >= CHI_NET_HDR && l <= len ? l : 0;
}

int chi_net_msg_decode(const void *buf, size_t len, uint64_t max_task_size, chi_net_msg *m)
{
	const uint8_t *b = (const uint8_t *)buf;
	memset(m, 0, sizeof(*m));
	if (!b || len < CHI_NET_HDR || get32(b) != CHI_NET_MAGIC)
		return -EBADMSG;
	uint16_t ver, type;
	memcpy(&ver, b + 4, 2);
	memcpy(&type, b + 6, 2);
	m->version = ver;
	m->type = type;
	m->len = get32(b + 8);
	m->node = get32(b + 12);
	if (m->len != len || type == 0 || type >= CHI_NET_NTYPES)
		return -EBADMSG;
	/* CHALLENGE and REFUSED decode in every version (msg.h) */
	if (ver != CHI_NET_WIRE_VERSION && type != CHI_NET_CHALLENGE && type != CHI_NET_REFUSED)
		return -EPROTONOSUPPORT;
	if (len < CHI_NET_HDR + fixed[type])
		return -EBADMSG;
	const uint8_t *f = b + CHI_NET_HDR;
	size_t rest = len - CHI_NET_HDR - fixed[type]; /* payload bytes */
	if (rest && type != CHI_NET_REQ && type != CHI_NET_REP)
		return -EBADMSG;
	switch (type) {
	case CHI_NET_CHALLENGE:
		m->ucx = get32(f);
		m->nonce = f + 8;
		break;
	case CHI_NET_HELLO:
		m->ucx = get32(f);
		m->epoch = get64(f + 8);
		m->nonce = f + 16;
		m->mac = f + 16 + CHI_NET_NONCE;
		break;
	case CHI_NET_WELCOME:
		m->epoch = get64(f);
		m->mac = f + 8;
		break;
	case CHI_NET_REFUSED:
		m->code = (int32_t)get32(f);
		m->ucx = get32(f + 4);
		if (!memchr(f + 8, 0, CHI_NET_REASON))
			return -EBADMSG;
		m->reason = (const char *)(f + 8);
		break;
	case CHI_NET_REQ:
		m->id = get64(f);
		m->epoch = get64(f + 8);
		if (rest < sizeof(chi_task))
			return -EBADMSG;
		memcpy(&m->task, f + 16, sizeof(chi_task));
		if (m->task.in_size > max_task_size || m->task.out_size > max_task_size)
			return -EMSGSIZE;
		if ((uint64_t)sizeof(chi_task) + m->task.in_size != rest)
			return -EBADMSG;
		m->data = f + 16;
		m->data_len = (uint32_t)rest;
		break;
	case CHI_NET_REP:
		m->id = get64(f);
		m->epoch = get64(f + 8);
		m->result = (int64_t)get64(f + 16);
		m->data_len = get32(f + 24);
		if (m->data_len > max_task_size)
			return -EMSGSIZE;
		if (m->data_len != rest || (m->result < 0 && rest))
			return -EBADMSG;
		m->data = f + 32;
		break;
	case CHI_NET_PING:
	case CHI_NET_PONG:
		m->t_ns = get64(f);
		m->epoch = get64(f + 8);
		break;
	case CHI_NET_BYE:
		m->epoch = get64(f);
		break;
	}
	return 0;
}
