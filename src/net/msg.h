/* src/net/msg.h: the messages runtimes exchange (docs/net.md).
 *
 * Messages travel as UCX active messages (id CHI_NET_AM_ID, no AM header):
 * an active message's data is one message or, from wire version 2, a batch
 * of several back to back (each whole, with its own header and len; the
 * receiver splits them with chi_net_msg_first and handles each in order).
 * A batch is at most CHI_NET_BATCH_MAX bytes and holds only messages of at
 * most CHI_NET_BATCH_ITEM bytes; a larger message travels alone. A message
 * is a 16-byte header, then a fixed part of its type, then for REQ and REP
 * a payload. All integers are little-endian
 * (the task header, as in shared memory, is the host's: chi runs on
 * little-endian hosts only, asserted below).
 *
 *   header    magic u32 "CHIN", version u16, type u16, len u32 (the whole
 *             message, header included), node u32 (the sender's node)
 *   CHALLENGE ucx u32, pad u32, nonce_s[16]          listener -> connector
 *   HELLO     ucx u32, pad u32, epoch u64, nonce_c[16], mac[32]
 *                                                     connector -> listener
 *   WELCOME   epoch u64, mac[32]                     listener -> connector
 *   REFUSED   code i32, ucx u32, reason[56] (NUL-terminated)   either way
 *   REQ       id u64, epoch u64, then the task's wire: its 16-byte header
 *             and in_size input bytes, exactly (len = 48 + in_size)
 *   REP       id u64, epoch u64, result i64, out_len u32, pad u32, then
 *             out_len output bytes (none when result < 0)
 *   PING/PONG t_ns u64, epoch u64 (PONG echoes the PING's t_ns)
 *   BYE       epoch u64
 *
 * ucx is (major << 16) | (minor << 8) | release. CHALLENGE and REFUSED keep
 * this layout in every wire version (only they decode whatever the version
 * in the header), so a runtime can tell a peer of another version why it
 * was refused; every other type of another version is -EPROTONOSUPPORT.
 *
 * The decoder treats every byte as untrusted; its errors:
 *   -EBADMSG          shorter than its type needs, wrong magic, unknown
 *                     type, len that disagrees with the bytes received,
 *                     a REQ whose task header's in_size does not add up,
 *                     a REP with output bytes and a negative result, a
 *                     REFUSED reason without its NUL
 *   -EPROTONOSUPPORT  another wire version (m->version tells which)
 *   -EMSGSIZE         a REQ's in_size or out_size, or a REP's out_len,
 *                     above max_task_size
 * On an error m->type, m->version and m->node are set when the header was
 * there, and m->id (REQ, REP) when the fixed part was, so a REQ can be
 * answered with the error. */
#ifndef CHI_SRC_NET_MSG_H
#define CHI_SRC_NET_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "chi/proto/task.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "chi's net messages are little-endian"
#endif

#define CHI_NET_MAGIC 0x4e494843u /* "CHIN" */
#define CHI_NET_WIRE_VERSION 2u /* 2: batches */
#define CHI_NET_BATCH_MAX 4096u  /* bytes of a batch: eager on UCX's tcp and shm */
#define CHI_NET_BATCH_ITEM 1024u /* the largest message put in a batch */
#define CHI_NET_AM_ID 0x43u
#define CHI_NET_NONCE 16u
#define CHI_NET_MAC 32u
#define CHI_NET_REASON 56u

enum chi_net_type {
	CHI_NET_CHALLENGE = 1,
	CHI_NET_HELLO = 2,
	CHI_NET_WELCOME = 3,
	CHI_NET_REFUSED = 4,
	CHI_NET_REQ = 5,
	CHI_NET_REP = 6,
	CHI_NET_PING = 7,
	CHI_NET_PONG = 8,
	CHI_NET_BYE = 9,
	CHI_NET_NTYPES
};

#define CHI_NET_HDR 16u
#define CHI_NET_REQ_HDR (CHI_NET_HDR + 16u) /* a REQ's task wire starts here */
#define CHI_NET_REP_HDR (CHI_NET_HDR + 32u) /* a REP's output bytes start here */

/* A decoded message (pointers into the decoded buffer), or the fields to
 * encode. */
typedef struct chi_net_msg {
	uint32_t type, version, node, len;
	uint32_t ucx;      /* CHALLENGE, HELLO, REFUSED */
	int32_t code;      /* REFUSED */
	uint64_t epoch;    /* HELLO, WELCOME, REQ, REP, PING, PONG, BYE */
	uint64_t id;       /* REQ, REP */
	uint64_t t_ns;     /* PING, PONG */
	int64_t result;    /* REP */
	const uint8_t *nonce; /* CHALLENGE, HELLO: CHI_NET_NONCE bytes */
	const uint8_t *mac;   /* HELLO, WELCOME: CHI_NET_MAC bytes */
	const char *reason;   /* REFUSED: NUL-terminated */
	chi_task task;        /* REQ: the task header (a copy) */
	const uint8_t *data;  /* REQ: the wire (header + inputs); REP: outputs */
	uint32_t data_len;
} chi_net_msg;

/* Bytes a message of `type` with data_len payload bytes takes. */
uint32_t chi_net_msg_size(uint32_t type, uint32_t data_len);

/* Encode m (type, node and the fields of its type; data_len payload bytes
 * copied from m->data unless m->data is NULL, when the caller writes them
 * at buf + CHI_NET_REQ_HDR / CHI_NET_REP_HDR itself) into buf, which has
 * chi_net_msg_size(m->type, m->data_len) bytes. Returns that size. The
 * version written is CHI_NET_WIRE_VERSION unless m->version is set. */
uint32_t chi_net_msg_encode(void *buf, const chi_net_msg *m);

/* Decode buf[0..len) into m: 0 or the errors listed above. */
int chi_net_msg_decode(const void *buf, size_t len, uint64_t max_task_size, chi_net_msg *m);

/* The length of the first message of buf[0..len) (its header's len): 0
 * when fewer than CHI_NET_HDR bytes are left or that len is shorter than a
 * header or longer than what is left (the rest of the buffer is then
 * dropped as one bad message). */
uint32_t chi_net_msg_first(const void *buf, size_t len);

/* A short name of a type ("REQ"), "?" for others. */
const char *chi_net_type_name(uint32_t type);

#endif
