/* fuzz/fuzz_net_msg.c: libFuzzer target for the decoder of net messages
 * (src/net/msg.c): the bytes a peer, or anything that reached the
 * listener, sends. The first 4 bytes pick max_task_size (a small one makes
 * the size checks bite); the rest is an active message's data: one message
 * or a batch, split with chi_net_msg_first as src/net/recv.c does. Must
 * never crash or read out of bounds; what decodes must point inside its
 * message, and encode again to a message that decodes to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/msg.h"

static void one(const uint8_t *copy, size_t size, uint64_t max_task)
{
	chi_net_msg m;
	if (chi_net_msg_decode(copy, size, max_task, &m) != 0)
		return;
	if (m.data && m.data_len && m.data + m.data_len > copy + size)
		__builtin_trap();
	if (m.reason && !memchr(m.reason, 0, CHI_NET_REASON))
		__builtin_trap();
	uint32_t len = chi_net_msg_size(m.type, m.data_len);
	if (len != size)
		__builtin_trap();
	uint8_t *re = malloc(len);
	if (!re)
		return;
	chi_net_msg_encode(re, &m);
	chi_net_msg back;
	if (chi_net_msg_decode(re, len, max_task, &back) != 0 || back.type != m.type ||
	    back.id != m.id || back.epoch != m.epoch || back.result != m.result ||
	    back.data_len != m.data_len || (m.data_len && memcmp(back.data, m.data, m.data_len)))
		__builtin_trap();
	free(re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint32_t max;
	memcpy(&max, data, 4);
	uint64_t max_task = (max & 1) ? (max >> 1) : (1u << 20);
	data += 4;
	size -= 4;
	while (size) { /* each message in its own exact-size copy: ASan sees any overread */
		uint32_t l = chi_net_msg_first(data, size);
		size_t take = l ? l : size;
		if (l && (l < CHI_NET_HDR || l > size))
			__builtin_trap();
		uint8_t *copy = malloc(take);
		if (!copy)
			return 0;
		memcpy(copy, data, take);
		one(copy, take, max_task);
		free(copy);
		data += take;
		size -= take;
	}
	return 0;
}
