/* smmp-kdf.c: labelled SHA-256 and HKDF-SHA-256 (RFC 5869) over libsodium. */
#include "smmp-kdf.h"

#include <string.h>

void
smmp_hash_init (SmmpHash *hash, const char *label)
{
  static const guint8 zero = 0;

  crypto_hash_sha256_init (hash);
  crypto_hash_sha256_update (hash, (const guint8 *) label, strlen (label));
  crypto_hash_sha256_update (hash, &zero, 1);
}

void
smmp_hash_update (SmmpHash *hash, const void *data, gsize len)
{
  crypto_hash_sha256_update (hash, data, len);
}

void
smmp_hash_final (SmmpHash *hash, guint8 out[SMMP_HASH_BYTES])
{
  crypto_hash_sha256_final (hash, out);
  sodium_memzero (hash, sizeof *hash);
}

void
smmp_hkdf_extract (guint8 prk[SMMP_HASH_BYTES],
                   const guint8 *salt, gsize salt_len,
                   const guint8 *ikm, gsize ikm_len)
{
  static const guint8 zeros[SMMP_HASH_BYTES] = { 0 };
  crypto_auth_hmacsha256_state st;

  if (salt == NULL || salt_len == 0)
    {
      salt = zeros;
      salt_len = sizeof zeros;
    }
  crypto_auth_hmacsha256_init (&st, salt, salt_len);
  crypto_auth_hmacsha256_update (&st, ikm, ikm_len);
  crypto_auth_hmacsha256_final (&st, prk);
  sodium_memzero (&st, sizeof st);
}

gboolean
smmp_hkdf_expand (guint8 *okm, gsize okm_len,
                  const guint8 *prk, gsize prk_len,
                  const guint8 *info, gsize info_len)
{
  crypto_auth_hmacsha256_state st;
  guint8 t[SMMP_HASH_BYTES];
  gsize done = 0;
  guint8 counter = 0;

  if (okm_len > SMMP_HKDF_MAX_OUTPUT)
    return FALSE;

  /* T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty. */
  while (done < okm_len)
    {
      gsize take;

      counter++;
      crypto_auth_hmacsha256_init (&st, prk, prk_len);
      if (counter > 1)
        crypto_auth_hmacsha256_update (&st, t, sizeof t);
      if (info_len > 0)
        crypto_auth_hmacsha256_update (&st, info, info_len);
      crypto_auth_hmacsha256_update (&st, &counter, 1);
      crypto_auth_hmacsha256_final (&st, t);
      take = MIN (okm_len - done, sizeof t);
      memcpy (okm + done, t, take);
      done += take;
    }
  sodium_memzero (t, sizeof t);
  sodium_memzero (&st, sizeof st);
  return TRUE;
}

void
smmp_kdf (guint8 out[SMMP_KEY_BYTES], const guint8 key[SMMP_KEY_BYTES],
          const char *label)
{
  smmp_hkdf_expand (out, SMMP_KEY_BYTES, key, SMMP_KEY_BYTES,
                    (const guint8 *) label, strlen (label));
}
