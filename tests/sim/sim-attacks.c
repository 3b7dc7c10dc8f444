/* sim-attacks.c: hostile rooms and insiders for the simulated room. */
#include "sim-attacks.h"

#include "smmp-ka-private.h"
#include "smmp-state-private.h"

#include <gcrypt.h>
#include <sodium.h>
#include <string.h>

typedef struct {
  SimAttack attack;
  guint target;
  guint8 sign_public[SMMP_KEY_PUBLIC_BYTES]; /* the attacker's own key (room attacks) */
  guint8 sign_secret[SMMP_SIGN_SECRET_BYTES];
  SmmpBdSecret *bd;
  guint8 h[SMMP_BD_ELEMENT_BYTES];
  const SmmpIdentity *claimed; /* IMPERSONATE: whose identity key to claim */
} AttackState;

static const struct { SimAttack attack; const char *name; } names[] = {
  { SIM_ATTACK_NONE, "none" },
  { SIM_ATTACK_EQUIVOCATE, "equivocate" },
  { SIM_ATTACK_MITM, "mitm" },
  { SIM_ATTACK_REPLAY, "replay" },
  { SIM_ATTACK_IMPERSONATE, "impersonate" },
  { SIM_ATTACK_BAD_H, "bad-h" },
  { SIM_ATTACK_BAD_K, "bad-k" },
  { SIM_ATTACK_STALE_SIG, "stale-signature" },
  { SIM_ATTACK_JUNK, "junk" },
  { SIM_ATTACK_FORGE, "forge" },
  { SIM_ATTACK_REPLAY_DATA, "replay-data" },
  { SIM_ATTACK_TAMPER, "tamper" },
  { SIM_ATTACK_OUTSIDER, "outsider" },
};

gboolean
sim_attack_parse (const char *name, SimAttack *out)
{
  *out = SIM_ATTACK_NONE;
  if (name == NULL)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (names[i].name, name) == 0)
      {
        *out = names[i].attack;
        return TRUE;
      }
  return FALSE;
}

const char *
sim_attack_name (SimAttack attack)
{
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (names[i].attack == attack)
      return names[i].name;
  return "unknown";
}

gboolean
sim_attack_on_conversation (SimAttack attack)
{
  return attack >= SIM_ATTACK_FORGE;
}

gboolean
sim_attack_must_fail (SimAttack attack)
{
  return attack != SIM_ATTACK_NONE && attack != SIM_ATTACK_JUNK
         && !sim_attack_on_conversation (attack);
}

static guint
frame_type (GBytes *frame)
{
  return g_bytes_get_size (frame) > 1 ? ((const guint8 *) g_bytes_get_data (frame, NULL))[1] : 0;
}

/* element_out = element * 2 mod p: another valid element, for equivocation. */
static void
element_double (const guint8 *element, guint8 *out)
{
  gcry_mpi_t p = NULL, x = NULL;
  size_t len = 0;

  gcry_mpi_scan (&p, GCRYMPI_FMT_HEX, smmp_bd_prime_hex, 0, NULL);
  gcry_mpi_scan (&x, GCRYMPI_FMT_USG, element, SMMP_BD_ELEMENT_BYTES, NULL);
  gcry_mpi_add (x, x, x);
  gcry_mpi_mod (x, x, p);
  gcry_mpi_print (GCRYMPI_FMT_USG, NULL, 0, &len, x);
  memset (out, 0, SMMP_BD_ELEMENT_BYTES);
  gcry_mpi_print (GCRYMPI_FMT_USG, out + SMMP_BD_ELEMENT_BYTES - len, len, NULL, x);
  gcry_mpi_release (p);
  gcry_mpi_release (x);
}

