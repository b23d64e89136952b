/* src/task/wire.h: checking and running a serialized task. These functions
 * treat the bytes of a future block as untrusted: a client may write
 * anything there (the fuzz target drives them directly). */
#ifndef CHI_SRC_TASK_WIRE_H
#define CHI_SRC_TASK_WIRE_H

#include "chi/module.h"

/* Check the header at `wire` against the room `cap` and the reserved output
 * size: 0, or -EBADMSG when the sizes do not fit. */
int chi_wire_check(const uint8_t *wire, uint32_t cap, uint32_t out_size, uint64_t max_task);

/* Decode the inputs of a checked wire into a zeroed task struct in
 * `scratch` (CHI_TASK_SCRATCH bytes). 0 or -EBADMSG. */
int chi_wire_decode(const chi_method *m, uint8_t *wire, void *scratch);

/* Encode a task's outputs into the wire's output area: 0, or -EMSGSIZE if
 * they do not fit in the reserved room. */
int chi_wire_encode_out(const chi_method *m, uint8_t *wire, uint32_t out_size,
			const chi_task *task);

#endif
