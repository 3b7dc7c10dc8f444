/* test-kdf.c: HKDF-SHA-256 (RFC 5869 Appendix A) and the labelled hash. */
#include "smmp-init.h"
#include "smmp-kdf.h"

#include <sodium.h>
#include <string.h>

/* Decodes a hex string (no separators) into newly allocated bytes. */
static guint8 *
hex_decode (const char *hex, gsize *len_out)
{
  gsize n = strlen (hex);
  guint8 *out;

  g_assert_cmpuint (n % 2, ==, 0);
  out = g_malloc0 (n / 2 + 1);
  for (gsize i = 0; i < n / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      out[i] = (guint8) ((hi << 4) | lo);
    }
  *len_out = n / 2;
  return out;
}

typedef struct {
  const char *ikm;
  const char *salt; /* "" for none */
  const char *info; /* "" for none */
  gsize okm_len;
  const char *prk;
  const char *okm;
} HkdfVector;

/* RFC 5869 Appendix A.1: Test Case 1, basic test case with SHA-256. */
static const HkdfVector rfc5869_case1 = {
  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
  "000102030405060708090a0b0c",
  "f0f1f2f3f4f5f6f7f8f9",
  42,
  "077709362c2e32df0ddc3f0dc47bba63"
  "90b6c73bb50f9c3122ec844ad7c2b3e5",
  "3cb25f25faacd57a90434f64d0362f2a"
  "2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
  "34007208d5b887185865",
};

/* RFC 5869 Appendix A.2: Test Case 2, longer inputs and outputs. */
static const HkdfVector rfc5869_case2 = {
  "000102030405060708090a0b0c0d0e0f"
  "101112131415161718191a1b1c1d1e1f"
  "202122232425262728292a2b2c2d2e2f"
  "303132333435363738393a3b3c3d3e3f"
  "404142434445464748494a4b4c4d4e4f",
  "606162636465666768696a6b6c6d6e6f"
  "707172737475767778797a7b7c7d7e7f"
  "808182838485868788898a8b8c8d8e8f"
  "909192939495969798999a9b9c9d9e9f"
  "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
  "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
  "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
  "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
  "e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
  82,
  "06a6b88c5853361a06104c9ceb35b45c"
  "ef760014904671014a193f40c15fc244",
  "b11e398dc80327a1c8e7f78c596a4934"
  "4f012eda2d4efad8a050cc4c19afa97c"
  "59045a99cac7827271cb41c65e590e09"
  "da3275600c2f09b8367793a9aca3db71"
  "cc30c58179ec3e87c14c01d5c1f3434f"
  "1d87",
};

/* RFC 5869 Appendix A.3: Test Case 3, zero-length salt and info. */
static const HkdfVector rfc5869_case3 = {
  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
  "",
  "",
  42,
  "19ef24a32c717b167f33a91d6f648bdf"
  "96596776afdb6377ac434c1c293ccb04",
  "8da4e775a563c18f715f802a063c5a31"
  "b8a11f5c5ee1879ec3454e5f3c738d2d"
  "9d201395faa4b61a96c8",
};

static void
check_hkdf_vector (const HkdfVector *v)
{
  gsize ikm_len, salt_len, info_len, prk_len, okm_len;
  g_autofree guint8 *ikm = hex_decode (v->ikm, &ikm_len);
  g_autofree guint8 *salt = hex_decode (v->salt, &salt_len);
  g_autofree guint8 *info = hex_decode (v->info, &info_len);
  g_autofree guint8 *prk_expected = hex_decode (v->prk, &prk_len);
  g_autofree guint8 *okm_expected = hex_decode (v->okm, &okm_len);
  g_autofree guint8 *okm = NULL;
  guint8 prk[SMMP_HASH_BYTES];

  g_assert_cmpuint (prk_len, ==, SMMP_HASH_BYTES);
  g_assert_cmpuint (okm_len, ==, v->okm_len);

  memset (prk, 0xa5, sizeof prk);
  smmp_hkdf_extract (prk, salt_len > 0 ? salt : NULL, salt_len, ikm, ikm_len);
  g_assert_cmpmem (prk, sizeof prk, prk_expected, prk_len);

  okm = g_malloc (okm_len + 1);
  okm[okm_len] = 0x5a; /* guard: expand must write exactly okm_len bytes */
  g_assert_true (smmp_hkdf_expand (okm, okm_len, prk, sizeof prk,
                                   info_len > 0 ? info : NULL, info_len));
  g_assert_cmpmem (okm, okm_len, okm_expected, okm_len);
  g_assert_cmpuint (okm[okm_len], ==, 0x5a);
}

static void
test_hkdf_rfc5869_case1 (void)
{
  check_hkdf_vector (&rfc5869_case1);
}

static void
test_hkdf_rfc5869_case2 (void)
{
  check_hkdf_vector (&rfc5869_case2);
}

static void
test_hkdf_rfc5869_case3 (void)
{
  check_hkdf_vector (&rfc5869_case3);
}

/* Test case 3 has an empty salt: passing a NULL salt and passing an explicit
 * HashLen of zeros must both give the published PRK (RFC 5869 section 2.2). */
