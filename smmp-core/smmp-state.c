/* smmp-state.c: a member's confirmed session state. */
#include "smmp-state-private.h"

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
