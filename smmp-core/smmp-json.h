/* smmp-json.h: small helpers for the core's JSON forms (json-glib), for the
 * core's own modules.  Binary values are standard base64 strings, read
 * strictly; a member of the wrong kind is an error, never a warning. */
#ifndef SMMP_JSON_H
#define SMMP_JSON_H

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

void smmp_json_add_bytes (JsonBuilder *builder, const char *name,
                          const guint8 *data, gsize len);
void smmp_json_add_int (JsonBuilder *builder, const char *name, gint64 value);

/* The string member @name, or NULL if absent or not a string. */
const char *smmp_json_get_string (JsonObject *object, const char *name);
/* Reads exactly @len bytes of strict base64 from member @name into @out
 * (which may be guarded memory).  FALSE with @error (SMMP_ERROR_STORAGE). */
gboolean smmp_json_get_bytes (JsonObject *object, const char *name, guint8 *out,
                              gsize len, GError **error);
/* Reads an integer member within [@min, @max]. */
gboolean smmp_json_get_int (JsonObject *object, const char *name, gint64 min,
                            gint64 max, gint64 *out, GError **error);
/* Parses @json into an object; NULL with @error.  The parser is returned in
 * @parser_out and owns the object. */
JsonObject *smmp_json_parse_object (const char *json, JsonParser **parser_out,
                                    GError **error);
/* Generates compact text from @builder's root.  Caller frees (wipe first if
 * it holds secrets). */
char *smmp_json_finish (JsonBuilder *builder);

G_END_DECLS

#endif /* SMMP_JSON_H */
