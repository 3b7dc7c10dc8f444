/* smmp-store.c: identity, trust and sessions on disk (0700 / 0600, atomic
 * replace, secrets wiped). */
#include "smmp-store.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#include "smmp-error.h"

struct _SmmpStore {
  char *base;
};

const char *
smmp_trust_name (SmmpTrust trust)
{
  switch (trust)
    {
    case SMMP_TRUST_TOFU:
      return "unverified-tofu";
    case SMMP_TRUST_VERIFIED:
      return "verified";
    case SMMP_TRUST_DISTRUSTED:
      return "distrusted";
    case SMMP_TRUST_CHANGED:
      return "changed";
    case SMMP_TRUST_NONE:
    default:
      return "unknown";
    }
}

/* The entry of @peer, or NULL: json_object_get_object_member() complains
 * about absent members. */
static JsonObject *
peer_entry (JsonObject *peers, const char *peer)
{
  JsonNode *node = json_object_get_member (peers, peer);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static SmmpTrust
trust_from_name (const char *name)
{
  for (SmmpTrust t = SMMP_TRUST_TOFU; t <= SMMP_TRUST_CHANGED; t++)
    if (g_strcmp0 (name, smmp_trust_name (t)) == 0)
      return t;
  return SMMP_TRUST_NONE;
}

SmmpStore *
smmp_store_new (const char *base_dir)
{
  SmmpStore *store = g_new0 (SmmpStore, 1);

  store->base = g_strdup (base_dir);
  return store;
}

void
smmp_store_free (SmmpStore *store)
{
  if (store == NULL)
    return;
  g_free (store->base);
  g_free (store);
}

/* A name as one path component: account and room names come from the
 * network and the user, so nothing in them may climb out of the store. */
static char *
component (const char *name)
{
  char *escaped = g_uri_escape_string (name, NULL, FALSE);
  GString *safe;

  /* Only "", "." and ".." could still mean something to the file system. */
  if (strspn (escaped, ".") < strlen (escaped))
    return escaped;
  safe = g_string_new ("_");
  for (const char *p = escaped; *p != '\0'; p++)
    g_string_append (safe, "%2E");
  g_free (escaped);
  return g_string_free (safe, FALSE);
}

static char *
account_dir (SmmpStore *store, const char *account)
{
  g_autofree char *c = component (account);

  return g_build_filename (store->base, c, NULL);
}

static gboolean
make_private_dir (const char *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "cannot create %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  /* An existing directory made by someone else's umask is tightened. */
  g_chmod (path, 0700);
  return TRUE;
}

gboolean
smmp_store_write_file (const char *path, const char *contents, gsize len, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (!make_private_dir (dir, error))
    return FALSE;
  /* CONSISTENT: written to a temporary file, synced, renamed over the old
   * one, so a crash leaves the old state or the new, never half of one. */
  return g_file_set_contents_full (path, contents, (gssize) len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static void
wipe_free (char *text)
{
  if (text == NULL)
    return;
  sodium_memzero (text, strlen (text));
  g_free (text);
}

/* ---- identity ------------------------------------------------------------- */

SmmpIdentity *
smmp_store_load_identity (SmmpStore *store, const char *account, GError **error)
{
  g_autofree char *dir = account_dir (store, account);
  g_autofree char *path = g_build_filename (dir, "identity.json", NULL);
  g_autoptr (GError) read_error = NULL;
  SmmpIdentity *identity;
  char *json = NULL;
  gsize len = 0;

  if (g_file_get_contents (path, &json, &len, &read_error))
    {
      identity = smmp_identity_from_json (json, error);
      sodium_memzero (json, len);
      g_free (json);
      if (identity == NULL)
        g_prefix_error (error, "%s: ", path);
      return identity;
    }
  if (!g_error_matches (read_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_propagate_error (error, g_steal_pointer (&read_error));
      return NULL;
    }
  identity = smmp_identity_generate ();
  json = smmp_identity_to_json (identity);
  if (!smmp_store_write_file (path, json, strlen (json), error))
    g_clear_pointer (&identity, smmp_identity_free);
  wipe_free (json);
  return identity;
}

/* ---- trust ---------------------------------------------------------------- */

static char *
trust_path (SmmpStore *store, const char *account)
{
  g_autofree char *dir = account_dir (store, account);

  return g_build_filename (dir, "trust.json", NULL);
}

/* The peers object of trust.json; a new empty one when the file is absent
 * or unreadable (the old one is kept aside so nothing is lost). */
static JsonObject *
load_peers (SmmpStore *store, const char *account)
{
  g_autofree char *path = trust_path (store, account);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *peers;

  if (g_file_test (path, G_FILE_TEST_EXISTS) && json_parser_load_from_file (parser, path, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root)
      && json_object_has_member (json_node_get_object (root), "peers")
      && JSON_NODE_HOLDS_OBJECT (json_object_get_member (json_node_get_object (root), "peers")))
    {
      peers = json_object_get_object_member (json_node_get_object (root), "peers");
      return json_object_ref (peers);
    }
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *aside = g_strconcat (path, ".unreadable", NULL);

      g_warning ("smmp: %s cannot be read; kept as %s", path, aside);
      g_rename (path, aside);
    }
  return json_object_new ();
}

/* Writes the object built in @b to @path (0600, atomic replace). */
static gboolean
write_built (const char *path, JsonBuilder *b, gboolean pretty, GError **error)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, pretty);
  text = json_generator_to_data (gen, NULL);
  return smmp_store_write_file (path, text, strlen (text), error);
}

static gboolean
save_peers (SmmpStore *store, const char *account, JsonObject *peers, GError **error)
{
  g_autofree char *path = trust_path (store, account);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "smmp-trust");
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "peers");
  json_builder_add_value (b, json_node_init_object (json_node_alloc (), peers));
  json_builder_end_object (b);
  return write_built (path, b, TRUE, error);
}

