/* src/net/auth.c: the cluster key file and HMAC-SHA256 (OpenSSL libcrypto);
 * what is proven over what is in auth.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "net/auth.h"

int chi_net_key_load(const char *path, chi_net_key *k, char *err, size_t errlen)
{
	k->len = 0;
	if (!path || !path[0]) {
		snprintf(err, errlen, "cluster.key_file is not set (a file of mode 0600 holding the cluster's key)");
		return -ENOENT;
	}
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cluster.key_file %s: %s", path, strerror(e));
		return e == ELOOP ? -EACCES : -e;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cluster.key_file %s: %s", path, strerror(-rc));
	} else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		rc = -EACCES;
		snprintf(err, errlen, "cluster.key_file %s: not a regular file owned by uid %u", path,
			 (unsigned)geteuid());
	} else if (st.st_mode & 077) {
		rc = -EACCES;
		snprintf(err, errlen, "cluster.key_file %s: mode %03o, must be 0600 (chmod 600 %s)", path,
			 (unsigned)(st.st_mode & 0777), path);
	} else if (st.st_size <= 0 || (uint64_t)st.st_size > CHI_NET_KEY_MAX) {
		rc = -EINVAL;
		snprintf(err, errlen, "cluster.key_file %s: %lld bytes, want 1 to %u", path,
			 (long long)st.st_size, CHI_NET_KEY_MAX);
	} else {
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t r = read(fd, k->bytes + got, (size_t)st.st_size - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		while (got && (k->bytes[got - 1] == '\n' || k->bytes[got - 1] == '\r'))
			got--;
		if (!got) {
			rc = -EINVAL;
			snprintf(err, errlen, "cluster.key_file %s: empty", path);
		}
		k->len = (uint32_t)got;
	}
	close(fd);
	if (rc)
		chi_net_key_wipe(k);
	return rc;
}

void chi_net_key_wipe(chi_net_key *k)
{
	OPENSSL_cleanse(k->bytes, sizeof(k->bytes));
	k->len = 0;
}

int chi_net_nonce(uint8_t out[CHI_NET_NONCE])
{
	size_t got = 0;
	while (got < CHI_NET_NONCE) {
		ssize_t r = getrandom(out + got, CHI_NET_NONCE - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

int chi_net_mac(const chi_net_key *k, const char *label, const uint8_t nonce[CHI_NET_NONCE],
		uint32_t node, uint64_t epoch, uint8_t out[CHI_NET_MAC])
{
	uint8_t msg[32 + CHI_NET_NONCE + 12];
	size_t ll = strlen(label);
	if (ll > 32)
		return -EINVAL;
	memcpy(msg, label, ll);
	memcpy(msg + ll, nonce, CHI_NET_NONCE);
	memcpy(msg + ll + CHI_NET_NONCE, &node, 4); /* little-endian (msg.h) */
	memcpy(msg + ll + CHI_NET_NONCE + 4, &epoch, 8);
	size_t outlen = 0;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->bytes, k->len, msg,
		       ll + CHI_NET_NONCE + 12, out, CHI_NET_MAC, &outlen) ||
	    outlen != CHI_NET_MAC)
		return -EIO;
	return 0;
}

int chi_net_mac_ok(const chi_net_key *k, const char *label, const uint8_t nonce[CHI_NET_NONCE],
		   uint32_t node, uint64_t epoch, const uint8_t mac[CHI_NET_MAC])
{
	uint8_t want[CHI_NET_MAC];
	if (chi_net_mac(k, label, nonce, node, epoch, want))
		return 0;
	int ok = CRYPTO_memcmp(want, mac, CHI_NET_MAC) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}
