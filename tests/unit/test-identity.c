/* test-identity.c: identity key pairs, their JSON form and fingerprints. */
#include "smmp-error.h"
#include "smmp-identity.h"
#include "smmp-init.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

static const guint8 all_zero[SMMP_PUBLIC_KEY_BYTES] = { 0 };

/* Wipes and frees JSON that holds a private key. */
static void
json_free (char *json)
{
  if (json == NULL)
    return;
  sodium_memzero (json, strlen (json));
  g_free (json);
}

/* The "public" and "secret" base64 texts of an identity's JSON. */
static void
json_key_texts (const char *json, char **public_b64, char **secret_b64)
{
  JsonParser *parser = json_parser_new ();
  JsonObject *object;
  g_autoptr (GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  object = json_node_get_object (json_parser_get_root (parser));
  *public_b64 = g_strdup (json_object_get_string_member (object, "public"));
  *secret_b64 = g_strdup (json_object_get_string_member (object, "secret"));
  g_assert_nonnull (*public_b64);
  g_assert_nonnull (*secret_b64);
  g_object_unref (parser);
}

static void
expect_storage_error (const char *json)
{
  g_autoptr (GError) error = NULL;
  SmmpIdentity *identity = smmp_identity_from_json (json, &error);

  if (identity != NULL)
    g_error ("accepted: %s", json);
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_STORAGE);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
}

/* ---- key pairs -------------------------------------------------------- */

static void
test_generate_and_dh (void)
{
  SmmpIdentity *a = smmp_identity_generate ();
  SmmpIdentity *b = smmp_identity_generate ();
  SmmpIdentity *c = smmp_identity_generate ();
  guint8 ab[SMMP_PUBLIC_KEY_BYTES], ba[SMMP_PUBLIC_KEY_BYTES];
  guint8 ac[SMMP_PUBLIC_KEY_BYTES];

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpuint (SMMP_PUBLIC_KEY_BYTES, ==, crypto_scalarmult_BYTES);
  g_assert_true (memcmp (smmp_identity_get_public (a), all_zero,
                         SMMP_PUBLIC_KEY_BYTES) != 0);
  g_assert_true (memcmp (smmp_identity_get_public (a), smmp_identity_get_public (b),
                         SMMP_PUBLIC_KEY_BYTES) != 0);
  /* The public key is a valid curve point: DH with it succeeds. */
  g_assert_true (smmp_identity_dh (a, smmp_identity_get_public (b), ab));
  g_assert_true (smmp_identity_dh (b, smmp_identity_get_public (a), ba));
  g_assert_cmpmem (ab, sizeof ab, ba, sizeof ba);
  g_assert_true (memcmp (ab, all_zero, sizeof ab) != 0);

  g_assert_true (smmp_identity_dh (a, smmp_identity_get_public (c), ac));
  g_assert_true (memcmp (ab, ac, sizeof ab) != 0);

  smmp_identity_free (a);
  smmp_identity_free (b);
  smmp_identity_free (c);
  smmp_identity_free (NULL);
}

/* ---- JSON ------------------------------------------------------------- */

