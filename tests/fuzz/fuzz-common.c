/* fuzz-common.c: shared by the fuzz targets and make-corpus; see
 * fuzz-common.h. */
#include "fuzz-common.h"

#include "smmp-init.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fuzz_check_failed (const char *file, int line, const char *func,
                   const char *expr)
{
  fprintf (stderr, "%s:%d: %s: fuzz invariant failed: %s\n", file, line,
           func, expr);
  fflush (stderr);
  abort ();
}

/* ---- a deterministic generator for libsodium --------------------------
 *
 * splitmix64: not cryptographic and not meant to be; it only makes every run
 * of a fuzz input draw the same session ids and keys. */

static guint64 rng_state;

static guint64
splitmix64 (void)
{
  guint64 z = (rng_state += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static const char *
rng_name (void)
{
  return "smmp-fuzz-splitmix64";
}

static uint32_t
rng_random (void)
{
  return (uint32_t) (splitmix64 () >> 32);
}

static void
rng_buf (void *const buf, const size_t size)
{
  guint8 *out = buf;

  for (size_t i = 0; i < size; i += 8)
    {
      guint64 v = splitmix64 ();
      size_t n = MIN (size - i, (size_t) 8);

      memcpy (out + i, &v, n);
    }
}

static randombytes_implementation rng_impl = {
  .implementation_name = rng_name,
  .random = rng_random,
  .stir = NULL,
  .uniform = NULL,
  .buf = rng_buf,
  .close = NULL,
};

void
fuzz_rng_reset (guint64 seed)
{
  rng_state = seed;
}

void
fuzz_init (gboolean deterministic)
{
  static gboolean done = FALSE;
  GError *error = NULL;

  if (done)
    return;
  done = TRUE;
  /* libsodium wants the generator replaced before sodium_init(). */
  if (deterministic)
    {
      fuzz_rng_reset (0);
      if (randombytes_set_implementation (&rng_impl) != 0)
        fuzz_check_failed (__FILE__, __LINE__, G_STRFUNC,
                           "randombytes_set_implementation");
    }
  if (!smmp_init (&error))
    {
      fprintf (stderr, "smmp_init: %s\n", error->message);
      abort ();
    }
}

void
fuzz_fixed_sign_keypair (guint8 public_key[32], guint8 secret_key[64])
{
  static const guint8 seed[crypto_sign_SEEDBYTES] =
    "SMMP fuzz corpus signing key 01";   /* 31 characters and a NUL */

  crypto_sign_seed_keypair (public_key, secret_key, seed);
}

void
fuzz_ka_append_record (GByteArray *input, guint8 control, GBytes *payload)
{
  gsize len = payload != NULL ? g_bytes_get_size (payload) : 0;
  guint8 head[FUZZ_KA_RECORD_HEADER];

  g_assert (len <= G_MAXUINT16);
  head[0] = control;
  head[1] = (guint8) (len >> 8);
  head[2] = (guint8) len;
  g_byte_array_append (input, head, sizeof head);
  if (len > 0)
    g_byte_array_append (input, g_bytes_get_data (payload, NULL), (guint) len);
}
