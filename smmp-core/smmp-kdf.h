/* smmp-kdf.h: hashing and key derivation as the protocol uses them.
 *
 * hash: SHA-256 with a domain label absorbed first.  KDF: HKDF-SHA-256
 * (RFC 5869), built from libsodium's HMAC-SHA-256 because Debian 12's
 * libsodium 1.0.18 has no HKDF of its own.  Every label the protocol uses is
 * listed in docs/PROTOCOL.md.
 */
#ifndef SMMP_KDF_H
#define SMMP_KDF_H

#include <glib.h>
#include <sodium.h>

G_BEGIN_DECLS

#define SMMP_HASH_BYTES 32
#define SMMP_KEY_BYTES 32
#define SMMP_HKDF_MAX_OUTPUT (255 * SMMP_HASH_BYTES)

/* A running labelled hash: SHA-256(label || 0x00 || data...). */
typedef crypto_hash_sha256_state SmmpHash;

void smmp_hash_init (SmmpHash *hash, const char *label);
void smmp_hash_update (SmmpHash *hash, const void *data, gsize len);
/* Writes the digest and wipes @hash. */
void smmp_hash_final (SmmpHash *hash, guint8 out[SMMP_HASH_BYTES]);

/* HKDF-Extract(salt, ikm) into @prk.  @salt may be NULL (RFC 5869: zeros). */
void smmp_hkdf_extract (guint8 prk[SMMP_HASH_BYTES],
                        const guint8 *salt, gsize salt_len,
                        const guint8 *ikm, gsize ikm_len);

/* HKDF-Expand(prk, info, okm_len) into @okm.  Returns FALSE (writing
 * nothing) when @okm_len exceeds SMMP_HKDF_MAX_OUTPUT. */
gboolean smmp_hkdf_expand (guint8 *okm, gsize okm_len,
                           const guint8 *prk, gsize prk_len,
                           const guint8 *info, gsize info_len);

/* The protocol's KDF(key, label): HKDF-Expand(key, label, 32). */
void smmp_kdf (guint8 out[SMMP_KEY_BYTES], const guint8 key[SMMP_KEY_BYTES],
               const char *label);

G_END_DECLS

#endif /* SMMP_KDF_H */