static void
test_json_round_trip (void)
{
  SmmpIdentity *a = smmp_identity_generate ();
  SmmpIdentity *peer = smmp_identity_generate ();
  SmmpIdentity *loaded;
  char *json = smmp_identity_to_json (a);
  char *json2;
  g_autoptr (GError) error = NULL;
  guint8 x[SMMP_PUBLIC_KEY_BYTES], y[SMMP_PUBLIC_KEY_BYTES];

  g_assert_nonnull (json);
  loaded = smmp_identity_from_json (json, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_cmpmem (smmp_identity_get_public (loaded), SMMP_PUBLIC_KEY_BYTES,
                   smmp_identity_get_public (a), SMMP_PUBLIC_KEY_BYTES);

  /* The private key came back too: the same DH results. */
  g_assert_true (smmp_identity_dh (a, smmp_identity_get_public (peer), x));
  g_assert_true (smmp_identity_dh (loaded, smmp_identity_get_public (peer), y));
  g_assert_cmpmem (x, sizeof x, y, sizeof y);
  g_assert_true (smmp_identity_dh (peer, smmp_identity_get_public (loaded), y));
  g_assert_cmpmem (x, sizeof x, y, sizeof y);

  /* Writing the loaded identity again gives the same text. */
  json2 = smmp_identity_to_json (loaded);
  g_assert_cmpstr (json, ==, json2);

  json_free (json);
  json_free (json2);
  smmp_identity_free (a);
  smmp_identity_free (peer);
  smmp_identity_free (loaded);
}

#define JSON_FMT "{\"type\":%s,\"version\":%s,\"public\":%s,\"secret\":%s}"

/* A well-formed object with the given member values is accepted: the
 * rejection tests below differ from it in one member only. */
static void
test_json_hand_written (void)
{
  SmmpIdentity *a = smmp_identity_generate ();
  char *json = smmp_identity_to_json (a);
  g_autofree char *pub = NULL, *sec = NULL, *pub_q = NULL, *sec_q = NULL;
  char *text;
  SmmpIdentity *loaded;
  g_autoptr (GError) error = NULL;

  json_key_texts (json, &pub, &sec);
  pub_q = g_strdup_printf ("\"%s\"", pub);
  sec_q = g_strdup_printf ("\"%s\"", sec);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", pub_q, sec_q);
  loaded = smmp_identity_from_json (text, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_cmpmem (smmp_identity_get_public (loaded), SMMP_PUBLIC_KEY_BYTES,
                   smmp_identity_get_public (a), SMMP_PUBLIC_KEY_BYTES);

  smmp_identity_free (loaded);
  json_free (text);
  json_free (json);
  sodium_memzero (sec, strlen (sec));
  sodium_memzero (sec_q, strlen (sec_q));
  smmp_identity_free (a);
}

/* libsodium 1.0.18 reads bytes >= 0x80 as '/': a key whose first two
 * base64 characters are replaced by the two bytes of "é" must not load. */
static void
test_json_rejects_non_ascii_base64 (void)
{
  g_autoptr (GError) error = NULL;
  SmmpIdentity *a = smmp_identity_generate ();
  char *json = smmp_identity_to_json (a);
  g_autofree char *pub = NULL, *sec = NULL;
  char *at;

  json_key_texts (json, &pub, &sec);
  at = strstr (json, pub);
  g_assert_nonnull (at);
  at[0] = (char) 0xc3;
  at[1] = (char) 0xa9;
  g_assert_null (smmp_identity_from_json (json, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_STORAGE);
  sodium_memzero (json, strlen (json));
  sodium_memzero (sec, strlen (sec));
  g_free (json);
  smmp_identity_free (a);
}

static void
test_json_rejects (void)
{
  SmmpIdentity *a = smmp_identity_generate ();
  SmmpIdentity *other = smmp_identity_generate ();
  char *json = smmp_identity_to_json (a);
  char *other_json = smmp_identity_to_json (other);
  g_autofree char *pub = NULL, *sec = NULL, *other_pub = NULL, *other_sec = NULL;
  g_autofree char *pub_q = NULL, *sec_q = NULL, *other_pub_q = NULL;
  g_autofree char *short_q = NULL, *long_q = NULL;
  g_autofree char *short_pub_q = NULL, *long_pub_q = NULL;
  char *text;

  json_key_texts (json, &pub, &sec);
  json_key_texts (other_json, &other_pub, &other_sec);
  pub_q = g_strdup_printf ("\"%s\"", pub);
  sec_q = g_strdup_printf ("\"%s\"", sec);
  other_pub_q = g_strdup_printf ("\"%s\"", other_pub);
  /* The real keys cut to 31 bytes, or with one byte added: only the length
   * is wrong (the first 32 bytes of the longer ones are the right key). */
  {
    gsize len = 0;
    guchar *raw = g_base64_decode (sec, &len);
    guchar *longer = g_malloc (SMMP_PUBLIC_KEY_BYTES + 1);
    g_autofree char *s31 = NULL, *s33 = NULL;

    g_assert_cmpuint (len, ==, SMMP_PUBLIC_KEY_BYTES);
    memcpy (longer, raw, SMMP_PUBLIC_KEY_BYTES);
    longer[SMMP_PUBLIC_KEY_BYTES] = 0x01;
    s31 = g_base64_encode (raw, SMMP_PUBLIC_KEY_BYTES - 1);
    s33 = g_base64_encode (longer, SMMP_PUBLIC_KEY_BYTES + 1);
    short_q = g_strdup_printf ("\"%s\"", s31);
    long_q = g_strdup_printf ("\"%s\"", s33);
    sodium_memzero (raw, len);
    sodium_memzero (longer, SMMP_PUBLIC_KEY_BYTES + 1);
    sodium_memzero (s31, strlen (s31));
    sodium_memzero (s33, strlen (s33));
    g_free (raw);
    g_free (longer);

    raw = g_base64_decode (pub, &len);
    g_assert_cmpuint (len, ==, SMMP_PUBLIC_KEY_BYTES);
    longer = g_malloc (SMMP_PUBLIC_KEY_BYTES + 1);
    memcpy (longer, raw, SMMP_PUBLIC_KEY_BYTES);
    longer[SMMP_PUBLIC_KEY_BYTES] = 0x01;
    g_free (s31);
    g_free (s33);
    s31 = g_base64_encode (raw, SMMP_PUBLIC_KEY_BYTES - 1);
    s33 = g_base64_encode (longer, SMMP_PUBLIC_KEY_BYTES + 1);
    short_pub_q = g_strdup_printf ("\"%s\"", s31);
    long_pub_q = g_strdup_printf ("\"%s\"", s33);
    g_free (raw);
    g_free (longer);
  }

  /* Not JSON at all, or truncated. */
  expect_storage_error ("this is not JSON");
  expect_storage_error ("");
  text = g_strndup (json, strlen (json) / 2);
  expect_storage_error (text);
  json_free (text);

  /* JSON, but not an object. */
  expect_storage_error ("[1, 2, 3]");
  expect_storage_error ("\"smmp-identity\"");
  expect_storage_error ("42");

  /* Wrong or missing "type". */
  text = g_strdup_printf (JSON_FMT, "\"other-identity\"", "1", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf ("{\"version\":1,\"public\":%s,\"secret\":%s}", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);

  /* "type" or "version" of the wrong JSON kind: an error, never a warning. */
  text = g_strdup_printf (JSON_FMT, "[]", "1", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "{}", "1", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "{}", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "[1]", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "true", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1.5", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "\"1\"", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", "[]", sec_q);
  expect_storage_error (text);
  json_free (text);
  {
    /* Junk inside a key's base64 is an error, not something to skip. */
    g_autofree char *junk = g_strdup (pub_q);
    junk[5] = '!';
    text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", junk, sec_q);
    expect_storage_error (text);
    json_free (text);
  }

  /* Wrong or missing "version". */
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "2", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "0", pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf ("{\"type\":\"smmp-identity\",\"public\":%s,\"secret\":%s}",
                          pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);

  /* Missing "secret", or not a string. */
  text = g_strdup_printf ("{\"type\":\"smmp-identity\",\"version\":1,\"public\":%s}",
                          pub_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", pub_q, "17");
  expect_storage_error (text);
  json_free (text);

  /* Missing "public". */
  text = g_strdup_printf ("{\"type\":\"smmp-identity\",\"version\":1,\"secret\":%s}",
                          sec_q);
  expect_storage_error (text);
  json_free (text);

  /* A secret of 31 or 33 bytes, or an empty one. */
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", pub_q, short_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", pub_q, long_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", pub_q, "\"\"");
  expect_storage_error (text);
  json_free (text);

  /* A public key of the wrong length. */
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", short_pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", long_pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);

  /* A public key that is not the secret's. */
  text = g_strdup_printf (JSON_FMT, "\"smmp-identity\"", "1", other_pub_q, sec_q);
  expect_storage_error (text);
  json_free (text);

  json_free (json);
  json_free (other_json);
  sodium_memzero (sec, strlen (sec));
  sodium_memzero (sec_q, strlen (sec_q));
  sodium_memzero (short_q, strlen (short_q));
  sodium_memzero (long_q, strlen (long_q));
  sodium_memzero (other_sec, strlen (other_sec));
  smmp_identity_free (a);
  smmp_identity_free (other);
}

/* ---- fingerprints ------------------------------------------------------ */

static void
check_fingerprint_text (const char *text)
{
  g_assert_cmpuint (strlen (text), ==, 44);
  for (gsize i = 0; i < 44; i++)
    {
      if (i % 9 == 8)
        g_assert_cmpint (text[i], ==, ' ');
      else
        g_assert_true (g_ascii_isdigit (text[i]) || (text[i] >= 'A' && text[i] <= 'F'));
    }
}

static void
test_fingerprint_format (void)
{
  SmmpIdentity *a = smmp_identity_generate ();
  SmmpIdentity *b = smmp_identity_generate ();
  g_autofree char *fa = smmp_fingerprint_format (smmp_identity_get_public (a));
  g_autofree char *fa2 = smmp_fingerprint_format (smmp_identity_get_public (a));
  g_autofree char *fb = smmp_fingerprint_format (smmp_identity_get_public (b));
  guint8 raw[SMMP_FINGERPRINT_BYTES];
  GString *expected = g_string_new (NULL);

  check_fingerprint_text (fa);
  check_fingerprint_text (fb);
  g_assert_cmpstr (fa, ==, fa2);
  g_assert_cmpstr (fa, !=, fb);

  /* The text is the hex of smmp_fingerprint_compute, grouped by four bytes. */
  smmp_fingerprint_compute (smmp_identity_get_public (a), raw);
  for (gsize i = 0; i < sizeof raw; i++)
    g_string_append_printf (expected, "%s%02X", i > 0 && i % 4 == 0 ? " " : "", raw[i]);
  g_assert_cmpstr (fa, ==, expected->str);
  g_string_free (expected, TRUE);

  /* A fixed key always gives the same fingerprint bytes. */
  {
    guint8 key[SMMP_PUBLIC_KEY_BYTES], r1[SMMP_FINGERPRINT_BYTES], r2[SMMP_FINGERPRINT_BYTES];

    memset (key, 0x42, sizeof key);
    smmp_fingerprint_compute (key, r1);
    smmp_fingerprint_compute (key, r2);
    g_assert_cmpmem (r1, sizeof r1, r2, sizeof r2);
    key[31] ^= 1;
    smmp_fingerprint_compute (key, r2);
    g_assert_true (memcmp (r1, r2, sizeof r1) != 0);
  }

  smmp_identity_free (a);
  smmp_identity_free (b);
}

/* Fingerprints are compared between implementations, so their definition
 * is pinned: the first 20 bytes of SHA-256("SMMPv1 fingerprint" || 0x00 ||
 * B), the labelled hash of smmp-kdf.h. */
static void
test_fingerprint_definition (void)
{
  static const char label[] = "SMMPv1 fingerprint";
  guint8 key[SMMP_PUBLIC_KEY_BYTES], buf[sizeof label + SMMP_PUBLIC_KEY_BYTES];
  guint8 digest[crypto_hash_sha256_BYTES], raw[SMMP_FINGERPRINT_BYTES];

  for (guint i = 0; i < 4; i++)
    {
      randombytes_buf (key, sizeof key);
      memcpy (buf, label, sizeof label); /* the label and its NUL, 0x00 */
      memcpy (buf + sizeof label, key, sizeof key);
      crypto_hash_sha256 (digest, buf, sizeof buf);
      smmp_fingerprint_compute (key, raw);
      g_assert_cmpmem (raw, sizeof raw, digest, SMMP_FINGERPRINT_BYTES);
    }
}

/* Keeps only the hex digits of @text, lower-cased if @lower, with @sep
 * inserted every @every digits (never, if 0). */
static char *
reformat (const char *text, gboolean lower, const char *sep, guint every)
{
  GString *s = g_string_new (NULL);
  guint digits = 0;

  for (const char *p = text; *p != '\0'; p++)
    {
      if (!g_ascii_isxdigit (*p))
        continue;
      if (digits > 0 && every > 0 && digits % every == 0)
        g_string_append (s, sep);
      g_string_append_c (s, lower ? g_ascii_tolower (*p) : *p);
      digits++;
    }
  return g_string_free (s, FALSE);
}

static void
expect_parse (const char *text, const guint8 expected[SMMP_FINGERPRINT_BYTES])
{
  guint8 out[SMMP_FINGERPRINT_BYTES];

  memset (out, 0, sizeof out);
  if (!smmp_fingerprint_parse (text, out))
    g_error ("rejected: \"%s\"", text);
  g_assert_cmpmem (out, sizeof out, expected, SMMP_FINGERPRINT_BYTES);
}

static void
expect_parse_fails (const char *text)
{
  guint8 out[SMMP_FINGERPRINT_BYTES];

  if (smmp_fingerprint_parse (text, out))
    g_error ("accepted: \"%s\"", text);
}

static void
test_fingerprint_parse (void)
{
  SmmpIdentity *a = smmp_identity_generate ();
  g_autofree char *text = smmp_fingerprint_format (smmp_identity_get_public (a));
  guint8 raw[SMMP_FINGERPRINT_BYTES];
  char *variant;

  smmp_fingerprint_compute (smmp_identity_get_public (a), raw);

  expect_parse (text, raw);                             /* as formatted */
  variant = reformat (text, TRUE, " ", 8);              /* lower case */
  expect_parse (variant, raw);
  g_free (variant);
  variant = reformat (text, FALSE, "", 0);              /* no spaces */
  g_assert_cmpuint (strlen (variant), ==, 40);
  expect_parse (variant, raw);
  g_free (variant);
  variant = reformat (text, FALSE, ":", 2);             /* colons */
  expect_parse (variant, raw);
  g_free (variant);
  variant = reformat (text, TRUE, "-", 4);              /* dashes */
  expect_parse (variant, raw);
  g_free (variant);
  variant = g_strdup_printf ("  %s  ", text);           /* surrounding spaces */
  expect_parse (variant, raw);
  g_free (variant);

  /* Fixed text with a known value. */
  {
    static const guint8 known[SMMP_FINGERPRINT_BYTES] = {
      0x89, 0xab, 0x01, 0xcd, 0x12, 0xef, 0x34, 0x56, 0x78, 0x9a,
      0xbc, 0xde, 0xf0, 0x00, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50,
    };

    expect_parse ("89AB01CD 12EF3456 789ABCDE F000FF10 20304050", known);
    expect_parse ("89ab01cd12ef3456789abcdef000ff1020304050", known);
    expect_parse ("89:ab:01:cd:12:ef:34:56:78:9a:bc:de:f0:00:ff:10:20:30:40:50", known);
  }

  /* 39 or 41 digits; 80 digits; nothing. */
  expect_parse_fails ("89AB01CD 12EF3456 789ABCDE F000FF10 2030405");
  expect_parse_fails ("89AB01CD 12EF3456 789ABCDE F000FF10 203040506");
  variant = reformat (text, FALSE, "", 0);
  variant[39] = '\0';
  expect_parse_fails (variant);
  g_free (variant);
  variant = g_strdup_printf ("%s0", text);
  expect_parse_fails (variant);
  g_free (variant);
  variant = g_strdup_printf ("%s %s", text, text);
  expect_parse_fails (variant);
  g_free (variant);
  expect_parse_fails ("");
  expect_parse_fails ("   ");

  /* Characters that are not hex digits or separators. */
  expect_parse_fails ("89AB01CD 12EF3456 789ABCDE F000FF10 2030405G");
  expect_parse_fails ("G9AB01CD 12EF3456 789ABCDE F000FF10 20304050");
  expect_parse_fails ("89AB01CD.12EF3456 789ABCDE F000FF10 20304050");
  expect_parse_fails ("0x89AB01CD 12EF3456 789ABCDE F000FF10 203040");
  expect_parse_fails ("89AB01CD 12EF3456 789ABCDE F000FF10 2030405\xc3\xa9");

  smmp_identity_free (a);
}

/* parse(format(k)) == compute(k) for several keys. */
static void
test_fingerprint_parse_format (void)
{
  for (guint i = 0; i < 8; i++)
    {
      guint8 key[SMMP_PUBLIC_KEY_BYTES], raw[SMMP_FINGERPRINT_BYTES], parsed[SMMP_FINGERPRINT_BYTES];
      g_autofree char *text = NULL;

      randombytes_buf (key, sizeof key);
      text = smmp_fingerprint_format (key);
      smmp_fingerprint_compute (key, raw);
      memset (parsed, 0, sizeof parsed);
      g_assert_true (smmp_fingerprint_parse (text, parsed));
      g_assert_cmpmem (parsed, sizeof parsed, raw, sizeof raw);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!smmp_init (NULL))
    g_error ("smmp_init failed");

  g_test_add_func ("/identity/generate-and-dh", test_generate_and_dh);
  g_test_add_func ("/identity/json/round-trip", test_json_round_trip);
  g_test_add_func ("/identity/json/hand-written", test_json_hand_written);
  g_test_add_func ("/identity/json/rejects", test_json_rejects);
  g_test_add_func ("/identity/json/rejects-non-ascii-base64", test_json_rejects_non_ascii_base64);
  g_test_add_func ("/identity/fingerprint/format", test_fingerprint_format);
  g_test_add_func ("/identity/fingerprint/definition", test_fingerprint_definition);
  g_test_add_func ("/identity/fingerprint/parse", test_fingerprint_parse);
  g_test_add_func ("/identity/fingerprint/parse-format", test_fingerprint_parse_format);

  return g_test_run ();
}
