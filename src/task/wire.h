/* src/task/wire.h: checking and running a serialized task. These functions
 * treat the bytes of a future block as untrusted: a client may write
 * anything there (the fuzz target drives them directly). */
#ifndef CHI_SRC_TASK_WIRE_H
#define CHI_SRC_TASK_WIRE_H

#include <errno.h>
#include <string.h>

#include "chi/module.h"

/* Layout of a serialized task: [chi_task 16 B][input in_size B][pad to 8]
 * [output out_size B]. Inline: they run for every task a worker takes, and
 * the header is read from the (untrusted, shared) block once, into *h.
 *
 * chi_wire_check: copy the header at `wire` to *h and check it against the
 *   room `cap` and the reserved output size: 0, or -EBADMSG when the sizes
 *   do not fit.
 * chi_wire_decode: the inputs of a checked wire into a zeroed task struct
 *   in `scratch` (CHI_TASK_SCRATCH bytes). 0 or -EBADMSG.
 * chi_wire_encode_out: a task's outputs into its output area (out_size
 *   bytes at `area`): 0, or -EMSGSIZE if they do not fit in that room. */
static inline int chi_wire_check(const uint8_t *wire, uint32_t cap, uint32_t out_size,
				 uint64_t max_task, chi_task *h)
{
	if (cap < sizeof(chi_task))
		return -EBADMSG;
	memcpy(h, wire, sizeof(*h));
	if (h->in_size > max_task || out_size > max_task || h->out_size != out_size)
		return -EBADMSG;
	if (chi_task_wire_size(h->in_size, out_size) > cap)
		return -EBADMSG;
	return 0;
}

static inline int chi_wire_decode(const chi_codec *codec, const chi_task *h, const uint8_t *wire,
				  uint64_t *scratch)
{
	uint32_t tsize = codec->task_size;
	if (tsize < sizeof(chi_task) || tsize > CHI_TASK_SCRATCH)
		return -EINVAL;
	/* header copied, the rest zeroed word by word: a memset of a variable
	 * size became `rep stos`, whose start-up cost was the largest single
	 * item of a GPU-lane noop (perf, chi-bench drain); scratch holds
	 * CHI_TASK_SCRATCH bytes, so rounding tsize up to 8 stays inside */
	memcpy(scratch, h, sizeof(chi_task));
	for (uint32_t i = sizeof(chi_task) / 8; i < (tsize + 7) / 8; i++)
		scratch[i] = 0;
	if (!codec->de_in)
		return h->in_size ? -EBADMSG : 0; /* trailing bytes nobody reads */
	chi_ar a;
	chi_ar_init(&a, (void *)(wire + sizeof(chi_task)), h->in_size);
	int rc = codec->de_in(&a, (chi_task *)scratch);
	if (!rc && a.err)
		rc = a.err;
	if (!rc && a.pos != h->in_size)
		rc = -EBADMSG; /* trailing bytes the method does not expect */
	return rc ? -EBADMSG : 0;
}

static inline int chi_wire_encode_out(const chi_codec *codec, uint8_t *area, uint32_t out_size,
				      const chi_task *task)
{
	if (!codec->ser_out || !out_size)
		return 0;
	chi_ar a;
	chi_ar_init(&a, area, out_size);
	int rc = codec->ser_out(&a, task);
	return rc ? rc : a.err;
}

#endif
