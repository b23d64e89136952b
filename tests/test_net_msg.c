/* tests/test_net_msg.c: the net messages' strict decoder (src/net/msg.h).
 * Every type round trips through encode and decode with its fields intact;
 * then each way a message can lie is rejected with its own error: too
 * short for its type, wrong magic, unknown type, a len that disagrees with
 * the bytes, trailing bytes, another wire version (-EPROTONOSUPPORT, with
 * that version reported; CHALLENGE and REFUSED still decode), a REQ whose
 * task header's in_size does not add up, sizes above max_task_size
 * (-EMSGSIZE, the request id still reported so it can be answered), a REP
 * with bytes and an error, a REFUSED reason without its NUL. Every
 * truncation of every valid message is rejected. A batch (several messages
 * in one active message) splits with chi_net_msg_first into exactly the
 * messages put in, each decoding to its fields; a len that overruns the
 * batch or is shorter than a header ends the split. */
#include "test_util.h"

#include <errno.h>
#include <string.h>

#include "net/msg.h"

#define MAXT (1u << 20)

static uint8_t nonce[CHI_NET_NONCE], mac[CHI_NET_MAC];

/* A valid message of each type into buf; returns its length. */
static uint32_t make(uint32_t type, uint8_t *buf, const uint8_t *data, uint32_t dlen)
{
	chi_net_msg m = {0};
	m.type = type;
	m.node = 7;
	m.ucx = (1u << 16) | (13u << 8) | 1u;
	m.epoch = 0x1122334455667788ull;
	m.id = 0xabcdef01ull + type;
	m.t_ns = 123456789ull;
	m.result = 42;
	m.code = -EACCES;
	m.nonce = nonce;
	m.mac = mac;
	m.reason = "wrong key";
	m.data = data;
	m.data_len = dlen;
	return chi_net_msg_encode(buf, &m);
}

static void test_round_trip(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < CHI_NET_NONCE; i++)
		nonce[i] = (uint8_t)(i * 7 + 1);
	for (uint32_t i = 0; i < CHI_NET_MAC; i++)
		mac[i] = (uint8_t)(255 - i);
	uint8_t wire[16 + 12];
	chi_task h;
	chi_task_init(&h, CHI_POOL_ON_NODE(CHI_POOL_TEST, 1), 2, 0);
	h.in_size = 12;
	h.out_size = 8;
	memcpy(wire, &h, 16);
	for (int i = 0; i < 12; i++)
		wire[16 + i] = (uint8_t)(0xa0 + i);
	uint8_t out[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	static uint8_t buf[4096];
	for (uint32_t t = 1; t < CHI_NET_NTYPES; t++) {
		const uint8_t *d = t == CHI_NET_REQ ? wire : t == CHI_NET_REP ? out : NULL;
		uint32_t dl = t == CHI_NET_REQ ? sizeof(wire) : t == CHI_NET_REP ? sizeof(out) : 0;
		uint32_t len = make(t, buf, d, dl);
		assert_int_equal(len, chi_net_msg_size(t, dl));
		chi_net_msg m;
		assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), 0);
		assert_int_equal(m.type, t);
		assert_int_equal(m.version, CHI_NET_WIRE_VERSION);
		assert_int_equal(m.node, 7);
		assert_int_equal(m.len, len);
		assert_string_not_equal(chi_net_type_name(t), "?");
		switch (t) {
		case CHI_NET_CHALLENGE:
			assert_int_equal(m.ucx, (1u << 16) | (13u << 8) | 1u);
			assert_memory_equal(m.nonce, nonce, CHI_NET_NONCE);
			break;
		case CHI_NET_HELLO:
			assert_int_equal(m.ucx, (1u << 16) | (13u << 8) | 1u);
			assert_true(m.epoch == 0x1122334455667788ull);
			assert_memory_equal(m.nonce, nonce, CHI_NET_NONCE);
			assert_memory_equal(m.mac, mac, CHI_NET_MAC);
			break;
		case CHI_NET_WELCOME:
			assert_true(m.epoch == 0x1122334455667788ull);
			assert_memory_equal(m.mac, mac, CHI_NET_MAC);
			break;
		case CHI_NET_REFUSED:
			assert_int_equal(m.code, -EACCES);
			assert_string_equal(m.reason, "wrong key");
			break;
		case CHI_NET_REQ:
			assert_true(m.id == 0xabcdef01ull + t);
			assert_true(m.epoch == 0x1122334455667788ull);
			assert_int_equal(m.task.pool, CHI_POOL_ON_NODE(CHI_POOL_TEST, 1));
			assert_int_equal(m.task.in_size, 12);
			assert_int_equal(m.task.out_size, 8);
			assert_int_equal(m.data_len, sizeof(wire));
			assert_memory_equal(m.data, wire, sizeof(wire));
			break;
		case CHI_NET_REP:
			assert_true(m.id == 0xabcdef01ull + t);
			assert_int_equal(m.result, 42);
			assert_int_equal(m.data_len, 8);
			assert_memory_equal(m.data, out, 8);
			break;
		case CHI_NET_PING:
		case CHI_NET_PONG:
			assert_true(m.t_ns == 123456789ull);
			assert_true(m.epoch == 0x1122334455667788ull);
			break;
		case CHI_NET_BYE:
			assert_true(m.epoch == 0x1122334455667788ull);
			break;
		}
		/* every truncation is rejected, and so is one byte more */
		for (uint32_t cut = 0; cut < len; cut++)
			assert_int_equal(chi_net_msg_decode(buf, cut, MAXT, &m), -EBADMSG);
		buf[len] = 0;
		assert_int_equal(chi_net_msg_decode(buf, len + 1, MAXT, &m), -EBADMSG);
		/* a len field that lies, with the bytes to match it */
		uint32_t lie = len + 1;
		memcpy(buf + 8, &lie, 4);
		assert_int_equal(chi_net_msg_decode(buf, len + 1, MAXT, &m), -EBADMSG);
	}
	assert_string_equal(chi_net_type_name(0), "?");
	assert_string_equal(chi_net_type_name(CHI_NET_NTYPES), "?");
}

