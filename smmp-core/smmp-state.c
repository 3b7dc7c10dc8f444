/* smmp-state.c: a member's confirmed session state. */
#include "smmp-state-private.h"
#include "smmp-error.h"
#include "smmp-json.h"

#include <sodium.h>
#include <string.h>

SmmpGroupState *
smmp_group_state_alloc (guint n)
{
  SmmpGroupState *state = g_new0 (SmmpGroupState, 1);

  state->n = n;
  state->members = g_new0 (SmmpMember, n);
  state->secrets = sodium_malloc (sizeof *state->secrets);
  if (state->secrets == NULL)
    g_error ("smmp: out of guarded memory");
  sodium_memzero (state->secrets, sizeof *state->secrets);
  return state;
}

void
smmp_group_state_free (SmmpGroupState *state)
{
  if (state == NULL)
    return;
  for (guint i = 0; i < state->n; i++)
    g_free (state->members[i].handle);
  g_free (state->members);
  sodium_free (state->secrets);
  sodium_memzero (state, sizeof *state);
  g_free (state);
}

guint
smmp_group_state_get_size (const SmmpGroupState *state)
{
  return state->n;
}

guint
smmp_group_state_get_self (const SmmpGroupState *state)
{
  return state->self;
}

guint32
smmp_group_state_get_generation (const SmmpGroupState *state)
{
  return state->generation;
}

guint32
smmp_group_state_get_epoch (const SmmpGroupState *state)
{
  return state->epoch;
}

const guint8 *
smmp_group_state_get_sid (const SmmpGroupState *state)
{
  return state->sid;
}

const char *
smmp_group_state_get_handle (const SmmpGroupState *state, guint index)
{
  g_return_val_if_fail (index < state->n, NULL);
  return state->members[index].handle;
}

const guint8 *
smmp_group_state_get_identity_key (const SmmpGroupState *state, guint index)
{
  g_return_val_if_fail (index < state->n, NULL);
  return state->members[index].identity_key;
}

const guint8 *
smmp_group_state_get_signing_key (const SmmpGroupState *state, guint index)
{
  g_return_val_if_fail (index < state->n, NULL);
  return state->members[index].signing_key;
}

char *
smmp_group_state_get_verification_code (const SmmpGroupState *state)
{
  GString *code = g_string_sized_new (36);

  /* Six groups of five decimal digits, each reduced from 24 bits (a group
   * keeps 16.6 bits): about 100 bits in all, read aloud in a minute. */
  for (guint g = 0; g < 6; g++)
    {
      const guint8 *b = state->verification + 3 * g;
      guint32 value = ((guint32) b[0] << 16) | ((guint32) b[1] << 8) | b[2];

      g_string_append_printf (code, "%s%05u", g > 0 ? " " : "", value % 100000);
    }
  return g_string_free (code, FALSE);
}

void
smmp_group_state_shared_digest (const SmmpGroupState *state,
                                guint8 out[SMMP_HASH_BYTES])
{
  const SmmpStateSecrets *s = state->secrets;
  SmmpHash hash;
  guint8 flag = state->resync_required ? 1 : 0;
  guint32 counters[2] = { GUINT32_TO_BE (state->generation), GUINT32_TO_BE (state->epoch) };

  smmp_hash_init (&hash, "SMMPv1 shared state digest");
  smmp_hash_update (&hash, state->sid, sizeof state->sid);
  smmp_hash_update (&hash, state->roster_hash, sizeof state->roster_hash);
  smmp_hash_update (&hash, state->transcript_hash, sizeof state->transcript_hash);
  smmp_hash_update (&hash, state->verification, sizeof state->verification);
  smmp_hash_update (&hash, state->conv_digest, sizeof state->conv_digest);
  smmp_hash_update (&hash, &flag, 1);
  smmp_hash_update (&hash, counters, sizeof counters);
  smmp_hash_update (&hash, s->rk, sizeof s->rk);
  smmp_hash_update (&hash, s->hk, sizeof s->hk);
  smmp_hash_update (&hash, s->nhk, sizeof s->nhk);
  smmp_hash_update (&hash, s->mk, sizeof s->mk);
  smmp_hash_update (&hash, s->v, sizeof s->v);
  for (guint i = 0; i < state->n; i++)
    {
      const SmmpMember *m = &state->members[i];

      smmp_hash_update (&hash, m->handle, strlen (m->handle) + 1);
      smmp_hash_update (&hash, m->identity_key, sizeof m->identity_key);
      smmp_hash_update (&hash, m->signing_key, sizeof m->signing_key);
      smmp_hash_update (&hash, m->ratchet_key, sizeof m->ratchet_key);
      smmp_hash_update (&hash, m->ratchet_key_init, sizeof m->ratchet_key_init);
    }
  smmp_hash_final (&hash, out);
}

