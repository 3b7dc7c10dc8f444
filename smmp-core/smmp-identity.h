/* smmp-identity.h: a participant's long-term X25519 identity key pair.
 *
 * The private half lives in libsodium guarded memory and never leaves this
 * module except through smmp_identity_to_json(), whose output the caller must
 * wipe and store with care (mode 0600).  Proof of knowledge of the private
 * key is proof of identity (paper VI): other modules ask for Diffie-Hellman
 * results, never for the key.
 */
#ifndef SMMP_IDENTITY_H
#define SMMP_IDENTITY_H

#include <glib.h>

G_BEGIN_DECLS

#define SMMP_PUBLIC_KEY_BYTES 32
#define SMMP_FINGERPRINT_BYTES 20

typedef struct _SmmpIdentity SmmpIdentity;

/* A fresh key pair from libsodium's generator.  Free with smmp_identity_free(). */
SmmpIdentity *smmp_identity_generate (void);

/* Zeroes and frees the private key.  NULL is allowed. */
void smmp_identity_free (SmmpIdentity *identity);

/* The public key B, 32 bytes, owned by @identity. */
const guint8 *smmp_identity_get_public (const SmmpIdentity *identity);

/* out = X25519(b, peer).  FALSE when @peer is a low-order point (the result
 * would be all zeros); @out is then zeroed. */
gboolean smmp_identity_dh (const SmmpIdentity *identity,
                           const guint8 peer[SMMP_PUBLIC_KEY_BYTES],
                           guint8 out[SMMP_PUBLIC_KEY_BYTES]);

/* The fingerprint of a public key as people compare it: 40 upper-case hex
 * digits in five groups of eight, "89AB01CD 12EF...".  Free with g_free(). */
char *smmp_fingerprint_format (const guint8 public_key[SMMP_PUBLIC_KEY_BYTES]);

/* Parses a fingerprint typed by a person: hex digits in either case, spaces,
 * tabs, colons and dashes ignored.  Returns FALSE unless exactly 40 hex digits. */
gboolean smmp_fingerprint_parse (const char *text,
                                 guint8 out[SMMP_FINGERPRINT_BYTES]);

/* The raw fingerprint bytes of @public_key. */
void smmp_fingerprint_compute (const guint8 public_key[SMMP_PUBLIC_KEY_BYTES],
                               guint8 out[SMMP_FINGERPRINT_BYTES]);

/* Serialises the key pair, private part included, as a JSON object.
 * The caller owns the string and must wipe it (sodium_memzero) before
 * g_free(). */
char *smmp_identity_to_json (const SmmpIdentity *identity);

/* Reads what smmp_identity_to_json() wrote.  Rejects a public key that does
 * not belong to the private key.  Returns NULL with @error set on failure. */
SmmpIdentity *smmp_identity_from_json (const char *json, GError **error);

G_END_DECLS

#endif /* SMMP_IDENTITY_H */