static void
test_hkdf_extract_null_salt (void)
{
  gsize ikm_len, prk_len;
  g_autofree guint8 *ikm = hex_decode (rfc5869_case3.ikm, &ikm_len);
  g_autofree guint8 *prk_expected = hex_decode (rfc5869_case3.prk, &prk_len);
  guint8 zeros[SMMP_HASH_BYTES] = { 0 };
  guint8 prk[SMMP_HASH_BYTES];

  smmp_hkdf_extract (prk, NULL, 0, ikm, ikm_len);
  g_assert_cmpmem (prk, sizeof prk, prk_expected, prk_len);

  memset (prk, 0, sizeof prk);
  smmp_hkdf_extract (prk, zeros, sizeof zeros, ikm, ikm_len);
  g_assert_cmpmem (prk, sizeof prk, prk_expected, prk_len);
}

/* The longest output (255 blocks) is allowed; one byte more is refused
 * without writing anything. */
static void
test_hkdf_expand_limit (void)
{
  gsize prk_len, info_len, okm_len;
  g_autofree guint8 *prk = hex_decode (rfc5869_case1.prk, &prk_len);
  g_autofree guint8 *info = hex_decode (rfc5869_case1.info, &info_len);
  g_autofree guint8 *okm_expected = hex_decode (rfc5869_case1.okm, &okm_len);
  g_autofree guint8 *buf = g_malloc (SMMP_HKDF_MAX_OUTPUT + 1);

  g_assert_cmpuint (SMMP_HKDF_MAX_OUTPUT, ==, 255 * 32);

  memset (buf, 0xc3, SMMP_HKDF_MAX_OUTPUT + 1);
  g_assert_false (smmp_hkdf_expand (buf, SMMP_HKDF_MAX_OUTPUT + 1, prk, prk_len,
                                    info, info_len));
  for (gsize i = 0; i < SMMP_HKDF_MAX_OUTPUT + 1; i++)
    g_assert_cmpuint (buf[i], ==, 0xc3);

  memset (buf, 0xc3, SMMP_HKDF_MAX_OUTPUT + 1);
  g_assert_false (smmp_hkdf_expand (buf, G_MAXSIZE, prk, prk_len, info, info_len));
  g_assert_cmpuint (buf[0], ==, 0xc3);

  g_assert_true (smmp_hkdf_expand (buf, SMMP_HKDF_MAX_OUTPUT, prk, prk_len,
                                   info, info_len));
  /* HKDF output of length L is a prefix of any longer output. */
  g_assert_cmpmem (buf, okm_len, okm_expected, okm_len);
  g_assert_cmpuint (buf[SMMP_HKDF_MAX_OUTPUT], ==, 0xc3);
  /* The last block is not left unwritten. */
  {
    gboolean all_c3 = TRUE;

    for (gsize i = SMMP_HKDF_MAX_OUTPUT - 32; i < SMMP_HKDF_MAX_OUTPUT; i++)
      all_c3 = all_c3 && buf[i] == 0xc3;
    g_assert_false (all_c3);
  }
}

/* smmp_kdf(key, label) is HKDF-Expand(key, label, 32). */
static void
test_kdf_is_hkdf_expand (void)
{
  static const char *const labels[] = {
    "SMMPv1 message key", "SMMPv1 chain", "a", "",
  };
  guint8 key[SMMP_KEY_BYTES];
  guint8 outs[G_N_ELEMENTS (labels)][SMMP_KEY_BYTES];

  for (gsize i = 0; i < sizeof key; i++)
    key[i] = (guint8) (0x40 + 3 * i);

  for (gsize l = 0; l < G_N_ELEMENTS (labels); l++)
    {
      guint8 expected[SMMP_KEY_BYTES];

      g_assert_true (smmp_hkdf_expand (expected, sizeof expected, key, sizeof key,
                                       (const guint8 *) labels[l],
                                       strlen (labels[l])));
      memset (outs[l], 0, SMMP_KEY_BYTES);
      smmp_kdf (outs[l], key, labels[l]);
      g_assert_cmpmem (outs[l], SMMP_KEY_BYTES, expected, sizeof expected);
    }
  /* Different labels give different keys. */
  for (gsize a = 0; a < G_N_ELEMENTS (labels); a++)
    for (gsize b = a + 1; b < G_N_ELEMENTS (labels); b++)
      g_assert_true (memcmp (outs[a], outs[b], SMMP_KEY_BYTES) != 0);
}

/* With RFC 5869 test case 3's PRK and its empty info, smmp_kdf with the
 * empty label gives the first 32 bytes of the published OKM. */
static void
test_kdf_rfc5869_case3 (void)
{
  gsize prk_len, okm_len;
  g_autofree guint8 *prk = hex_decode (rfc5869_case3.prk, &prk_len);
  g_autofree guint8 *okm = hex_decode (rfc5869_case3.okm, &okm_len);
  guint8 out[SMMP_KEY_BYTES];

  g_assert_cmpuint (prk_len, ==, SMMP_KEY_BYTES);
  smmp_kdf (out, prk, "");
  g_assert_cmpmem (out, sizeof out, okm, SMMP_KEY_BYTES);
}

