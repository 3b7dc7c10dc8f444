/* test-armour.c: frames as text in a room message body. */
#include "smmp-armour.h"
#include "smmp-error.h"
#include "smmp-frame.h"
#include "smmp-init.h"

#include <sodium.h>
#include <string.h>

static GBytes *
pattern_bytes (gsize len)
{
  guint8 *data = g_malloc (len > 0 ? len : 1);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (i * 131 + 7);
  return g_bytes_new_take (data, len);
}

/* Standard padded base64 of @bytes, by libsodium. */
static char *
base64_of (GBytes *bytes)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  gsize b64_len = sodium_base64_encoded_len (len, sodium_base64_VARIANT_ORIGINAL);
  char *b64 = g_malloc (b64_len);

  sodium_bin2base64 (b64, b64_len, data, len, sodium_base64_VARIANT_ORIGINAL);
  return b64;
}

static void
expect_decode (const char *text, GBytes *expected)
{
  GError *error = NULL;
  GBytes *got = smmp_armour_decode (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (got);
  g_assert_true (g_bytes_equal (got, expected));
  g_bytes_unref (got);
}

static void
expect_reject (const char *text, SmmpErrorCode code)
{
  GError *error = NULL;
  GBytes *got = smmp_armour_decode (text, &error);

  g_assert_null (got);
  g_assert_error (error, SMMP_ERROR, (gint) code);
  g_clear_error (&error);
}

/* ---- encoding and round trips ----------------------------------------- */

static void
test_round_trip (void)
{
  static const gsize sizes[] = { 1, 2, 3, 4, 5, 84, 100, 467, 4096 };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      GBytes *frame = pattern_bytes (sizes[i]);
      char *text = smmp_armour_encode (frame);

      g_assert_nonnull (text);
      expect_decode (text, frame);
      g_free (text);
      g_bytes_unref (frame);
    }
}

/* A real frame goes through armour and decodes to the same frame. */
static void
test_round_trip_frame (void)
{
  guint8 sid[SMMP_SID_BYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  GBytes *frame, *back;
  char *text;
  GError *error = NULL;
  SmmpFrame *f;

  randombytes_buf (sid, sizeof sid);
  g_assert_cmpint (crypto_sign_keypair (pk, sk), ==, 0);
  frame = smmp_frame_encode_abort (sid, 2, SMMP_ERROR_TIMEOUT, sk);
  text = smmp_armour_encode (frame);
  back = smmp_armour_decode (text, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, frame));
  f = smmp_frame_decode_bytes (back, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->type, ==, SMMP_FRAME_ABORT);
  g_assert_cmpuint (f->reason, ==, SMMP_ERROR_TIMEOUT);
  g_assert_true (smmp_frame_verify (f, pk));
  smmp_frame_free (f);
  g_bytes_unref (back);
  g_bytes_unref (frame);
  g_free (text);
}

/* The largest frame fits within the text bound and comes back. */
static void
test_round_trip_largest (void)
{
  GBytes *frame = pattern_bytes (SMMP_FRAME_MAX_BYTES);
  char *text = smmp_armour_encode (frame);

  g_assert_cmpuint (strlen (text), <=, smmp_armour_max_chars ());
  expect_decode (text, frame);
  g_free (text);
  g_bytes_unref (frame);
}

/* HINT, a space, the tag, padded standard base64, a full stop. */
static void
test_format (void)
{
  GBytes *frame = pattern_bytes (10);
  char *text = smmp_armour_encode (frame);
  char *b64 = base64_of (frame);
  char *expected = g_strconcat (SMMP_ARMOUR_HINT, " ", SMMP_ARMOUR_TAG, b64, ".", NULL);

  g_assert_true (g_str_has_prefix (text, SMMP_ARMOUR_HINT));
  g_assert_true (g_str_has_prefix (text, SMMP_ARMOUR_HINT " " SMMP_ARMOUR_TAG));
  g_assert_true (g_str_has_suffix (text, "==."));
  g_assert_cmpstr (text, ==, expected);
  /* GLib's base64 agrees. */
  {
    g_autofree char *glib_b64 = g_base64_encode (g_bytes_get_data (frame, NULL), 10);

    g_assert_cmpstr (b64, ==, glib_b64);
  }

  g_free (expected);
  g_free (b64);
  g_free (text);
  g_bytes_unref (frame);
}

