/* fuzz/fuzz_task.c: libFuzzer target for the decoder of untrusted serialized
 * tasks: the bytes a client writes into a future block. Runs the same checks
 * and decoders a worker runs (chi_wire_check, then each test/admin method's
 * de_in through chi_wire_decode, and the output codecs on the output area)
 * on arbitrary bytes. Must never crash or read out of bounds. */
#include <stdint.h>
#include <string.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "runtime/runtime.h"
#include "task/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t scratch[CHI_TASK_SCRATCH / 8];
	static uint8_t wire[4096];
	if (size < 4)
		return 0;
	uint32_t out_size;
	memcpy(&out_size, data, 4);
	data += 4;
	size -= 4;
	uint32_t cap = size > sizeof(wire) ? (uint32_t)sizeof(wire) : (uint32_t)size;
	memcpy(wire, data, cap);
	chi_task hdr;
	if (chi_wire_check(wire, cap, out_size, 1u << 20, &hdr))
		return 0;
	const chi_task *h = &hdr;
	const chi_module *mods[2] = {&chi_admin_module, &chi_test_module};
	for (int m = 0; m < 2; m++) {
		if (h->method >= mods[m]->nmethods)
			continue;
		const chi_method *me = &mods[m]->methods[h->method];
		if (chi_wire_decode(me->codec, h, wire, scratch) == 0) {
			/* decode succeeded: the client-side output decoder must also
			 * survive whatever sits in the output area */
			chi_ar a;
			chi_ar_init(&a, wire + chi_task_out_off(h->in_size), out_size);
			uint8_t sink[4096];
			chi_test_echo_task *e = (chi_test_echo_task *)scratch;
			chi_test_large_task *l = (chi_test_large_task *)scratch;
			if (me->codec == &chi_test_echo_codec) {
				e->reply = sink;
				e->reply_cap = sizeof(sink);
			} else if (me->codec == &chi_test_large_codec) {
				l->buf = sink;
				if (l->size > sizeof(sink))
					l->size = sizeof(sink);
			}
			if (me->codec->de_out)
				me->codec->de_out(&a, (chi_task *)scratch);
		}
	}
	return 0;
}