/* The encoding of p itself, or of p - 1. */
static void
element_p_minus (guint delta, guint8 *out)
{
  gcry_mpi_t p = NULL;
  size_t len = 0;

  gcry_mpi_scan (&p, GCRYMPI_FMT_HEX, smmp_bd_prime_hex, 0, NULL);
  gcry_mpi_sub_ui (p, p, delta);
  gcry_mpi_print (GCRYMPI_FMT_USG, NULL, 0, &len, p);
  memset (out, 0, SMMP_BD_ELEMENT_BYTES);
  gcry_mpi_print (GCRYMPI_FMT_USG, out + SMMP_BD_ELEMENT_BYTES - len, len, NULL, p);
  gcry_mpi_release (p);
}

/* An AUTH frame for member @index made by someone without that member's
 * identity or ratchet secrets: its own H, MACs it cannot compute. */
static GBytes *
forged_auth (AttackState *a, const guint8 *sid, guint index, guint n,
             const guint8 *sign_secret)
{
  g_autofree guint8 *macs = g_malloc ((gsize) (n - 1) * SMMP_MAC_BYTES);

  randombytes_buf (macs, (gsize) (n - 1) * SMMP_MAC_BYTES);
  return smmp_frame_encode_auth (sid, index, a->h, macs, n - 1, sign_secret);
}

static guint
roster_index_of (SmmpFrame *roster, const char *handle)
{
  for (guint i = 0; i < roster->n_entries; i++)
    if (strcmp (roster->entries[i].handle, handle) == 0)
      return i;
  return G_MAXUINT;
}

/* Passes the roster on, then posts an AUTH in the target's name. */
static void
speak_for_target (SimRoom *room, AttackState *a, guint sender, GBytes *roster_bytes,
                  SmmpFrame *roster)
{
  guint index = roster_index_of (roster, sim_room_member (room, a->target)->handle);
  GBytes *auth;

  sim_room_append (room, sender, roster_bytes, NULL);
  if (index == G_MAXUINT)
    return;
  auth = forged_auth (a, roster->sid, index, roster->n_entries, a->sign_secret);
  sim_room_append (room, a->target, auth, NULL);
  g_bytes_unref (auth);
}