static void
test_detect (void)
{
  GBytes *frame = pattern_bytes (20);
  char *text = smmp_armour_encode (frame);

  g_assert_true (smmp_armour_detect (text));
  g_assert_true (smmp_armour_detect (SMMP_ARMOUR_TAG));
  g_assert_true (smmp_armour_detect ("look: ?SMMP1:garbage"));
  g_assert_false (smmp_armour_detect ("an ordinary message"));
  g_assert_false (smmp_armour_detect (""));
  g_assert_false (smmp_armour_detect (NULL));
  g_assert_false (smmp_armour_detect ("?SMMP1 without the colon"));
  g_assert_false (smmp_armour_detect ("?smmp1:lower case"));
  g_assert_false (smmp_armour_detect (SMMP_ARMOUR_HINT));
  g_free (text);
  g_bytes_unref (frame);
}

/* ---- what decoding accepts -------------------------------------------- */

static void
test_decode_accepts (void)
{
  GBytes *frame = pattern_bytes (50);
  g_autofree char *b64 = base64_of (frame);
  char *text;

  /* The tag alone, no hint. */
  text = g_strconcat (SMMP_ARMOUR_TAG, b64, ".", NULL);
  expect_decode (text, frame);
  g_free (text);
  /* Another implementation's hint, or a quoting client's prefix. */
  text = g_strconcat ("[another hint.  With full stops.] ", SMMP_ARMOUR_TAG, b64, ".", NULL);
  expect_decode (text, frame);
  g_free (text);
  text = g_strconcat ("> ", SMMP_ARMOUR_HINT, " ", SMMP_ARMOUR_TAG, b64, ".", NULL);
  expect_decode (text, frame);
  g_free (text);
  /* Trailing white space. */
  text = g_strconcat (SMMP_ARMOUR_HINT " " SMMP_ARMOUR_TAG, b64, ".\n", NULL);
  expect_decode (text, frame);
  g_free (text);
  text = g_strconcat (SMMP_ARMOUR_HINT " " SMMP_ARMOUR_TAG, b64, ". \t\r\n  ", NULL);
  expect_decode (text, frame);
  g_free (text);

  g_bytes_unref (frame);
}

/* ---- what decoding refuses -------------------------------------------- */

static void
test_decode_rejects (void)
{
  GBytes *frame = pattern_bytes (50);
  g_autofree char *b64 = base64_of (frame);
  g_autofree char *good = smmp_armour_encode (frame);
  gsize good_len = strlen (good);
  gsize b64_at = strlen (SMMP_ARMOUR_HINT " " SMMP_ARMOUR_TAG);
  char *text;

  expect_decode (good, frame);

  /* No tag. */
  expect_reject ("an ordinary message.", SMMP_ERROR_MALFORMED);
  expect_reject ("", SMMP_ERROR_MALFORMED);
  expect_reject (SMMP_ARMOUR_HINT, SMMP_ERROR_MALFORMED);
  text = g_strconcat (SMMP_ARMOUR_HINT " ?SMMP1", b64, ".", NULL);
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);
  text = g_strconcat (SMMP_ARMOUR_HINT " ?SMMP2:", b64, ".", NULL);
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);

  /* No closing full stop. */
  text = g_strndup (good, good_len - 1);
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);
  text = g_strconcat (SMMP_ARMOUR_TAG, b64, "\n", NULL);
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);

  /* A character that is not standard base64, in several places. */
  {
    /* Bytes >= 0x80 included: libsodium 1.0.18's decoder reads them as
     * '/', so smmp_armour_decode must check the alphabet itself. */
    static const char bad[] = { '*', '-', '_', ' ', '\n', '!', '=', '\x7f',
                                '\x80', '\xc3', '\xff' };
    static const gsize offsets[] = { 0, 1, 10, 40 };

    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      for (gsize j = 0; j < G_N_ELEMENTS (offsets); j++)
        {
          text = g_strdup (good);
          g_assert_cmpuint (b64_at + offsets[j], <, good_len - 1);
          text[b64_at + offsets[j]] = bad[i];
          expect_reject (text, SMMP_ERROR_MALFORMED);
          g_free (text);
        }
  }

  /* Missing padding (50 bytes end in one '=' in padded base64). */
  g_assert_true (g_str_has_suffix (b64, "="));
  text = g_strconcat (SMMP_ARMOUR_TAG, b64, NULL);
  text[strlen (text) - 1] = '.';
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);

  /* Text after the full stop. */
  text = g_strconcat (good, "x", NULL);
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);
  text = g_strconcat (good, " and more", NULL);
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);
  text = g_strconcat (good, ".", NULL);
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);
  text = g_strconcat (good, "\n", good, NULL);
  expect_reject (text, SMMP_ERROR_MALFORMED);
  g_free (text);

  /* An empty payload. */
  expect_reject (SMMP_ARMOUR_HINT " " SMMP_ARMOUR_TAG ".", SMMP_ERROR_MALFORMED);
  expect_reject (SMMP_ARMOUR_TAG ".", SMMP_ERROR_MALFORMED);
  expect_reject (SMMP_ARMOUR_TAG ".\n", SMMP_ERROR_MALFORMED);

  g_bytes_unref (frame);
}