static gboolean
peer_key (JsonObject *entry, const char *member, guint8 out[SMMP_PUBLIC_KEY_BYTES])
{
  const char *b64 = json_object_get_string_member_with_default (entry, member, NULL);
  gsize len = 0;
  g_autofree guchar *raw = NULL;

  if (b64 == NULL)
    return FALSE;
  raw = g_base64_decode (b64, &len);
  if (len != SMMP_PUBLIC_KEY_BYTES)
    return FALSE;
  memcpy (out, raw, len);
  return TRUE;
}

static void
set_key (JsonObject *entry, const char *member, const guint8 key[SMMP_PUBLIC_KEY_BYTES])
{
  g_autofree char *b64 = g_base64_encode (key, SMMP_PUBLIC_KEY_BYTES);

  json_object_set_string_member (entry, member, b64);
}

SmmpTrust
smmp_store_check_peer (SmmpStore *store, const char *account, const char *peer,
                       const guint8 key[SMMP_PUBLIC_KEY_BYTES], char **old_fingerprint)
{
  JsonObject *peers = load_peers (store, account);
  JsonObject *entry = peer_entry (peers, peer);
  guint8 known[SMMP_PUBLIC_KEY_BYTES];
  SmmpTrust trust;

  if (old_fingerprint != NULL)
    *old_fingerprint = NULL;
  if (entry == NULL || !peer_key (entry, "key", known))
    {
      entry = json_object_new ();
      set_key (entry, "key", key);
      json_object_set_string_member (entry, "state", smmp_trust_name (SMMP_TRUST_TOFU));
      json_object_set_int_member (entry, "first_seen", g_get_real_time () / G_USEC_PER_SEC);
      json_object_set_object_member (peers, peer, entry);
      trust = SMMP_TRUST_TOFU;
    }
  else if (memcmp (known, key, SMMP_PUBLIC_KEY_BYTES) == 0)
    {
      trust = trust_from_name (json_object_get_string_member_with_default (entry, "state", ""));
      if (trust == SMMP_TRUST_CHANGED && old_fingerprint != NULL
          && peer_key (entry, "previous", known))
        *old_fingerprint = smmp_fingerprint_format (known);
      json_object_unref (peers);
      return trust == SMMP_TRUST_NONE ? SMMP_TRUST_CHANGED : trust;
    }
  else
    {
      /* Never trusted automatically: the key stays CHANGED until the user
       * decides.  The key seen first is kept to show what changed. */
      if (!json_object_has_member (entry, "previous")
          || trust_from_name (json_object_get_string_member_with_default (entry, "state", ""))
               != SMMP_TRUST_CHANGED)
        set_key (entry, "previous", known);
      set_key (entry, "key", key);
      json_object_set_string_member (entry, "state", smmp_trust_name (SMMP_TRUST_CHANGED));
      if (old_fingerprint != NULL && peer_key (entry, "previous", known))
        *old_fingerprint = smmp_fingerprint_format (known);
      trust = SMMP_TRUST_CHANGED;
    }
  if (!save_peers (store, account, peers, NULL))
    g_warning ("smmp: cannot save the trust store of %s", account);
  json_object_unref (peers);
  return trust;
}

