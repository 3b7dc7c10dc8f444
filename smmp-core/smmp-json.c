/* smmp-json.c: JSON helpers shared by the core's serialised forms. */
#include "smmp-json.h"
#include "smmp-error.h"
#include "smmp-bytes.h"

#include <sodium.h>
#include <string.h>

void
smmp_json_add_bytes (JsonBuilder *builder, const char *name, const guint8 *data, gsize len)
{
  gsize b64_len = sodium_base64_encoded_len (len, sodium_base64_VARIANT_ORIGINAL);
  char *b64 = g_malloc (b64_len);

  sodium_bin2base64 (b64, b64_len, data, len, sodium_base64_VARIANT_ORIGINAL);
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, b64);
  sodium_memzero (b64, b64_len);
  g_free (b64);
}

void
smmp_json_add_int (JsonBuilder *builder, const char *name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

const char *
smmp_json_get_string (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gboolean
smmp_json_get_bytes (JsonObject *object, const char *name, guint8 *out, gsize len,
                     GError **error)
{
  const char *text = smmp_json_get_string (object, name);
  guint8 *raw;
  gsize got = 0;
  gboolean ok;

  if (text == NULL)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_STORAGE, "no \"%s\" string", name);
      return FALSE;
    }
  raw = sodium_malloc (len + 1);
  if (raw == NULL)
    g_error ("smmp: out of guarded memory");
  ok = smmp_base64_alphabet_ok (text, strlen (text))
       && sodium_base642bin (raw, len + 1, text, strlen (text), NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) == 0
       && got == len;
  if (ok)
    memcpy (out, raw, len);
  else
    g_set_error (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                 "\"%s\" is not %zu bytes of base64", name, len);
  sodium_free (raw);
  return ok;
}

gboolean
smmp_json_get_int (JsonObject *object, const char *name, gint64 min, gint64 max,
                   gint64 *out, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < min || json_node_get_int (node) > max)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                   "\"%s\" is not an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                   name, min, max);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

JsonObject *
smmp_json_parse_object (const char *json, JsonParser **parser_out, GError **error)
{
  JsonParser *parser = json_parser_new ();
  JsonNode *root;

  *parser_out = parser;
  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE, "not JSON");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE, "not a JSON object");
      return NULL;
    }
  return json_node_get_object (root);
}

char *
smmp_json_finish (JsonBuilder *builder)
{
  JsonGenerator *generator = json_generator_new ();
  JsonNode *root = json_builder_get_root (builder);
  char *text;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  json_node_unref (root);
  g_object_unref (generator);
  return text;
}
