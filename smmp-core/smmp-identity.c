/* smmp-identity.c: long-term X25519 identity keys, fingerprints, JSON form. */
#include "smmp-identity.h"
#include "smmp-error.h"
#include "smmp-json.h"
#include "smmp-kdf.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#define IDENTITY_JSON_TYPE "smmp-identity"
#define IDENTITY_JSON_VERSION 1

struct _SmmpIdentity {
  guint8 public_key[SMMP_PUBLIC_KEY_BYTES];
  guint8 *secret; /* sodium_malloc'd, crypto_scalarmult_SCALARBYTES */
};

static SmmpIdentity *
identity_alloc (void)
{
  SmmpIdentity *identity = g_new0 (SmmpIdentity, 1);

  identity->secret = sodium_malloc (crypto_scalarmult_SCALARBYTES);
  if (identity->secret == NULL)
    g_error ("smmp: out of guarded memory");
  return identity;
}

SmmpIdentity *
smmp_identity_generate (void)
{
  SmmpIdentity *identity = identity_alloc ();

  randombytes_buf (identity->secret, crypto_scalarmult_SCALARBYTES);
  crypto_scalarmult_base (identity->public_key, identity->secret);
  return identity;
}

void
smmp_identity_free (SmmpIdentity *identity)
{
  if (identity == NULL)
    return;
  sodium_free (identity->secret); /* zeroes before unmapping */
  g_free (identity);
}

const guint8 *
smmp_identity_get_public (const SmmpIdentity *identity)
{
  return identity->public_key;
}

gboolean
smmp_identity_dh (const SmmpIdentity *identity,
                  const guint8 peer[SMMP_PUBLIC_KEY_BYTES],
                  guint8 out[SMMP_PUBLIC_KEY_BYTES])
{
  if (crypto_scalarmult (out, identity->secret, peer) != 0)
    {
      sodium_memzero (out, SMMP_PUBLIC_KEY_BYTES);
      return FALSE;
    }
  return TRUE;
}

void
smmp_fingerprint_compute (const guint8 public_key[SMMP_PUBLIC_KEY_BYTES],
                          guint8 out[SMMP_FINGERPRINT_BYTES])
{
  SmmpHash hash;
  guint8 digest[SMMP_HASH_BYTES];

  smmp_hash_init (&hash, "SMMPv1 fingerprint");
  smmp_hash_update (&hash, public_key, SMMP_PUBLIC_KEY_BYTES);
  smmp_hash_final (&hash, digest);
  memcpy (out, digest, SMMP_FINGERPRINT_BYTES);
}

char *
smmp_fingerprint_format (const guint8 public_key[SMMP_PUBLIC_KEY_BYTES])
{
  guint8 fp[SMMP_FINGERPRINT_BYTES];
  GString *text = g_string_sized_new (48);

  smmp_fingerprint_compute (public_key, fp);
  for (gsize i = 0; i < sizeof fp; i++)
    {
      if (i > 0 && i % 4 == 0)
        g_string_append_c (text, ' ');
      g_string_append_printf (text, "%02X", fp[i]);
    }
  return g_string_free (text, FALSE);
}

gboolean
smmp_fingerprint_parse (const char *text, guint8 out[SMMP_FINGERPRINT_BYTES])
{
  gsize n = 0;

  for (const char *p = text; *p != '\0'; p++)
    {
      int digit;

      if (*p == ' ' || *p == ':' || *p == '-' || *p == '\t')
        continue;
      digit = g_ascii_xdigit_value (*p);
      if (digit < 0 || n >= 2 * SMMP_FINGERPRINT_BYTES)
        return FALSE;
      if (n % 2 == 0)
        out[n / 2] = (guint8) (digit << 4);
      else
        out[n / 2] |= (guint8) digit;
      n++;
    }
  return n == 2 * SMMP_FINGERPRINT_BYTES;
}

char *
smmp_identity_to_json (const SmmpIdentity *identity)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, IDENTITY_JSON_TYPE);
  smmp_json_add_int (builder, "version", IDENTITY_JSON_VERSION);
  smmp_json_add_bytes (builder, "public", identity->public_key, SMMP_PUBLIC_KEY_BYTES);
  smmp_json_add_bytes (builder, "secret", identity->secret, crypto_scalarmult_SCALARBYTES);
  json_builder_end_object (builder);
  return smmp_json_finish (builder);
}

SmmpIdentity *
smmp_identity_from_json (const char *json, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *object = smmp_json_parse_object (json, &parser, error);
  SmmpIdentity *identity;
  guint8 derived[SMMP_PUBLIC_KEY_BYTES];
  gint64 version;

  if (object == NULL)
    return NULL;
  if (g_strcmp0 (smmp_json_get_string (object, "type"), IDENTITY_JSON_TYPE) != 0
      || !smmp_json_get_int (object, "version", IDENTITY_JSON_VERSION, IDENTITY_JSON_VERSION,
                             &version, NULL))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "not an SMMP identity file of version 1");
      return NULL;
    }
  identity = identity_alloc ();
  if (!smmp_json_get_bytes (object, "public", identity->public_key, SMMP_PUBLIC_KEY_BYTES, error)
      || !smmp_json_get_bytes (object, "secret", identity->secret, crypto_scalarmult_SCALARBYTES,
                               error))
    goto fail;
  crypto_scalarmult_base (derived, identity->secret);
  if (sodium_memcmp (derived, identity->public_key, sizeof derived) != 0)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "identity file's public key does not match its private key");
      goto fail;
    }
  return identity;

fail:
  smmp_identity_free (identity);
  return NULL;
}