static void
hook (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  AttackState *a = data;
  SimMember *target = sim_room_member (room, a->target);
  g_autoptr (SmmpFrame) f = smmp_frame_decode_bytes (frame, NULL);
  guint type = frame_type (frame);

  switch (a->attack)
    {
    case SIM_ATTACK_EQUIVOCATE:
      if (sender == a->target && type == SMMP_FRAME_KEY && f != NULL)
        {
          guint n = sim_room_size (room);
          g_autofree gboolean *first = g_new0 (gboolean, n);
          g_autofree gboolean *second = g_new0 (gboolean, n);
          guint8 other[SMMP_BD_ELEMENT_BYTES];
          GBytes *forged;

          /* Alternate honest members see the other K, both validly signed. */
          element_double (f->element, other);
          forged = smmp_frame_encode_key (f->sid, f->sender, other,
                                          smmp_ka_testing_sign_secret (target->ka));
          for (guint i = 0; i < n; i++)
            (i % 2 == 0 || i == a->target ? first : second)[i] = TRUE;
          sim_room_append (room, sender, frame, first);
          sim_room_append (room, sender, forged, second);
          g_bytes_unref (forged);
          return;
        }
      break;

    case SIM_ATTACK_MITM:
      if (sender == a->target && type == SMMP_FRAME_ANSWER && f != NULL)
        {
          GBytes *swapped = smmp_frame_encode_answer (f->sid, f->identity_key,
                                                      f->ratchet_key, a->sign_public,
                                                      a->sign_secret);
          sim_room_append (room, sender, swapped, NULL);
          g_bytes_unref (swapped);
          return;
        }
      if (sender == a->target && type != SMMP_FRAME_ANSWER)
        return; /* the room speaks for the victim from now on */
      if (type == SMMP_FRAME_ROSTER && f != NULL)
        {
          speak_for_target (room, a, sender, frame, f);
          return;
        }
      break;

    case SIM_ATTACK_IMPERSONATE:
      if (sender == a->target && type == SMMP_FRAME_ANSWER && f != NULL)
        {
          const guint8 *secret = smmp_ka_testing_sign_secret (target->ka);
          GBytes *claimed = smmp_frame_encode_answer (f->sid,
                                                      smmp_identity_get_public (a->claimed),
                                                      f->ratchet_key, f->signing_key, secret);
          /* The insider keeps its signing key for what follows. */
          memcpy (a->sign_secret, secret, SMMP_SIGN_SECRET_BYTES);
          sim_room_append (room, sender, claimed, NULL);
          g_bytes_unref (claimed);
          return;
        }
      if (sender == a->target)
        return; /* its honest engine gave up at the roster: the attacker goes on */
      if (type == SMMP_FRAME_ROSTER && f != NULL)
        {
          speak_for_target (room, a, sender, frame, f);
          return;
        }
      break;

    case SIM_ATTACK_BAD_H:
    case SIM_ATTACK_BAD_K:
      if (sender == a->target && f != NULL
          && type == (a->attack == SIM_ATTACK_BAD_H ? SMMP_FRAME_AUTH : SMMP_FRAME_KEY))
        {
          const guint8 *secret = smmp_ka_testing_sign_secret (target->ka);
          guint8 bad[SMMP_BD_ELEMENT_BYTES];
          GBytes *forged;

          element_p_minus (a->attack == SIM_ATTACK_BAD_H ? 1 : 0, bad);
          forged = type == SMMP_FRAME_AUTH
            ? smmp_frame_encode_auth (f->sid, f->sender, bad, f->macs, f->n_macs, secret)
            : smmp_frame_encode_key (f->sid, f->sender, bad, secret);
          sim_room_append (room, sender, forged, NULL);
          g_bytes_unref (forged);
          return;
        }
      break;

    case SIM_ATTACK_STALE_SIG:
      if (sender == a->target && type == SMMP_FRAME_AUTH)
        {
          gsize len = 0;
          guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (frame), &len);
          GBytes *swapped;

          /* H starts after header (18) and sender index (1). */
          memcpy (copy + SMMP_FRAME_HEADER_BYTES + 1, a->h, SMMP_BD_ELEMENT_BYTES);
          swapped = g_bytes_new_take (copy, len);
          sim_room_append (room, sender, swapped, NULL);
          g_bytes_unref (swapped);
          return;
        }
      break;

    case SIM_ATTACK_JUNK:
      {
        gsize len = g_bytes_get_size (frame);
        GBytes *cut = g_bytes_new_from_bytes (frame, 0, len / 2);
        g_autofree guint8 *huge = g_malloc0 (SMMP_FRAME_MAX_BYTES + 1);
        GBytes *big;

        huge[0] = SMMP_PROTOCOL_VERSION;
        huge[1] = (guint8) type;
        memcpy (huge + 2, (const guint8 *) g_bytes_get_data (frame, NULL) + 2,
                MIN (len - 2, SMMP_SID_BYTES));
        big = g_bytes_new (huge, SMMP_FRAME_MAX_BYTES + 1);
        sim_room_append (room, sender, cut, NULL);
        sim_room_append (room, sender, big, NULL);
        g_bytes_unref (cut);
        g_bytes_unref (big);
      }
      break;

    case SIM_ATTACK_NONE:
    case SIM_ATTACK_REPLAY:
    case SIM_ATTACK_FORGE:
    case SIM_ATTACK_REPLAY_DATA:
    case SIM_ATTACK_TAMPER:
    case SIM_ATTACK_OUTSIDER:
      break;
    }
  sim_room_append (room, sender, frame, NULL);
}

static void
drop_everything (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
}