/* Text over smmp_armour_max_chars() is refused before it is looked at;
 * text of exactly that length is decoded. */
static void
test_decode_text_too_long (void)
{
  GBytes *frame = pattern_bytes (30);
  g_autofree char *b64 = base64_of (frame);
  gsize max = smmp_armour_max_chars ();
  gsize armour_len = strlen (SMMP_ARMOUR_TAG) + strlen (b64) + 1;
  char *text = g_malloc (max + 2);

  g_assert_cmpuint (max, >, strlen (SMMP_ARMOUR_HINT) + 4 * (SMMP_FRAME_MAX_BYTES / 3));

  /* Leading text padding the whole to exactly max characters. */
  memset (text, 'a', max - armour_len);
  g_snprintf (text + max - armour_len, armour_len + 1, "%s%s.", SMMP_ARMOUR_TAG, b64);
  g_assert_cmpuint (strlen (text), ==, max);
  expect_decode (text, frame);

  /* One more character. */
  memset (text, 'a', max + 1 - armour_len);
  g_snprintf (text + max + 1 - armour_len, armour_len + 1, "%s%s.", SMMP_ARMOUR_TAG, b64);
  g_assert_cmpuint (strlen (text), ==, max + 1);
  expect_reject (text, SMMP_ERROR_TOO_LARGE);
  g_free (text);

  /* Trailing white space counts too. */
  text = g_malloc (max + 2);
  g_snprintf (text, max + 2, "%s%s.", SMMP_ARMOUR_TAG, b64);
  memset (text + armour_len, ' ', max + 1 - armour_len);
  text[max + 1] = '\0';
  expect_reject (text, SMMP_ERROR_TOO_LARGE);
  g_free (text);

  /* Long text without a tag at all. */
  text = g_malloc (2 * max + 1);
  memset (text, 'x', 2 * max);
  text[2 * max] = '\0';
  expect_reject (text, SMMP_ERROR_TOO_LARGE);
  g_free (text);

  g_bytes_unref (frame);
}

/* A payload that decodes to more than SMMP_FRAME_MAX_BYTES is refused as
 * too large, even when the text as a whole is within the bound. */
static void
test_decode_payload_too_large (void)
{
  static const gsize sizes[] = {
    /* +1 and +2 have base64 as long as the limit's own: the decoded size
     * decides, and it is still too large, not malformed. */
    SMMP_FRAME_MAX_BYTES + 1, SMMP_FRAME_MAX_BYTES + 2,
    SMMP_FRAME_MAX_BYTES + 3, SMMP_FRAME_MAX_BYTES + 4, SMMP_FRAME_MAX_BYTES + 100,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      GBytes *frame = pattern_bytes (sizes[i]);
      g_autofree char *b64 = base64_of (frame);
      char *text = g_strconcat (SMMP_ARMOUR_TAG, b64, ".", NULL);

      g_assert_cmpuint (strlen (text), <=, smmp_armour_max_chars ());
      expect_reject (text, SMMP_ERROR_TOO_LARGE);
      g_free (text);
      text = smmp_armour_encode (frame);
      g_assert_cmpuint (strlen (text), <=, smmp_armour_max_chars ());
      expect_reject (text, SMMP_ERROR_TOO_LARGE);
      g_free (text);
      g_bytes_unref (frame);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!smmp_init (NULL))
    g_error ("smmp_init failed");

  g_test_add_func ("/armour/round-trip/sizes", test_round_trip);
  g_test_add_func ("/armour/round-trip/frame", test_round_trip_frame);
  g_test_add_func ("/armour/round-trip/largest", test_round_trip_largest);
  g_test_add_func ("/armour/format", test_format);
  g_test_add_func ("/armour/detect", test_detect);
  g_test_add_func ("/armour/decode/accepts", test_decode_accepts);
  g_test_add_func ("/armour/decode/rejects", test_decode_rejects);
  g_test_add_func ("/armour/decode/text-too-long", test_decode_text_too_long);
  g_test_add_func ("/armour/decode/payload-too-large", test_decode_payload_too_large);

  return g_test_run ();
}