SmmpTrust
smmp_store_get_peer (SmmpStore *store, const char *account, const char *peer,
                     char **fingerprint)
{
  JsonObject *peers = load_peers (store, account);
  JsonObject *entry = peer_entry (peers, peer);
  guint8 known[SMMP_PUBLIC_KEY_BYTES];
  SmmpTrust trust = SMMP_TRUST_NONE;

  if (fingerprint != NULL)
    *fingerprint = NULL;
  if (entry != NULL && peer_key (entry, "key", known))
    {
      trust = trust_from_name (json_object_get_string_member_with_default (entry, "state", ""));
      if (fingerprint != NULL)
        *fingerprint = smmp_fingerprint_format (known);
    }
  json_object_unref (peers);
  return trust;
}

gboolean
smmp_store_set_peer (SmmpStore *store, const char *account, const char *peer,
                     const guint8 key[SMMP_PUBLIC_KEY_BYTES], SmmpTrust trust, GError **error)
{
  JsonObject *peers = load_peers (store, account);
  JsonObject *entry = json_object_new ();
  gboolean ok;

  g_return_val_if_fail (trust == SMMP_TRUST_VERIFIED || trust == SMMP_TRUST_DISTRUSTED, FALSE);
  set_key (entry, "key", key);
  json_object_set_string_member (entry, "state", smmp_trust_name (trust));
  json_object_set_int_member (entry, "decided", g_get_real_time () / G_USEC_PER_SEC);
  json_object_set_object_member (peers, peer, entry);
  ok = save_peers (store, account, peers, error);
  json_object_unref (peers);
  return ok;
}

/* ---- sessions ------------------------------------------------------------- */

static char *
session_path (SmmpStore *store, const char *account, const char *room)
{
  g_autofree char *dir = account_dir (store, account);
  g_autofree char *c = component (room);
  g_autofree char *file = g_strconcat (c, ".json", NULL);

  return g_build_filename (dir, "rooms", file, NULL);
}

gboolean
smmp_store_save_session (SmmpStore *store, const char *account, const char *room,
                         const char *json, GError **error)
{
  g_autofree char *path = session_path (store, account, room);

  return smmp_store_write_file (path, json, strlen (json), error);
}

char *
smmp_store_load_session (SmmpStore *store, const char *account, const char *room)
{
  g_autofree char *path = session_path (store, account, room);
  char *json = NULL;

  if (!g_file_get_contents (path, &json, NULL, NULL))
    return NULL;
  return json;
}

static char *
notes_path (SmmpStore *store, const char *account, const char *room)
{
  g_autofree char *path = session_path (store, account, room);

  return g_strconcat (path, ".notes", NULL);
}

void
smmp_store_delete_session (SmmpStore *store, const char *account, const char *room)
{
  g_autofree char *path = session_path (store, account, room);
  g_autofree char *notes = notes_path (store, account, room);

  g_unlink (path);
  g_unlink (notes);
}

gboolean
smmp_store_save_notes (SmmpStore *store, const char *account, const char *room,
                       const char *self_handle, gint64 up_since, gboolean removed,
                       GError **error)
{
  g_autofree char *path = notes_path (store, account, room);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "smmp-room-notes");
  json_builder_set_member_name (b, "self_handle");
  json_builder_add_string_value (b, self_handle);
  json_builder_set_member_name (b, "up_since");
  json_builder_add_int_value (b, up_since);
  json_builder_set_member_name (b, "removed");
  json_builder_add_boolean_value (b, removed);
  json_builder_end_object (b);
  return write_built (path, b, FALSE, error);
}

gboolean
smmp_store_load_notes (SmmpStore *store, const char *account, const char *room,
                       char **self_handle, gint64 *up_since, gboolean *removed,
                       gint64 *saved_at)
{
  g_autofree char *path = notes_path (store, account, room);
  g_autofree char *session = session_path (store, account, room);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *o;
  const char *handle;
  GStatBuf st;

  if (!json_parser_load_from_file (parser, path, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  o = json_node_get_object (root);
  handle = json_object_get_string_member_with_default (o, "self_handle", NULL);
  if (handle == NULL || handle[0] == '\0')
    return FALSE;
  *self_handle = g_strdup (handle);
  *up_since = json_object_get_int_member_with_default (o, "up_since", 0);
  *removed = json_object_get_boolean_member_with_default (o, "removed", FALSE);
  *saved_at = g_stat (session, &st) == 0 ? (gint64) st.st_mtime : 0;
  return TRUE;
}