static void
run_replay (SimRoom *room)
{
  g_autoptr (GArray) senders = NULL;
  g_autoptr (GPtrArray) old = NULL;

  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  g_assert (sim_room_converged (room));

  /* The room now swallows every fresh frame and plays the old session back,
   * answers left out: everyone sees the old invitation, answers it afresh,
   * and then sees the old roster and rounds. */
  old = sim_room_reset (room, &senders);
  sim_room_set_post_hook (room, drop_everything, NULL);
  for (guint i = 0; i < old->len; i++)
    if (frame_type (g_ptr_array_index (old, i)) != SMMP_FRAME_ANSWER)
      sim_room_append (room, g_array_index (senders, guint, i),
                       g_ptr_array_index (old, i), NULL);
  sim_room_member (room, 0)->attacker = TRUE; /* its old invitation is not its own now */
  sim_room_run (room);
}

void
sim_attack_run (SimRoom *room, SimAttack attack, guint target)
{
  AttackState a = { .attack = attack, .target = target };
  SmmpIdentity *claimed = NULL;

  g_assert (target != 0 && target < sim_room_size (room));
  crypto_sign_keypair (a.sign_public, a.sign_secret);
  a.bd = smmp_bd_secret_generate (a.h);

  switch (attack)
    {
    case SIM_ATTACK_REPLAY:
      run_replay (room);
      goto out;
    case SIM_ATTACK_EQUIVOCATE:
    case SIM_ATTACK_IMPERSONATE:
    case SIM_ATTACK_BAD_H:
    case SIM_ATTACK_BAD_K:
      sim_room_member (room, target)->attacker = TRUE;
      break;
    case SIM_ATTACK_MITM:
    case SIM_ATTACK_STALE_SIG:
    case SIM_ATTACK_JUNK:
    case SIM_ATTACK_NONE:
    case SIM_ATTACK_FORGE:
    case SIM_ATTACK_REPLAY_DATA:
    case SIM_ATTACK_TAMPER:
    case SIM_ATTACK_OUTSIDER:
      break;
    }
  if (attack == SIM_ATTACK_IMPERSONATE)
    a.claimed = claimed = smmp_identity_generate ();
  if (attack != SIM_ATTACK_NONE)
    sim_room_set_post_hook (room, hook, &a);
  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  sim_room_set_post_hook (room, NULL, NULL);

out:
  smmp_identity_free (claimed);
  smmp_bd_secret_free (a.bd);
  sodium_memzero (a.sign_secret, sizeof a.sign_secret);
}

/* ---- attacks on the conversation ---------------------------------------- */

typedef struct {
  SimAttack attack;
  guint target;
  guint posts;
  GPtrArray *seen;      /* of GBytes*: message frames posted so far */
  guint8 outsider_public[SMMP_KEY_PUBLIC_BYTES];
  guint8 outsider_secret[SMMP_SIGN_SECRET_BYTES];
} ConvAttack;

/* A frame like @frame, its sender byte set to @claimed, signed with
 * @secret. */
static GBytes *
resigned (GBytes *frame, guint claimed, const guint8 *secret)
{
  gsize len = 0;
  guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (frame), &len);

  copy[SMMP_FRAME_HEADER_BYTES] = (guint8) claimed;
  smmp_frame_sign (copy, len - SMMP_SIGNATURE_BYTES, secret,
                   copy + len - SMMP_SIGNATURE_BYTES);
  return g_bytes_new_take (copy, len);
}