/* SHA-256(label || 0x00 || data) computed in one call by libsodium. */
static void
reference_labelled_hash (const char *label, const guint8 *data, gsize len,
                         guint8 out[SMMP_HASH_BYTES])
{
  gsize label_len = strlen (label);
  g_autofree guint8 *buf = g_malloc (label_len + 1 + len);

  memcpy (buf, label, label_len);
  buf[label_len] = 0x00;
  if (len > 0)
    memcpy (buf + label_len + 1, data, len);
  crypto_hash_sha256 (out, buf, label_len + 1 + len);
}

static void
test_hash_matches_sha256 (void)
{
  static const char *const labels[] = { "SMMPv1 fingerprint", "x", "" };
  static const gsize lengths[] = { 0, 1, 55, 64, 200 };
  guint8 data[200];

  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 7 + 1);

  for (gsize l = 0; l < G_N_ELEMENTS (labels); l++)
    for (gsize k = 0; k < G_N_ELEMENTS (lengths); k++)
      {
        gsize len = lengths[k];
        guint8 expected[SMMP_HASH_BYTES], one[SMMP_HASH_BYTES], split[SMMP_HASH_BYTES];
        SmmpHash hash;

        reference_labelled_hash (labels[l], data, len, expected);

        smmp_hash_init (&hash, labels[l]);
        smmp_hash_update (&hash, data, len);
        smmp_hash_final (&hash, one);
        g_assert_cmpmem (one, sizeof one, expected, sizeof expected);

        /* Feeding the data in pieces gives the same digest. */
        smmp_hash_init (&hash, labels[l]);
        smmp_hash_update (&hash, data, len / 3);
        smmp_hash_update (&hash, data + len / 3, 0);
        smmp_hash_update (&hash, data + len / 3, len - len / 3);
        smmp_hash_final (&hash, split);
        g_assert_cmpmem (split, sizeof split, expected, sizeof expected);
      }
}

/* smmp_hash_final wipes the state it was given. */
static void
test_hash_final_wipes (void)
{
  SmmpHash hash;
  guint8 out[SMMP_HASH_BYTES];
  const guint8 *raw = (const guint8 *) &hash;

  smmp_hash_init (&hash, "SMMPv1 test");
  smmp_hash_update (&hash, "some data", 9);
  smmp_hash_final (&hash, out);
  for (gsize i = 0; i < sizeof hash; i++)
    g_assert_cmpuint (raw[i], ==, 0);
}

static void
test_hash_label_separates (void)
{
  static const guint8 data[] = "payload";
  guint8 a[SMMP_HASH_BYTES], b[SMMP_HASH_BYTES], c[SMMP_HASH_BYTES], d[SMMP_HASH_BYTES];
  SmmpHash hash;

  smmp_hash_init (&hash, "SMMPv1 label one");
  smmp_hash_update (&hash, data, sizeof data - 1);
  smmp_hash_final (&hash, a);

  smmp_hash_init (&hash, "SMMPv1 label two");
  smmp_hash_update (&hash, data, sizeof data - 1);
  smmp_hash_final (&hash, b);
  g_assert_true (memcmp (a, b, sizeof a) != 0);

  /* The 0x00 separator keeps label "ab" + data "c" apart from label "a" +
   * data "bc", and from the plain SHA-256 of "abc". */
  smmp_hash_init (&hash, "ab");
  smmp_hash_update (&hash, "c", 1);
  smmp_hash_final (&hash, c);
  smmp_hash_init (&hash, "a");
  smmp_hash_update (&hash, "bc", 2);
  smmp_hash_final (&hash, d);
  g_assert_true (memcmp (c, d, sizeof c) != 0);
  crypto_hash_sha256 (d, (const guint8 *) "abc", 3);
  g_assert_true (memcmp (c, d, sizeof c) != 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!smmp_init (NULL))
    g_error ("smmp_init failed");

  g_test_add_func ("/kdf/hkdf/rfc5869-a1", test_hkdf_rfc5869_case1);
  g_test_add_func ("/kdf/hkdf/rfc5869-a2", test_hkdf_rfc5869_case2);
  g_test_add_func ("/kdf/hkdf/rfc5869-a3", test_hkdf_rfc5869_case3);
  g_test_add_func ("/kdf/hkdf/extract-null-salt", test_hkdf_extract_null_salt);
  g_test_add_func ("/kdf/hkdf/expand-limit", test_hkdf_expand_limit);
  g_test_add_func ("/kdf/kdf/is-hkdf-expand", test_kdf_is_hkdf_expand);
  g_test_add_func ("/kdf/kdf/rfc5869-a3", test_kdf_rfc5869_case3);
  g_test_add_func ("/kdf/hash/matches-sha256", test_hash_matches_sha256);
  g_test_add_func ("/kdf/hash/final-wipes", test_hash_final_wipes);
  g_test_add_func ("/kdf/hash/label-separates", test_hash_label_separates);

  return g_test_run ();
}
