/* smmp-identity.c: long-term X25519 identity keys, fingerprints, JSON form. */
#include "smmp-identity.h"
#include "smmp-error.h"
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
  JsonBuilder *builder = json_builder_new ();
  JsonGenerator *generator;
  JsonNode *root;
  char *pub, *sec, *json;

  pub = g_base64_encode (identity->public_key, SMMP_PUBLIC_KEY_BYTES);
  sec = g_base64_encode (identity->secret, crypto_scalarmult_SCALARBYTES);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, IDENTITY_JSON_TYPE);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, IDENTITY_JSON_VERSION);
  json_builder_set_member_name (builder, "public");
  json_builder_add_string_value (builder, pub);
  json_builder_set_member_name (builder, "secret");
  json_builder_add_string_value (builder, sec);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, NULL);

  /* json-glib keeps its own copy of the strings in the tree; the node is
   * freed here, and the copies we made are wiped. */
  sodium_memzero (sec, strlen (sec));
  g_free (sec);
  g_free (pub);
  json_node_unref (root);
  g_object_unref (generator);
  g_object_unref (builder);
  return json;
}

/* The member's value if it is a JSON string, else NULL (never a warning:
 * the file is untrusted input). */
static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
read_key_member (JsonObject *object, const char *name, guint8 *out,
                 GError **error)
{
  const char *text;
  guint8 *raw;
  gsize len = 0;
  gboolean ok;

  text = string_member (object, name);
  if (text == NULL)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                   "identity file has no \"%s\" key", name);
      return FALSE;
    }
  /* Strict base64: a stray character is an error, not something to skip. */
  raw = sodium_malloc (SMMP_PUBLIC_KEY_BYTES + 1);
  ok = sodium_base642bin (raw, SMMP_PUBLIC_KEY_BYTES + 1, text, strlen (text), NULL,
                          &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0
       && len == SMMP_PUBLIC_KEY_BYTES;
  if (ok)
    memcpy (out, raw, len);
  else
    g_set_error (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                 "identity file's \"%s\" key is not %d bytes of base64",
                 name, SMMP_PUBLIC_KEY_BYTES);
  sodium_free (raw);
  return ok;
}

SmmpIdentity *
smmp_identity_from_json (const char *json, GError **error)
{
  JsonParser *parser = json_parser_new ();
  SmmpIdentity *identity = NULL;
  guint8 derived[SMMP_PUBLIC_KEY_BYTES];
  JsonObject *object;
  JsonNode *root, *version;

  if (!json_parser_load_from_data (parser, json, -1, NULL))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "identity file is not JSON");
      goto out;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "identity file is not a JSON object");
      goto out;
    }
  object = json_node_get_object (root);
  version = json_object_get_member (object, "version");
  if (g_strcmp0 (string_member (object, "type"), IDENTITY_JSON_TYPE) != 0
      || version == NULL || !JSON_NODE_HOLDS_VALUE (version)
      || json_node_get_value_type (version) != G_TYPE_INT64
      || json_node_get_int (version) != IDENTITY_JSON_VERSION)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "not an SMMP identity file of version 1");
      goto out;
    }

  identity = identity_alloc ();
  if (!read_key_member (object, "public", identity->public_key, error)
      || !read_key_member (object, "secret", identity->secret, error))
    goto fail;
  crypto_scalarmult_base (derived, identity->secret);
  if (sodium_memcmp (derived, identity->public_key, sizeof derived) != 0)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "identity file's public key does not match its private key");
      goto fail;
    }
  goto out;

fail:
  smmp_identity_free (identity);
  identity = NULL;
out:
  g_object_unref (parser);
  return identity;
}