static void
conversation_hook (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  ConvAttack *a = data;
  const guint n = sim_room_size (room);

  if (frame_type (frame) != SMMP_FRAME_DATA)
    {
      sim_room_append (room, sender, frame, NULL);
      return;
    }
  a->posts++;
  switch (a->attack)
    {
    case SIM_ATTACK_FORGE:
      if (a->posts % 3 == 0)
        {
          /* The insider is a member: its sealed frame is valid in every
           * way but one, the claimed sender, and signs it itself. */
          const SmmpGroupState *state = sim_room_member (room, a->target)->state;
          g_autoptr (SmmpPending) own = smmp_ratchet_seal (state, "forged by an insider", NULL);
          /* Another member's index in the roster (not the room's order). */
          GBytes *forged = resigned (own->frame, (state->self + 1) % n,
                                     state->secrets->sign_secret);

          sim_room_append (room, a->target, forged, NULL);
          g_bytes_unref (forged);
        }
      break;
    case SIM_ATTACK_REPLAY_DATA:
      if (a->seen->len > 0 && a->posts % 2 == 0)
        sim_room_append (room, sender,
                         g_ptr_array_index (a->seen, a->posts % a->seen->len), NULL);
      break;
    case SIM_ATTACK_TAMPER:
      if (a->posts % 3 == 0)
        {
          gsize len = 0;
          guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (frame), &len);
          GBytes *bad;

          copy[len - 150] ^= 0x20; /* inside the body's ciphertext */
          bad = g_bytes_new_take (copy, len);
          sim_room_append (room, sender, bad, NULL);
          g_bytes_unref (bad);
          return; /* the genuine frame is dropped: its sender resends */
        }
      break;
    case SIM_ATTACK_OUTSIDER:
      if (a->posts % 3 == 0)
        {
          /* The outsider copies a frame's layout and signs as member 0. */
          GBytes *intruding = resigned (frame, 0, a->outsider_secret);

          sim_room_append (room, a->target, intruding, NULL);
          g_bytes_unref (intruding);
        }
      break;
    default:
      break;
    }
  g_ptr_array_add (a->seen, g_bytes_ref (frame));
  sim_room_append (room, sender, frame, NULL);
}

gboolean
sim_attack_conversation (SimRoom *room, SimAttack attack, guint target, guint messages,
                         GPtrArray *submitted)
{
  ConvAttack a = { .attack = attack, .target = target };
  const guint n = sim_room_size (room);
  SmmpErrorCode expected;
  gboolean clean = TRUE;
  g_autoptr (GPtrArray) senders = g_ptr_array_new ();

  g_assert (target < n && sim_attack_on_conversation (attack));
  a.seen = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  crypto_sign_keypair (a.outsider_public, a.outsider_secret);
  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  if (attack == SIM_ATTACK_FORGE)
    sim_room_member (room, target)->attacker = TRUE;
  for (guint i = 0; i < n; i++)
    if (!sim_room_member (room, i)->attacker)
      g_ptr_array_add (senders, GUINT_TO_POINTER (i));

  sim_room_set_post_hook (room, conversation_hook, &a);
  for (guint k = 0; k < messages; k++)
    {
      guint who = GPOINTER_TO_UINT (g_ptr_array_index (senders, k % senders->len));
      g_autofree char *text = g_strdup_printf ("honest %u", k);

      sim_room_send (room, who, text);
      g_ptr_array_add (submitted, g_strdup_printf ("%s: %s", sim_room_member (room, who)->handle,
                                                   text));
      sim_room_step (room, (guint) g_rand_int_range (sim_room_rand (room), 0, 2 * (gint32) n));
    }
  sim_room_run (room);
  sim_room_set_post_hook (room, NULL, NULL);
  g_ptr_array_unref (a.seen);
  sodium_memzero (a.outsider_secret, sizeof a.outsider_secret);

  /* Nothing false was shown: only texts honest members submitted, once. */
  for (guint i = 0; i < n; i++)
    {
      SimMember *m = sim_room_member (room, i);
      g_autoptr (GHashTable) once = g_hash_table_new (g_str_hash, g_str_equal);

      if (m->attacker)
        continue;
      for (guint k = 0; k < m->delivered->len; k++)
        {
          const char *line = g_ptr_array_index (m->delivered, k);

          clean = clean && strstr (line, ": honest ") != NULL
                  && g_hash_table_add (once, (gpointer) line);
        }
    }
  expected = attack == SIM_ATTACK_REPLAY_DATA ? SMMP_ERROR_REPLAYED : SMMP_ERROR_FORGED;
  return clean && sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED, expected) > 0;
}