static void test_header_lies(void **state)
{
	(void)state;
	static uint8_t buf[256];
	chi_net_msg m;
	uint32_t len = make(CHI_NET_PING, buf, NULL, 0);
	/* wrong magic */
	buf[0] ^= 1;
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	buf[0] ^= 1;
	/* unknown types */
	uint16_t ty = 0;
	memcpy(buf + 6, &ty, 2);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	ty = CHI_NET_NTYPES;
	memcpy(buf + 6, &ty, 2);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	ty = 0xffff;
	memcpy(buf + 6, &ty, 2);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	/* another wire version: refused, its number reported */
	len = make(CHI_NET_HELLO, buf, NULL, 0);
	uint16_t ver = CHI_NET_WIRE_VERSION + 1;
	memcpy(buf + 4, &ver, 2);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EPROTONOSUPPORT);
	assert_int_equal(m.version, CHI_NET_WIRE_VERSION + 1);
	assert_int_equal(m.type, CHI_NET_HELLO);
	assert_int_equal(m.node, 7);
	/* ... but CHALLENGE and REFUSED decode in any version */
	len = make(CHI_NET_CHALLENGE, buf, NULL, 0);
	memcpy(buf + 4, &ver, 2);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), 0);
	assert_int_equal(m.version, CHI_NET_WIRE_VERSION + 1);
	len = make(CHI_NET_REFUSED, buf, NULL, 0);
	memcpy(buf + 4, &ver, 2);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), 0);
	/* a REFUSED reason without its NUL */
	len = make(CHI_NET_REFUSED, buf, NULL, 0);
	memset(buf + CHI_NET_HDR + 8, 'x', CHI_NET_REASON);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	/* NULL and empty */
	assert_int_equal(chi_net_msg_decode(NULL, 0, MAXT, &m), -EBADMSG);
	assert_int_equal(chi_net_msg_decode(buf, 0, MAXT, &m), -EBADMSG);
}

static void test_req_lies(void **state)
{
	(void)state;
	static uint8_t buf[1024], wire[512];
	chi_net_msg m;
	chi_task h;
	chi_task_init(&h, 1, 2, 0);
	h.in_size = 100;
	h.out_size = 16;
	memcpy(wire, &h, 16);
	uint32_t len = make(CHI_NET_REQ, buf, wire, 16 + 100);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), 0);
	/* in_size that does not add up (both ways), same message length */
	for (int d = -1; d <= 1; d += 2) {
		chi_task x = h;
		x.in_size = (uint32_t)(100 + d);
		memcpy(buf + CHI_NET_REQ_HDR, &x, 16);
		assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	}
	/* in_size, out_size above max_task_size: -EMSGSIZE, id kept */
	chi_task x = h;
	x.in_size = 0xffffffffu;
	memcpy(buf + CHI_NET_REQ_HDR, &x, 16);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EMSGSIZE);
	assert_true(m.id == 0xabcdef01ull + CHI_NET_REQ);
	x = h;
	x.out_size = MAXT + 1;
	memcpy(buf + CHI_NET_REQ_HDR, &x, 16);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EMSGSIZE);
	/* a smaller limit than the sizes */
	memcpy(buf + CHI_NET_REQ_HDR, &h, 16);
	assert_int_equal(chi_net_msg_decode(buf, len, 99, &m), -EMSGSIZE);
	assert_int_equal(chi_net_msg_decode(buf, len, 100, &m), 0);
	/* a REQ too short for a task header */
	len = make(CHI_NET_REQ, buf, wire, 8);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
}

