/* smmp-armour.c: base64 armour with a readable hint. */
#include "smmp-armour.h"
#include "smmp-error.h"
#include "smmp-bytes.h"
#include "smmp-frame.h"

#include <sodium.h>
#include <string.h>

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL
/* Room for a hint written by another implementation, within reason. */
#define HINT_MAX_CHARS 512

static gsize
base64_max_chars (void)
{
  return sodium_base64_encoded_len (SMMP_FRAME_MAX_BYTES, B64_VARIANT) - 1;
}

gsize
smmp_armour_max_chars (void)
{
  return HINT_MAX_CHARS + strlen (SMMP_ARMOUR_TAG) + base64_max_chars () + 1;
}

char *
smmp_armour_encode (GBytes *frame)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);
  gsize b64_len = sodium_base64_encoded_len (len, B64_VARIANT);
  char *b64 = g_malloc (b64_len);
  char *text;

  sodium_bin2base64 (b64, b64_len, data, len, B64_VARIANT);
  text = g_strconcat (SMMP_ARMOUR_HINT " " SMMP_ARMOUR_TAG, b64, ".", NULL);
  g_free (b64);
  return text;
}

gboolean
smmp_armour_detect (const char *text)
{
  return text != NULL && strstr (text, SMMP_ARMOUR_TAG) != NULL;
}

GBytes *
smmp_armour_decode (const char *text, GError **error)
{
  gsize text_len = strnlen (text, smmp_armour_max_chars () + 1);
  const char *tag, *b64, *end;
  guint8 *bin;
  gsize bin_len = 0;

  if (text_len > smmp_armour_max_chars ())
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_TOO_LARGE,
                   "armoured text is over the limit of %zu characters",
                   smmp_armour_max_chars ());
      return NULL;
    }
  tag = strstr (text, SMMP_ARMOUR_TAG);
  if (tag == NULL)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
                           "no SMMP armour in the text");
      return NULL;
    }
  b64 = tag + strlen (SMMP_ARMOUR_TAG);
  end = strchr (b64, '.');
  if (end == NULL)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
                           "truncated armour: no closing full stop");
      return NULL;
    }
  for (const char *p = end + 1; *p != '\0'; p++)
    if (!g_ascii_isspace (*p))
      {
        g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
                             "text after the armour");
        return NULL;
      }
  if ((gsize) (end - b64) > base64_max_chars ())
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_TOO_LARGE,
                   "armoured frame is over the limit of %d bytes",
                   SMMP_FRAME_MAX_BYTES);
      return NULL;
    }

  if (!smmp_base64_alphabet_ok (b64, (gsize) (end - b64)))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
                           "armour is not valid base64");
      return NULL;
    }

  /* Room for the two bytes base64 padding can add past the limit, so that
   * an oversized frame is named as such. */
  bin = g_malloc (SMMP_FRAME_MAX_BYTES + 2);
  if (sodium_base642bin (bin, SMMP_FRAME_MAX_BYTES + 2, b64, (gsize) (end - b64),
                         NULL, &bin_len, NULL, B64_VARIANT) != 0
      || bin_len == 0)
    {
      g_free (bin);
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
                           "armour is not valid base64");
      return NULL;
    }
  if (bin_len > SMMP_FRAME_MAX_BYTES)
    {
      g_free (bin);
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_TOO_LARGE,
                   "armoured frame is over the limit of %d bytes", SMMP_FRAME_MAX_BYTES);
      return NULL;
    }
  return g_bytes_new_take (g_realloc (bin, bin_len), bin_len);
}