/* ---- JSON form (R13) ---------------------------------------------------- */

#define STATE_JSON_TYPE "smmp-group-state"
#define STATE_JSON_VERSION 1

void
smmp_group_state_build (const SmmpGroupState *state, JsonBuilder *b)
{
  const SmmpStateSecrets *s = state->secrets;

  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, STATE_JSON_TYPE);
  smmp_json_add_int (b, "version", STATE_JSON_VERSION);
  smmp_json_add_bytes (b, "sid", state->sid, sizeof state->sid);
  smmp_json_add_bytes (b, "roster_hash", state->roster_hash, sizeof state->roster_hash);
  smmp_json_add_bytes (b, "transcript_hash", state->transcript_hash,
                       sizeof state->transcript_hash);
  smmp_json_add_bytes (b, "verification", state->verification, sizeof state->verification);
  smmp_json_add_bytes (b, "conv_digest", state->conv_digest, sizeof state->conv_digest);
  smmp_json_add_int (b, "resync_required", state->resync_required ? 1 : 0);
  smmp_json_add_int (b, "generation", state->generation);
  smmp_json_add_int (b, "epoch", state->epoch);
  smmp_json_add_int (b, "self", state->self);
  json_builder_set_member_name (b, "members");
  json_builder_begin_array (b);
  for (guint i = 0; i < state->n; i++)
    {
      const SmmpMember *m = &state->members[i];

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "handle");
      json_builder_add_string_value (b, m->handle);
      smmp_json_add_bytes (b, "identity_key", m->identity_key, sizeof m->identity_key);
      smmp_json_add_bytes (b, "signing_key", m->signing_key, sizeof m->signing_key);
      smmp_json_add_bytes (b, "ratchet_key", m->ratchet_key, sizeof m->ratchet_key);
      smmp_json_add_bytes (b, "ratchet_key_init", m->ratchet_key_init,
                           sizeof m->ratchet_key_init);
      smmp_json_add_bytes (b, "ratchet_key_agreed", m->ratchet_key_agreed,
                           sizeof m->ratchet_key_agreed);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  smmp_json_add_bytes (b, "rk", s->rk, sizeof s->rk);
  smmp_json_add_bytes (b, "hk", s->hk, sizeof s->hk);
  smmp_json_add_bytes (b, "nhk", s->nhk, sizeof s->nhk);
  smmp_json_add_bytes (b, "mk", s->mk, sizeof s->mk);
  smmp_json_add_bytes (b, "v", s->v, sizeof s->v);
  smmp_json_add_bytes (b, "r", s->r, sizeof s->r);
  smmp_json_add_bytes (b, "r_init", s->r_init, sizeof s->r_init);
  smmp_json_add_bytes (b, "r_agreed", s->r_agreed, sizeof s->r_agreed);
  smmp_json_add_bytes (b, "sign_secret", s->sign_secret, sizeof s->sign_secret);
}

char *
smmp_group_state_to_json (const SmmpGroupState *state)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  smmp_group_state_build (state, b);
  json_builder_end_object (b);
  return smmp_json_finish (b);
}

