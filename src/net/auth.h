/* src/net/auth.h: the cluster key and the hello's proofs (N5, docs/net.md).
 *
 * The key is the content of cluster.key_file (trailing newlines dropped),
 * a regular file owned by this user that no one else may read or write
 * (mode 0600 or 0400). A side proves it holds the key with
 *   mac = HMAC-SHA256(key, label || nonce[16] || node u32 || epoch u64)
 * over a nonce the other side just drew (getrandom), so a recorded hello
 * is worth nothing: "chi-hello" from the connector over the listener's
 * nonce_s, "chi-welcome" from the listener over the connector's nonce_c.
 * Checks compare in constant time (CRYPTO_memcmp). None of these log. */
#ifndef CHI_SRC_NET_AUTH_H
#define CHI_SRC_NET_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "net/msg.h"

#define CHI_NET_KEY_MAX 4096u

typedef struct chi_net_key {
	uint8_t bytes[CHI_NET_KEY_MAX];
	uint32_t len;
} chi_net_key;

/* Read the key: 0, or -ENOENT (missing), -EACCES (not a regular file of
 * this user, or readable or writable by others), -EINVAL (empty or longer
 * than CHI_NET_KEY_MAX), -errno of open/read; the reason in err. */
int chi_net_key_load(const char *path, chi_net_key *k, char *err, size_t errlen);
void chi_net_key_wipe(chi_net_key *k);

/* 16 random bytes: 0 or -errno. */
int chi_net_nonce(uint8_t out[CHI_NET_NONCE]);

/* The proof above into out: 0 or -EIO. */
int chi_net_mac(const chi_net_key *k, const char *label, const uint8_t nonce[CHI_NET_NONCE],
		uint32_t node, uint64_t epoch, uint8_t out[CHI_NET_MAC]);
/* 1 when mac is the proof above, else 0 (constant time). */
int chi_net_mac_ok(const chi_net_key *k, const char *label, const uint8_t nonce[CHI_NET_NONCE],
		   uint32_t node, uint64_t epoch, const uint8_t mac[CHI_NET_MAC]);

#endif
