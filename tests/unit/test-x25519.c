/* test-x25519.c: RFC 7748 known answers for X25519 as the project uses it
 * (libsodium's crypto_scalarmult and smmp_identity_dh). */
#include "smmp-error.h"
#include "smmp-identity.h"
#include "smmp-init.h"

#include <sodium.h>
#include <string.h>

static void
hex32 (const char *hex, guint8 out[32])
{
  g_assert_cmpuint (strlen (hex), ==, 64);
  for (gsize i = 0; i < 32; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      out[i] = (guint8) ((hi << 4) | lo);
    }
}

/* RFC 7748 section 5.2, the two single-call X25519 vectors. */
static const struct {
  const char *scalar;
  const char *u_in;
  const char *u_out;
} rfc7748_5_2[] = {
  { "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
  /* The input u-coordinate has its top bit set, which X25519 ignores. */
  { "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
    "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
};

/* RFC 7748 section 6.1. */
#define ALICE_SECRET "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUBLIC "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_SECRET "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PUBLIC "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define SHARED_K "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

static void
test_rfc7748_scalarmult (void)
{
  g_assert_cmpuint (crypto_scalarmult_BYTES, ==, 32);
  g_assert_cmpuint (crypto_scalarmult_SCALARBYTES, ==, 32);

  for (gsize i = 0; i < G_N_ELEMENTS (rfc7748_5_2); i++)
    {
      guint8 k[32], u[32], expected[32], out[32];

      hex32 (rfc7748_5_2[i].scalar, k);
      hex32 (rfc7748_5_2[i].u_in, u);
      hex32 (rfc7748_5_2[i].u_out, expected);
      memset (out, 0, sizeof out);
      g_assert_cmpint (crypto_scalarmult (out, k, u), ==, 0);
      g_assert_cmpmem (out, sizeof out, expected, sizeof expected);
    }
}

static void
test_rfc7748_dh (void)
{
  guint8 a[32], b[32], a_pub[32], b_pub[32], k[32], out_a[32], out_b[32];

  hex32 (ALICE_SECRET, a);
  hex32 (BOB_SECRET, b);
  hex32 (SHARED_K, k);

  g_assert_cmpint (crypto_scalarmult_base (a_pub, a), ==, 0);
  g_assert_cmpint (crypto_scalarmult_base (b_pub, b), ==, 0);
  {
    guint8 expected[32];

    hex32 (ALICE_PUBLIC, expected);
    g_assert_cmpmem (a_pub, 32, expected, 32);
    hex32 (BOB_PUBLIC, expected);
    g_assert_cmpmem (b_pub, 32, expected, 32);
  }

  g_assert_cmpint (crypto_scalarmult (out_a, a, b_pub), ==, 0);
  g_assert_cmpint (crypto_scalarmult (out_b, b, a_pub), ==, 0);
  g_assert_cmpmem (out_a, 32, k, 32);
  g_assert_cmpmem (out_b, 32, k, 32);
}

/* Builds the identity JSON (the format smmp_identity_to_json writes) for a
 * known key pair. */
static SmmpIdentity *
identity_from_hex (const char *secret_hex, const char *public_hex)
{
  guint8 secret[32], pub[32];
  g_autofree char *sec64 = NULL, *pub64 = NULL, *json = NULL;
  g_autoptr (GError) error = NULL;
  SmmpIdentity *identity;

  hex32 (secret_hex, secret);
  hex32 (public_hex, pub);
  sec64 = g_base64_encode (secret, sizeof secret);
  pub64 = g_base64_encode (pub, sizeof pub);
  json = g_strdup_printf ("{\"type\":\"smmp-identity\",\"version\":1,"
                          "\"public\":\"%s\",\"secret\":\"%s\"}", pub64, sec64);
  identity = smmp_identity_from_json (json, &error);
  g_assert_no_error (error);
  g_assert_nonnull (identity);
  return identity;
}

/* The RFC 7748 section 6.1 exchange through smmp_identity_dh. */
static void
test_rfc7748_identity_dh (void)
{
  SmmpIdentity *alice = identity_from_hex (ALICE_SECRET, ALICE_PUBLIC);
  SmmpIdentity *bob = identity_from_hex (BOB_SECRET, BOB_PUBLIC);
  guint8 k[32], out[32], pub[32];

  hex32 (SHARED_K, k);
  hex32 (ALICE_PUBLIC, pub);
  g_assert_cmpmem (smmp_identity_get_public (alice), 32, pub, 32);
  hex32 (BOB_PUBLIC, pub);
  g_assert_cmpmem (smmp_identity_get_public (bob), 32, pub, 32);

  memset (out, 0, sizeof out);
  g_assert_true (smmp_identity_dh (alice, smmp_identity_get_public (bob), out));
  g_assert_cmpmem (out, 32, k, 32);
  memset (out, 0, sizeof out);
  g_assert_true (smmp_identity_dh (bob, smmp_identity_get_public (alice), out));
  g_assert_cmpmem (out, 32, k, 32);

  smmp_identity_free (alice);
  smmp_identity_free (bob);
}

/* The all-zero point (and u = 1, also of small order) give an all-zero
 * result, which libsodium refuses. */
static void
test_scalarmult_refuses_low_order (void)
{
  guint8 zero[32] = { 0 }, one[32] = { 1 }, a[32], out[32];

  hex32 (ALICE_SECRET, a);
  g_assert_cmpint (crypto_scalarmult (out, a, zero), !=, 0);
  g_assert_cmpint (crypto_scalarmult (out, a, one), !=, 0);
}

static void
test_identity_dh_refuses_zero_point (void)
{
  SmmpIdentity *identity = smmp_identity_generate ();
  guint8 zero[32] = { 0 }, one[32] = { 1 }, out[32];
  const guint8 all_zero[32] = { 0 };

  memset (out, 0xee, sizeof out);
  g_assert_false (smmp_identity_dh (identity, zero, out));
  /* The header promises a zeroed output on failure. */
  g_assert_cmpmem (out, sizeof out, all_zero, sizeof all_zero);

  memset (out, 0xee, sizeof out);
  g_assert_false (smmp_identity_dh (identity, one, out));
  g_assert_cmpmem (out, sizeof out, all_zero, sizeof all_zero);

  smmp_identity_free (identity);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!smmp_init (NULL))
    g_error ("smmp_init failed");

  g_test_add_func ("/x25519/rfc7748/5.2-scalarmult", test_rfc7748_scalarmult);
  g_test_add_func ("/x25519/rfc7748/6.1-dh", test_rfc7748_dh);
  g_test_add_func ("/x25519/rfc7748/6.1-identity-dh", test_rfc7748_identity_dh);
  g_test_add_func ("/x25519/low-order/scalarmult", test_scalarmult_refuses_low_order);
  g_test_add_func ("/x25519/low-order/identity-dh", test_identity_dh_refuses_zero_point);

  return g_test_run ();
}