static gboolean
read_member (JsonNode *node, SmmpMember *m, GError **error)
{
  JsonObject *o;
  const char *handle;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE, "a member is not an object");
      return FALSE;
    }
  o = json_node_get_object (node);
  handle = smmp_json_get_string (o, "handle");
  if (handle == NULL || !smmp_handle_is_valid (handle, strlen (handle)))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE, "a member's handle is unusable");
      return FALSE;
    }
  m->handle = g_strdup (handle);
  return smmp_json_get_bytes (o, "identity_key", m->identity_key, sizeof m->identity_key, error)
         && smmp_json_get_bytes (o, "signing_key", m->signing_key, sizeof m->signing_key, error)
         && smmp_json_get_bytes (o, "ratchet_key", m->ratchet_key, sizeof m->ratchet_key, error)
         && smmp_json_get_bytes (o, "ratchet_key_init", m->ratchet_key_init,
                                 sizeof m->ratchet_key_init, error)
         && smmp_json_get_bytes (o, "ratchet_key_agreed", m->ratchet_key_agreed,
                                 sizeof m->ratchet_key_agreed, error);
}

SmmpGroupState *
smmp_group_state_read (JsonObject *o, GError **error)
{
  JsonNode *members = json_object_get_member (o, "members");
  SmmpGroupState *state;
  JsonArray *array;
  gint64 version, flag, generation, epoch, self;
  guint n;

  if (g_strcmp0 (smmp_json_get_string (o, "type"), STATE_JSON_TYPE) != 0
      || !smmp_json_get_int (o, "version", STATE_JSON_VERSION, STATE_JSON_VERSION, &version, NULL))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "not an SMMP group state of version 1");
      return NULL;
    }
  if (members == NULL || !JSON_NODE_HOLDS_ARRAY (members)
      || (n = json_array_get_length (array = json_node_get_array (members))) < 2
      || n > SMMP_MAX_MEMBERS)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                   "\"members\" is not an array of 2 to %d members", SMMP_MAX_MEMBERS);
      return NULL;
    }
  state = smmp_group_state_alloc (n);
  for (guint i = 0; i < n; i++)
    if (!read_member (json_array_get_element (array, i), &state->members[i], error))
      goto fail;
  if (!smmp_json_get_int (o, "resync_required", 0, 1, &flag, error)
      || !smmp_json_get_int (o, "generation", 0, G_MAXUINT32, &generation, error)
      || !smmp_json_get_int (o, "epoch", 0, G_MAXUINT32, &epoch, error)
      || !smmp_json_get_int (o, "self", 0, n - 1, &self, error)
      || !smmp_json_get_bytes (o, "sid", state->sid, sizeof state->sid, error)
      || !smmp_json_get_bytes (o, "roster_hash", state->roster_hash, sizeof state->roster_hash, error)
      || !smmp_json_get_bytes (o, "transcript_hash", state->transcript_hash,
                               sizeof state->transcript_hash, error)
      || !smmp_json_get_bytes (o, "verification", state->verification,
                               sizeof state->verification, error)
      || !smmp_json_get_bytes (o, "conv_digest", state->conv_digest, sizeof state->conv_digest, error)
      || !smmp_json_get_bytes (o, "rk", state->secrets->rk, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "hk", state->secrets->hk, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "nhk", state->secrets->nhk, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "mk", state->secrets->mk, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "v", state->secrets->v, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "r", state->secrets->r, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "r_init", state->secrets->r_init, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "r_agreed", state->secrets->r_agreed, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "sign_secret", state->secrets->sign_secret,
                               SMMP_SIGN_SECRET_BYTES, error))
    goto fail;
  state->resync_required = flag != 0;
  state->generation = (guint32) generation;
  state->epoch = (guint32) epoch;
  state->self = (guint) self;
  return state;

fail:
  smmp_group_state_free (state);
  return NULL;
}

SmmpGroupState *
smmp_group_state_from_json (const char *json, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *object = smmp_json_parse_object (json, &parser, error);

  return object != NULL ? smmp_group_state_read (object, error) : NULL;
}