static void test_rep_lies(void **state)
{
	(void)state;
	static uint8_t buf[1024], out[64];
	chi_net_msg m;
	uint32_t len = make(CHI_NET_REP, buf, out, 64);
	/* out_len that disagrees with the bytes */
	uint32_t ol = 63;
	memcpy(buf + CHI_NET_HDR + 24, &ol, 4);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	ol = 65;
	memcpy(buf + CHI_NET_HDR + 24, &ol, 4);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	ol = MAXT + 1;
	memcpy(buf + CHI_NET_HDR + 24, &ol, 4);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EMSGSIZE);
	assert_true(m.id == 0xabcdef01ull + CHI_NET_REP);
	/* an error with output bytes */
	ol = 64;
	memcpy(buf + CHI_NET_HDR + 24, &ol, 4);
	int64_t r = -EIO;
	memcpy(buf + CHI_NET_HDR + 16, &r, 8);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), -EBADMSG);
	/* an error without: fine */
	chi_net_msg e = {0};
	e.type = CHI_NET_REP;
	e.id = 9;
	e.result = -EIO;
	len = chi_net_msg_encode(buf, &e);
	assert_int_equal(chi_net_msg_decode(buf, len, MAXT, &m), 0);
	assert_int_equal(m.result, -EIO);
	assert_int_equal(m.data_len, 0);
	/* a fixed-size type with extra bytes */
	len = make(CHI_NET_BYE, buf, NULL, 0);
	memcpy(buf + 8, &(uint32_t){len + 4}, 4);
	assert_int_equal(chi_net_msg_decode(buf, len + 4, MAXT, &m), -EBADMSG);
}

static void test_batch_split(void **state)
{
	(void)state;
	static uint8_t buf[CHI_NET_BATCH_MAX];
	uint8_t out[40];
	uint32_t lens[16], total = 0, count = 0;
	for (uint32_t i = 0; i < 16; i++) { /* REPs of 0..45 output bytes, stamped */
		uint32_t dl = (i * 3) % 41;
		for (uint32_t b = 0; b < dl; b++)
			out[b] = (uint8_t)(i * 16 + b);
		chi_net_msg m = {0};
		m.type = i % 5 == 4 ? CHI_NET_PING : CHI_NET_REP;
		m.id = 1000 + i;
		m.t_ns = 1000 + i;
		m.data = m.type == CHI_NET_REP ? out : NULL;
		m.data_len = m.type == CHI_NET_REP ? dl : 0;
		lens[count++] = chi_net_msg_encode(buf + total, &m);
		total += lens[count - 1];
	}
	uint32_t off = 0, seen = 0;
	while (off < total) {
		uint32_t l = chi_net_msg_first(buf + off, total - off);
		assert_int_equal(l, lens[seen]);
		chi_net_msg m;
		assert_int_equal(chi_net_msg_decode(buf + off, l, MAXT, &m), 0);
		if (m.type == CHI_NET_REP) {
			assert_true(m.id == 1000 + seen);
			assert_int_equal(m.data_len, (seen * 3) % 41);
			for (uint32_t b = 0; b < m.data_len; b++)
				assert_int_equal(m.data[b], (uint8_t)(seen * 16 + b));
		} else {
			assert_int_equal(m.type, CHI_NET_PING);
			assert_true(m.t_ns == 1000 + seen);
		}
		off += l;
		seen++;
	}
	assert_int_equal(seen, count);
	assert_int_equal(off, total);
	/* the last message's len overruns the batch: no split */
	uint32_t last = total - lens[count - 1];
	assert_int_equal(chi_net_msg_first(buf + last, lens[count - 1] - 1), 0);
	/* a len shorter than a header, or fewer bytes than a header: none */
	uint32_t small = CHI_NET_HDR - 1;
	memcpy(buf + 8, &small, 4);
	assert_int_equal(chi_net_msg_first(buf, total), 0);
	assert_int_equal(chi_net_msg_first(buf, CHI_NET_HDR - 1), 0);
	assert_int_equal(chi_net_msg_first(NULL, 64), 0);
	/* a message of the batch decoded with the batch's whole length lies */
	chi_net_msg m;
	assert_int_equal(chi_net_msg_decode(buf + lens[0], total - lens[0], MAXT, &m), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_header_lies),
		cmocka_unit_test(test_req_lies),
		cmocka_unit_test(test_rep_lies),
		cmocka_unit_test(test_batch_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
