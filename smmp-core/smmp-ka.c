/* smmp-ka.c: the key-agreement state machine.  See smmp-ka.h for the flow
 * and docs/PROTOCOL.md for every byte and label. */
#include "smmp-ka.h"
#include "smmp-bd.h"
#include "smmp-frame.h"
#include "smmp-kdf.h"
#include "smmp-state-private.h"

#include <sodium.h>
#include <stdarg.h>
#include <string.h>

enum { ROUND_AUTH, ROUND_KEY, ROUND_CONFIRM, N_ROUNDS };

/* The agreement's own secrets, in one guarded block. */
typedef struct {
  guint8 r[SMMP_KEY_BYTES];                     /* r_j, becomes r_j^init */
  guint8 sign_secret[SMMP_SIGN_SECRET_BYTES];   /* session Ed25519 key */
  guint8 confirm_key[SMMP_KEY_BYTES];           /* KDF(MK, confirm) */
  guint8 k_recv[SMMP_MAX_MEMBERS][SMMP_KEY_BYTES]; /* triple-DH key, peer -> us */
} KaSecrets;

typedef struct {
  char *handle;
  guint8 identity_key[SMMP_KEY_PUBLIC_BYTES];
  guint8 ratchet_key[SMMP_KEY_PUBLIC_BYTES];
  guint8 signing_key[SMMP_KEY_PUBLIC_BYTES];
} Answer;

struct _SmmpKeyAgreement {
  const SmmpIdentity *identity;
  char *self_handle;
  char *initiator_handle;
  gboolean is_initiator;
  SmmpKaPhase phase;
  guint8 sid[SMMP_SID_BYTES];

  guint8 ratchet_public[SMMP_KEY_PUBLIC_BYTES];
  guint8 signing_public[SMMP_KEY_PUBLIC_BYTES];
  guint8 bd_public[SMMP_BD_ELEMENT_BYTES];
  KaSecrets *secrets;     /* guarded; NULL once the agreement ends */
  SmmpBdSecret *bd;       /* h_j; freed as soon as Z is computed */

  GPtrArray *invited;     /* of char*, the initiator first */
  GBytes *invite;         /* the invitation as sent or accepted */
  GPtrArray *answers;     /* of Answer*, initiator only */
  GBytes *own[SMMP_FRAME_ABORT + 1]; /* own frames, to recognise reflections */

  SmmpFrame *roster;
  guint n;
  guint self;
  guint8 roster_hash[SMMP_HASH_BYTES];
  SmmpFrame **round[N_ROUNDS]; /* per member, by index */
  guint received[N_ROUNDS];
  guint8 transcript[SMMP_HASH_BYTES];

  SmmpGroupState *state;  /* built after round 3, handed out when DONE */

  GQueue frames;          /* of GBytes*, to broadcast */
  GQueue events;          /* of SmmpEvent* */
};

static gint master_keys_alive;

guint
smmp_ka_master_keys_alive (void)
{
  return (guint) g_atomic_int_get (&master_keys_alive);
}

/* ---- small helpers --------------------------------------------------- */

static void
answer_free (gpointer data)
{
  Answer *answer = data;

  g_free (answer->handle);
  g_free (answer);
}

static gboolean
handle_is_usable (const char *handle)
{
  return handle != NULL && smmp_handle_is_valid (handle, strlen (handle));
}

static gboolean
list_contains (GPtrArray *list, const char *handle)
{
  for (guint i = 0; i < list->len; i++)
    if (strcmp (g_ptr_array_index (list, i), handle) == 0)
      return TRUE;
  return FALSE;
}

static const char *
member_handle (SmmpKeyAgreement *ka, guint index)
{
  return ka->roster->entries[index].handle;
}

static void
emit_event (SmmpKeyAgreement *ka, SmmpEvent *event)
{
  g_queue_push_tail (&ka->events, event);
}

static void
emit_frame (SmmpKeyAgreement *ka, SmmpFrameType type, GBytes *frame)
{
  g_clear_pointer (&ka->own[type], g_bytes_unref);
  ka->own[type] = g_bytes_ref (frame);
  g_queue_push_tail (&ka->frames, frame);
}

static void G_GNUC_PRINTF (4, 5)
reject (SmmpKeyAgreement *ka, const char *sender, SmmpErrorCode code,
        const char *format, ...)
{
  va_list args;
  char *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  emit_event (ka, smmp_event_new (SMMP_EVENT_FRAME_REJECTED, code, sender, message));
  g_free (message);
}

static void
wipe_secrets (SmmpKeyAgreement *ka)
{
  g_clear_pointer (&ka->secrets, sodium_free);
  g_clear_pointer (&ka->bd, smmp_bd_secret_free);
}

/* Ends the agreement.  @blamed lists roster indices (or is NULL), @blamed_handle
 * names someone outside the roster.  Other members are told with an ABORT
 * unless the failure is itself someone else's abort. */
static void G_GNUC_PRINTF (5, 6)
fail (SmmpKeyAgreement *ka, SmmpErrorCode code, GArray *blamed,
      const char *blamed_handle, const char *format, ...)
{
  SmmpEvent *event;
  va_list args;
  char *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  event = smmp_event_new (SMMP_EVENT_SESSION_FAILED, code, NULL, message);
  g_free (message);
  if (blamed != NULL)
    for (guint i = 0; i < blamed->len; i++)
      g_ptr_array_add (event->handles,
                       g_strdup (member_handle (ka, g_array_index (blamed, guint, i))));
  if (blamed_handle != NULL)
    g_ptr_array_add (event->handles, g_strdup (blamed_handle));

  if (ka->roster != NULL && ka->secrets != NULL && code != SMMP_ERROR_REFUSED)
    emit_frame (ka, SMMP_FRAME_ABORT,
                smmp_frame_encode_abort (ka->sid, ka->self, code,
                                         ka->secrets->sign_secret));
  ka->phase = SMMP_KA_FAILED;
  wipe_secrets (ka);
  g_clear_pointer (&ka->state, smmp_group_state_free);
  emit_event (ka, event);
}

static GArray *
blame_one (guint index)
{
  GArray *blamed = g_array_new (FALSE, FALSE, sizeof (guint));

  g_array_append_val (blamed, index);
  return blamed;
}

/* ---- creation -------------------------------------------------------- */

static SmmpKeyAgreement *
ka_new (const SmmpIdentity *identity, const char *self_handle)
{
  SmmpKeyAgreement *ka = g_new0 (SmmpKeyAgreement, 1);

  ka->identity = identity;
  ka->self_handle = g_strdup (self_handle);
  ka->invited = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&ka->frames);
  g_queue_init (&ka->events);

  /* Step VI.1: fresh ratchet key (r_j, R_j), handshake key (h_j, H_j), and
   * the session signing key of ruling R5. */
  ka->secrets = sodium_malloc (sizeof *ka->secrets);
  if (ka->secrets == NULL)
    g_error ("smmp: out of guarded memory");
  sodium_memzero (ka->secrets, sizeof *ka->secrets);
  randombytes_buf (ka->secrets->r, sizeof ka->secrets->r);
  crypto_scalarmult_base (ka->ratchet_public, ka->secrets->r);
  crypto_sign_keypair (ka->signing_public, ka->secrets->sign_secret);
  ka->bd = smmp_bd_secret_generate (ka->bd_public);
  return ka;
}

SmmpKeyAgreement *
smmp_ka_initiate (const SmmpIdentity *identity, const char *self_handle,
                  const char *const *invited, guint n_invited, GError **error)
{
  SmmpKeyAgreement *ka;
  Answer *own;

  if (!handle_is_usable (self_handle))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                           "own handle is empty, too long or not printable UTF-8");
      return NULL;
    }
  if (n_invited == 0 || n_invited + 1 > SMMP_MAX_MEMBERS)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                   "a session needs 2 to %d members, not %u",
                   SMMP_MAX_MEMBERS, n_invited + 1);
      return NULL;
    }

  ka = ka_new (identity, self_handle);
  ka->is_initiator = TRUE;
  ka->initiator_handle = g_strdup (self_handle);
  g_ptr_array_add (ka->invited, g_strdup (self_handle));
  for (guint i = 0; i < n_invited; i++)
    {
      if (!handle_is_usable (invited[i]) || list_contains (ka->invited, invited[i]))
        {
          g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                       "cannot invite \"%s\": empty, repeated, too long or not printable",
                       invited[i] != NULL ? invited[i] : "(null)");
          smmp_ka_free (ka);
          return NULL;
        }
      g_ptr_array_add (ka->invited, g_strdup (invited[i]));
    }

  randombytes_buf (ka->sid, sizeof ka->sid);
  ka->invite = smmp_frame_encode_invite (ka->sid,
                                         (const char *const *) ka->invited->pdata,
                                         ka->invited->len);
  emit_frame (ka, SMMP_FRAME_INVITE, g_bytes_ref (ka->invite));

  ka->answers = g_ptr_array_new_with_free_func (answer_free);
  own = g_new0 (Answer, 1);
  own->handle = g_strdup (self_handle);
  memcpy (own->identity_key, smmp_identity_get_public (identity), SMMP_KEY_PUBLIC_BYTES);
  memcpy (own->ratchet_key, ka->ratchet_public, SMMP_KEY_PUBLIC_BYTES);
  memcpy (own->signing_key, ka->signing_public, SMMP_KEY_PUBLIC_BYTES);
  g_ptr_array_add (ka->answers, own);
  ka->phase = SMMP_KA_COLLECTING;
  return ka;
}

SmmpKeyAgreement *
smmp_ka_accept (const SmmpIdentity *identity, const char *self_handle,
                const char *sender_handle, GBytes *invite, GError **error)
{
  g_autoptr (SmmpFrame) frame = smmp_frame_decode_bytes (invite, error);
  SmmpKeyAgreement *ka;

  if (frame == NULL)
    return NULL;
  if (frame->type != SMMP_FRAME_INVITE)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_UNEXPECTED,
                   "expected an invitation, got a %s frame",
                   smmp_frame_type_name (frame->type));
      return NULL;
    }
  if (sender_handle == NULL || self_handle == NULL
      || strcmp (sender_handle, self_handle) == 0
      || !list_contains (frame->handles, self_handle)
      || !list_contains (frame->handles, sender_handle))
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_NOT_INVITED,
                   "the invitation from %s does not name both %s and its sender",
                   sender_handle != NULL ? sender_handle : "(unknown)",
                   self_handle != NULL ? self_handle : "(unknown)");
      return NULL;
    }

  ka = ka_new (identity, self_handle);
  ka->initiator_handle = g_strdup (sender_handle);
  memcpy (ka->sid, frame->sid, SMMP_SID_BYTES);
  for (guint i = 0; i < frame->handles->len; i++)
    g_ptr_array_add (ka->invited, g_strdup (g_ptr_array_index (frame->handles, i)));
  ka->invite = g_bytes_ref (invite);

  /* Step VI.2: broadcast B_j and R_j, with the signing key bound to them. */
  emit_frame (ka, SMMP_FRAME_ANSWER,
              smmp_frame_encode_answer (ka->sid, smmp_identity_get_public (identity),
                                        ka->ratchet_public, ka->signing_public,
                                        ka->secrets->sign_secret));
  ka->phase = SMMP_KA_AWAIT_ROSTER;
  return ka;
}

void
smmp_ka_free (SmmpKeyAgreement *ka)
{
  if (ka == NULL)
    return;
  wipe_secrets (ka);
  g_free (ka->self_handle);
  g_free (ka->initiator_handle);
  g_ptr_array_unref (ka->invited);
  g_clear_pointer (&ka->invite, g_bytes_unref);
  g_clear_pointer (&ka->answers, g_ptr_array_unref);
  for (guint t = 0; t < G_N_ELEMENTS (ka->own); t++)
    g_clear_pointer (&ka->own[t], g_bytes_unref);
  for (guint r = 0; r < N_ROUNDS; r++)
    if (ka->round[r] != NULL)
      {
        for (guint i = 0; i < ka->n; i++)
          smmp_frame_free (ka->round[r][i]);
        g_free (ka->round[r]);
      }
  smmp_frame_free (ka->roster);
  smmp_group_state_free (ka->state);
  g_queue_clear_full (&ka->frames, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&ka->events, (GDestroyNotify) smmp_event_free);
  g_free (ka);
}

/* ---- round 2: triple-DH authentication -------------------------------- */

static void
tdh_key (guint8 out[SMMP_KEY_BYTES], const guint8 *first, const guint8 *second,
         const guint8 *third)
{
  SmmpHash hash;

  smmp_hash_init (&hash, "SMMPv1 triple-dh");
  smmp_hash_update (&hash, first, 32);
  smmp_hash_update (&hash, second, 32);
  smmp_hash_update (&hash, third, 32);
  smmp_hash_final (&hash, out);
}

/* mac_{from->to} over what ruling R2 binds: session id, roster hash, both
 * indices, H_from and the sender's session signing key. */
static void
auth_mac (SmmpKeyAgreement *ka, guint8 out[SMMP_MAC_BYTES],
          const guint8 key[SMMP_KEY_BYTES], guint from, guint to,
          const guint8 *h_from, const guint8 *signing_key_from)
{
  static const char label[] = "SMMPv1 auth";
  crypto_auth_hmacsha256_state st;
  guint8 indices[2] = { (guint8) from, (guint8) to };

  crypto_auth_hmacsha256_init (&st, key, SMMP_KEY_BYTES);
  crypto_auth_hmacsha256_update (&st, (const guint8 *) label, sizeof label);
  crypto_auth_hmacsha256_update (&st, ka->sid, SMMP_SID_BYTES);
  crypto_auth_hmacsha256_update (&st, ka->roster_hash, SMMP_HASH_BYTES);
  crypto_auth_hmacsha256_update (&st, indices, sizeof indices);
  crypto_auth_hmacsha256_update (&st, h_from, SMMP_BD_ELEMENT_BYTES);
  crypto_auth_hmacsha256_update (&st, signing_key_from, SMMP_KEY_PUBLIC_BYTES);
  crypto_auth_hmacsha256_final (&st, out);
  sodium_memzero (&st, sizeof st);
}

static guint
mac_slot (guint sender, guint recipient)
{
  return recipient < sender ? recipient : recipient - 1;
}

static void try_advance (SmmpKeyAgreement *ka);

static void
store_round_frame (SmmpKeyAgreement *ka, guint round, guint index, SmmpFrame *frame)
{
  ka->round[round][index] = frame;
  ka->received[round]++;
}

/* Steps VI.3-4: one AUTH frame carrying H_j and mac_i for every i. */
static gboolean
send_auth (SmmpKeyAgreement *ka)
{
  g_autofree guint8 *macs = g_malloc0 ((gsize) (ka->n - 1) * SMMP_MAC_BYTES);
  guint8 *dh = sodium_malloc (3 * 32 + SMMP_KEY_BYTES);
  guint8 *k_send = dh + 3 * 32;
  GBytes *bytes;
  gboolean ok = TRUE;

  if (dh == NULL)
    g_error ("smmp: out of guarded memory");
  for (guint i = 0; i < ka->n && ok; i++)
    {
      const SmmpRosterEntry *peer = &ka->roster->entries[i];

      if (i == ka->self)
        continue;
      /* dh[0] = ECDH(r_j, B_i), dh[1] = ECDH(b_j, R_i), dh[2] = ECDH(r_j, R_i). */
      ok = crypto_scalarmult (dh, ka->secrets->r, peer->identity_key) == 0
           && smmp_identity_dh (ka->identity, peer->ratchet_key, dh + 32)
           && crypto_scalarmult (dh + 64, ka->secrets->r, peer->ratchet_key) == 0;
      if (!ok)
        {
          g_autoptr (GArray) blamed = blame_one (i);
          fail (ka, SMMP_ERROR_BAD_ELEMENT, blamed, NULL,
                "%s's identity or ratchet key is a low-order curve point",
                peer->handle);
          break;
        }
      /* Paper VI.3: k_TDH = hash(ECDH(b_j,R_i) || ECDH(r_j,B_i) || ECDH(r_j,R_i)).
       * The key for i's MAC to us has the first two terms swapped. */
      tdh_key (k_send, dh + 32, dh, dh + 64);
      tdh_key (ka->secrets->k_recv[i], dh, dh + 32, dh + 64);
      auth_mac (ka, macs + mac_slot (ka->self, i) * SMMP_MAC_BYTES, k_send,
                ka->self, i, ka->bd_public, ka->signing_public);
    }
  sodium_free (dh);
  if (!ok)
    return FALSE;

  bytes = smmp_frame_encode_auth (ka->sid, ka->self, ka->bd_public, macs,
                                  ka->n - 1, ka->secrets->sign_secret);
  emit_frame (ka, SMMP_FRAME_AUTH, g_bytes_ref (bytes));
  store_round_frame (ka, ROUND_AUTH, ka->self, smmp_frame_decode_bytes (bytes, NULL));
  g_bytes_unref (bytes);
  return TRUE;
}

/* The roster is fixed: indices, roster hash, and on to round 2. */
static void
start_rounds (SmmpKeyAgreement *ka, SmmpFrame *roster, guint self)
{
  SmmpHash hash;
  SmmpEvent *event;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (roster->bytes, &len);

  ka->roster = roster;
  ka->n = roster->n_entries;
  ka->self = self;
  for (guint r = 0; r < N_ROUNDS; r++)
    ka->round[r] = g_new0 (SmmpFrame *, ka->n);

  smmp_hash_init (&hash, "SMMPv1 roster");
  smmp_hash_update (&hash, data, len);
  smmp_hash_final (&hash, ka->roster_hash);

  event = smmp_event_new (SMMP_EVENT_ROSTER_FIXED, 0, NULL, "");
  for (guint i = 0; i < ka->n; i++)
    g_ptr_array_add (event->handles, g_strdup (member_handle (ka, i)));
  for (guint i = 0; i < roster->handles->len; i++)
    g_ptr_array_add (event->outsiders, g_strdup (g_ptr_array_index (roster->handles, i)));
  g_free (event->message);
  event->message = roster->handles->len == 0
    ? g_strdup_printf ("%u members take part", ka->n)
    : g_strdup_printf ("%u members take part; %u invited did not answer",
                       ka->n, roster->handles->len);
  emit_event (ka, event);

  ka->phase = SMMP_KA_AUTH;
  if (send_auth (ka))
    try_advance (ka);
}

/* ---- the initiator closes the invitation ------------------------------ */

static gint
answer_compare (gconstpointer a, gconstpointer b)
{
  const Answer *x = *(Answer *const *) a;
  const Answer *y = *(Answer *const *) b;

  return memcmp (x->identity_key, y->identity_key, SMMP_KEY_PUBLIC_BYTES);
}

static Answer *
find_answer (SmmpKeyAgreement *ka, const char *handle)
{
  for (guint i = 0; i < ka->answers->len; i++)
    {
      Answer *a = g_ptr_array_index (ka->answers, i);

      if (strcmp (a->handle, handle) == 0)
        return a;
    }
  return NULL;
}

static void
close_invitation (SmmpKeyAgreement *ka)
{
  guint n = ka->answers->len;
  g_autofree SmmpRosterEntry *entries = g_new0 (SmmpRosterEntry, n);
  g_autoptr (GPtrArray) outsiders = g_ptr_array_new ();
  guint self = 0;
  GBytes *bytes;

  /* Paper VI.2: indices by the order of the identity keys. */
  g_ptr_array_sort (ka->answers, answer_compare);
  for (guint i = 0; i < n; i++)
    {
      Answer *a = g_ptr_array_index (ka->answers, i);

      entries[i].handle = a->handle;
      entries[i].identity_key = a->identity_key;
      entries[i].ratchet_key = a->ratchet_key;
      entries[i].signing_key = a->signing_key;
      if (strcmp (a->handle, ka->self_handle) == 0)
        self = i;
    }
  for (guint i = 0; i < ka->invited->len; i++)
    if (find_answer (ka, g_ptr_array_index (ka->invited, i)) == NULL)
      g_ptr_array_add (outsiders, g_ptr_array_index (ka->invited, i));

  bytes = smmp_frame_encode_roster (ka->sid, self, entries, n,
                                    (const char *const *) outsiders->pdata,
                                    outsiders->len, ka->secrets->sign_secret);
  emit_frame (ka, SMMP_FRAME_ROSTER, g_bytes_ref (bytes));
  start_rounds (ka, smmp_frame_decode_bytes (bytes, NULL), self);
  g_bytes_unref (bytes);
}

static gboolean
handle_answer (SmmpKeyAgreement *ka, const char *sender, SmmpFrame *frame)
{
  Answer *answer;

  if (!ka->is_initiator)
    return FALSE; /* answers are for the initiator */
  if (ka->phase != SMMP_KA_COLLECTING)
    {
      reject (ka, sender, SMMP_ERROR_UNEXPECTED,
              "answer from %s came after the invitation closed", sender);
      return FALSE;
    }
  if (strcmp (sender, ka->self_handle) == 0 || !list_contains (ka->invited, sender))
    {
      reject (ka, sender, SMMP_ERROR_NOT_INVITED,
              "answer from %s, who was not invited", sender);
      return FALSE;
    }
  if (!smmp_frame_verify (frame, frame->signing_key))
    {
      reject (ka, sender, SMMP_ERROR_FORGED,
              "answer said to be from %s is not signed by the key it carries", sender);
      return FALSE;
    }
  if (find_answer (ka, sender) != NULL)
    {
      reject (ka, sender, SMMP_ERROR_REPLAYED,
              "second answer from %s; the first stands", sender);
      return FALSE;
    }
  {
    /* X25519 with any clamped scalar maps a low-order point to zero, which
     * libsodium reports: one multiplication per key finds it. */
    guint8 probe[32];
    gboolean low_order = crypto_scalarmult (probe, ka->secrets->r, frame->identity_key) != 0
                         || crypto_scalarmult (probe, ka->secrets->r, frame->ratchet_key) != 0;

    sodium_memzero (probe, sizeof probe);
    if (low_order)
      {
        reject (ka, sender, SMMP_ERROR_BAD_ELEMENT,
                "answer from %s carries a low-order curve point", sender);
        return FALSE;
      }
  }
  for (guint i = 0; i < ka->answers->len; i++)
    {
      Answer *other = g_ptr_array_index (ka->answers, i);

      if (memcmp (other->identity_key, frame->identity_key, SMMP_KEY_PUBLIC_BYTES) == 0)
        {
          reject (ka, sender, SMMP_ERROR_AUTH_FAILED,
                  "%s answered with the identity key of %s", sender, other->handle);
          return FALSE;
        }
    }

  answer = g_new0 (Answer, 1);
  answer->handle = g_strdup (sender);
  memcpy (answer->identity_key, frame->identity_key, SMMP_KEY_PUBLIC_BYTES);
  memcpy (answer->ratchet_key, frame->ratchet_key, SMMP_KEY_PUBLIC_BYTES);
  memcpy (answer->signing_key, frame->signing_key, SMMP_KEY_PUBLIC_BYTES);
  g_ptr_array_add (ka->answers, answer);
  if (ka->answers->len == ka->invited->len)
    close_invitation (ka);
  return TRUE;
}

/* ---- an invitee receives the roster ----------------------------------- */

static gboolean
handle_roster (SmmpKeyAgreement *ka, const char *sender, SmmpFrame *frame)
{
  const SmmpRosterEntry *signer;
  guint self = G_MAXUINT;

  if (ka->is_initiator || ka->phase != SMMP_KA_AWAIT_ROSTER)
    {
      reject (ka, sender, SMMP_ERROR_UNEXPECTED,
              "roster from %s when none was expected", sender);
      return FALSE;
    }
  /* The room names senders: only the occupant who invited us may fix the
   * roster (another occupant could otherwise copy the public answers into
   * a roster of its own and sign it).  Binding that occupant's handle to an
   * identity key is the trust store's job. */
  signer = &frame->entries[frame->sender];
  if (strcmp (sender, ka->initiator_handle) != 0
      || strcmp (signer->handle, ka->initiator_handle) != 0
      || !smmp_frame_verify (frame, signer->signing_key))
    {
      reject (ka, sender, SMMP_ERROR_FORGED,
              "roster said to be from %s is not signed by the initiator %s",
              sender, ka->initiator_handle);
      return FALSE;
    }
  for (guint i = 0; i < frame->n_entries; i++)
    {
      if (!list_contains (ka->invited, frame->entries[i].handle))
        {
          fail (ka, SMMP_ERROR_NOT_INVITED, NULL, ka->initiator_handle,
                "the roster names %s, who was not invited", frame->entries[i].handle);
          return FALSE;
        }
      if (strcmp (frame->entries[i].handle, ka->self_handle) == 0)
        self = i;
    }
  for (guint i = 0; i < frame->handles->len; i++)
    {
      const char *outsider = g_ptr_array_index (frame->handles, i);
      gboolean member = FALSE;

      for (guint k = 0; k < frame->n_entries; k++)
        member = member || strcmp (frame->entries[k].handle, outsider) == 0;
      if (member || !list_contains (ka->invited, outsider))
        {
          fail (ka, SMMP_ERROR_NOT_INVITED, NULL, ka->initiator_handle,
                "the roster names %s as outside the session, who was not "
                "invited or is a member", outsider);
          return FALSE;
        }
    }
  if (self == G_MAXUINT)
    {
      fail (ka, SMMP_ERROR_NOT_INVITED, NULL, ka->initiator_handle,
            "%s left this member out of the session", ka->initiator_handle);
      return FALSE;
    }
  /* Our fresh R_j is the challenge that makes the roster fresh: a roster
   * replayed from an earlier session, or altered, cannot carry it. */
  if (memcmp (frame->entries[self].identity_key, smmp_identity_get_public (ka->identity),
              SMMP_KEY_PUBLIC_BYTES) != 0
      || memcmp (frame->entries[self].ratchet_key, ka->ratchet_public, SMMP_KEY_PUBLIC_BYTES) != 0
      || memcmp (frame->entries[self].signing_key, ka->signing_public, SMMP_KEY_PUBLIC_BYTES) != 0)
    {
      fail (ka, SMMP_ERROR_REPLAYED, NULL, ka->initiator_handle,
            "the roster from %s does not carry this member's fresh keys: "
            "it was replayed from an earlier session or altered",
            ka->initiator_handle);
      return FALSE;
    }
  start_rounds (ka, smmp_frame_decode_bytes (frame->bytes, NULL), self);
  return TRUE;
}

/* ---- rounds 2 to 4 ---------------------------------------------------- */

static gboolean
check_auth (SmmpKeyAgreement *ka, SmmpFrame *frame)
{
  const guint s = frame->sender;
  const SmmpRosterEntry *peer = &ka->roster->entries[s];
  guint8 expected[SMMP_MAC_BYTES];
  gboolean ok;
  g_autoptr (GArray) blamed = blame_one (s);

  if (frame->n_macs != ka->n - 1)
    {
      fail (ka, SMMP_ERROR_MALFORMED, blamed, NULL,
            "%s's round-2 frame has %u MACs for %u members", peer->handle,
            frame->n_macs, ka->n);
      return FALSE;
    }
  if (!smmp_bd_element_is_valid (frame->element))
    {
      fail (ka, SMMP_ERROR_BAD_ELEMENT, blamed, NULL,
            "%s sent a handshake key H outside the group (not 1 < H < p-1)",
            peer->handle);
      return FALSE;
    }
  /* Steps VI.6-7. */
  auth_mac (ka, expected, ka->secrets->k_recv[s], s, ka->self, frame->element,
            peer->signing_key);
  ok = sodium_memcmp (expected, frame->macs + mac_slot (s, ka->self) * SMMP_MAC_BYTES,
                      SMMP_MAC_BYTES) == 0;
  sodium_memzero (expected, sizeof expected);
  if (!ok)
    fail (ka, SMMP_ERROR_AUTH_FAILED, blamed, NULL,
          "could not confirm %s's identity: the triple Diffie-Hellman MAC does "
          "not verify (impersonation, or a man in the middle)", peer->handle);
  return ok;
}

static gboolean
check_key (SmmpKeyAgreement *ka, SmmpFrame *frame)
{
  /* With two members K_j = (H_i / H_i)^h = 1 by construction. */
  gboolean ok = ka->n == 2 ? smmp_bd_element_is_one (frame->element)
                           : smmp_bd_element_is_valid (frame->element);

  if (!ok)
    {
      g_autoptr (GArray) blamed = blame_one (frame->sender);
      fail (ka, SMMP_ERROR_BAD_ELEMENT, blamed, NULL,
            "%s sent a round key K outside the group",
            member_handle (ka, frame->sender));
    }
  return ok;
}

static gboolean
handle_round_frame (SmmpKeyAgreement *ka, const char *sender, SmmpFrame *frame)
{
  const guint s = frame->sender;
  guint round;
  SmmpFrame *previous;

  if (ka->roster == NULL)
    {
      reject (ka, sender, SMMP_ERROR_UNEXPECTED,
              "%s frame from %s before the roster", smmp_frame_type_name (frame->type),
              sender);
      return FALSE;
    }
  if (s >= ka->n)
    {
      reject (ka, sender, SMMP_ERROR_MALFORMED,
              "%s frame from %s names member %u of %u",
              smmp_frame_type_name (frame->type), sender, s, ka->n);
      return FALSE;
    }
  if (!smmp_frame_verify (frame, ka->roster->entries[s].signing_key))
    {
      reject (ka, sender, SMMP_ERROR_FORGED,
              "%s frame said to be from %s is not signed by %s's session key",
              smmp_frame_type_name (frame->type), member_handle (ka, s),
              member_handle (ka, s));
      return FALSE;
    }
  if (frame->type == SMMP_FRAME_ABORT)
    {
      g_autoptr (GArray) blamed = blame_one (s);
      fail (ka, SMMP_ERROR_REFUSED, blamed, NULL, "%s refused the session (%s)",
            member_handle (ka, s), smmp_error_code_name (frame->reason));
      return TRUE;
    }

  round = frame->type == SMMP_FRAME_AUTH ? ROUND_AUTH
        : frame->type == SMMP_FRAME_KEY ? ROUND_KEY : ROUND_CONFIRM;
  previous = ka->round[round][s];
  if (previous != NULL)
    {
      reject (ka, sender, SMMP_ERROR_REPLAYED,
              g_bytes_equal (previous->bytes, frame->bytes)
                ? "%s frame from %s delivered again; ignored"
                : "second, different %s frame from %s; the first stands",
              smmp_frame_type_name (frame->type), member_handle (ka, s));
      return FALSE;
    }
  if ((round == ROUND_AUTH && !check_auth (ka, frame))
      || (round == ROUND_KEY && !check_key (ka, frame)))
    return FALSE;

  store_round_frame (ka, round, s, smmp_frame_decode_bytes (frame->bytes, NULL));
  try_advance (ka);
  return TRUE;
}

/* Step VI.8. */
static void
send_key (SmmpKeyAgreement *ka)
{
  guint8 k[SMMP_BD_ELEMENT_BYTES];
  const guint8 *h_prev = ka->round[ROUND_AUTH][(ka->self + ka->n - 1) % ka->n]->element;
  const guint8 *h_next = ka->round[ROUND_AUTH][(ka->self + 1) % ka->n]->element;
  GBytes *bytes;

  smmp_bd_round_key (ka->bd, h_prev, h_next, k);
  bytes = smmp_frame_encode_key (ka->sid, ka->self, k, ka->secrets->sign_secret);
  emit_frame (ka, SMMP_FRAME_KEY, g_bytes_ref (bytes));
  store_round_frame (ka, ROUND_KEY, ka->self, smmp_frame_decode_bytes (bytes, NULL));
  g_bytes_unref (bytes);
}

static void
hash_frame (SmmpHash *hash, GBytes *bytes)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint8 be[4] = { (guint8) (len >> 24), (guint8) (len >> 16), (guint8) (len >> 8),
                   (guint8) len };

  smmp_hash_update (hash, be, sizeof be);
  smmp_hash_update (hash, data, len);
}

static void
confirm_mac (SmmpKeyAgreement *ka, guint index, guint8 out[SMMP_MAC_BYTES])
{
  static const char label[] = "SMMPv1 confirm";
  crypto_auth_hmacsha256_state st;
  guint8 j = (guint8) index;

  crypto_auth_hmacsha256_init (&st, ka->secrets->confirm_key, SMMP_KEY_BYTES);
  crypto_auth_hmacsha256_update (&st, (const guint8 *) label, sizeof label);
  crypto_auth_hmacsha256_update (&st, ka->transcript, SMMP_HASH_BYTES);
  crypto_auth_hmacsha256_update (&st, &j, 1);
  crypto_auth_hmacsha256_final (&st, out);
  sodium_memzero (&st, sizeof st);
}

/* Steps VI.9-10 and R7: Z, the transcript, MK, the initial ratchet state and
 * the confirmation.  MK exists only inside this function. */
static void
derive_and_confirm (SmmpKeyAgreement *ka)
{
  const guint8 **k = g_new0 (const guint8 *, ka->n);
  const guint8 *h_prev = ka->round[ROUND_AUTH][(ka->self + ka->n - 1) % ka->n]->element;
  guint8 *z = sodium_malloc (SMMP_BD_ELEMENT_BYTES);
  guint8 *master = sodium_malloc (SMMP_KEY_BYTES);
  guint8 confirm[SMMP_MAC_BYTES];
  SmmpGroupState *state;
  SmmpHash hash;
  GBytes *bytes;

  if (z == NULL || master == NULL)
    g_error ("smmp: out of guarded memory");
  g_atomic_int_inc (&master_keys_alive);

  for (guint i = 0; i < ka->n; i++)
    k[i] = ka->round[ROUND_KEY][i]->element;
  smmp_bd_shared_value (ka->bd, ka->n, ka->self, h_prev, k, z);
  g_free (k);
  g_clear_pointer (&ka->bd, smmp_bd_secret_free); /* h_j has done its work */

  smmp_hash_init (&hash, "SMMPv1 transcript");
  hash_frame (&hash, ka->roster->bytes);
  for (guint r = ROUND_AUTH; r <= ROUND_KEY; r++)
    for (guint i = 0; i < ka->n; i++)
      hash_frame (&hash, ka->round[r][i]->bytes);
  smmp_hash_final (&hash, ka->transcript);

  /* MK = HKDF-Extract(salt = transcript, IKM = Z): every key below depends
   * on the whole transcript, not only on Z. */
  smmp_hkdf_extract (master, ka->transcript, SMMP_HASH_BYTES, z, SMMP_BD_ELEMENT_BYTES);
  sodium_free (z);

  state = smmp_group_state_alloc (ka->n);
  smmp_kdf (state->secrets->rk, master, "SMMPv1 root key");
  smmp_kdf (state->secrets->hk, master, "SMMPv1 header key");
  smmp_kdf (state->secrets->nhk, master, "SMMPv1 next header key");
  smmp_kdf (state->secrets->mk, master, "SMMPv1 message key");
  smmp_kdf (state->secrets->v, master, "SMMPv1 group ratchet key");
  smmp_kdf (ka->secrets->confirm_key, master, "SMMPv1 confirm key");
  smmp_hkdf_expand (state->verification, SMMP_VERIFICATION_BYTES, master,
                    SMMP_KEY_BYTES, (const guint8 *) "SMMPv1 verification code",
                    strlen ("SMMPv1 verification code"));
  sodium_free (master); /* MK erased (paper IV, ruling R13) */
  g_atomic_int_add (&master_keys_alive, -1);

  memcpy (state->sid, ka->sid, SMMP_SID_BYTES);
  memcpy (state->roster_hash, ka->roster_hash, SMMP_HASH_BYTES);
  memcpy (state->transcript_hash, ka->transcript, SMMP_HASH_BYTES);
  memset (state->conv_digest, 0, SMMP_HASH_BYTES);
  state->resync_required = FALSE;
  state->self = ka->self;
  memcpy (state->secrets->r, ka->secrets->r, SMMP_KEY_BYTES);
  memcpy (state->secrets->r_init, ka->secrets->r, SMMP_KEY_BYTES);
  memcpy (state->secrets->r_agreed, ka->secrets->r, SMMP_KEY_BYTES);
  memcpy (state->secrets->sign_secret, ka->secrets->sign_secret, SMMP_SIGN_SECRET_BYTES);
  for (guint i = 0; i < ka->n; i++)
    {
      const SmmpRosterEntry *e = &ka->roster->entries[i];
      SmmpMember *m = &state->members[i];

      m->handle = g_strdup (e->handle);
      memcpy (m->identity_key, e->identity_key, SMMP_KEY_PUBLIC_BYTES);
      memcpy (m->signing_key, e->signing_key, SMMP_KEY_PUBLIC_BYTES);
      memcpy (m->ratchet_key, e->ratchet_key, SMMP_KEY_PUBLIC_BYTES);
      memcpy (m->ratchet_key_init, e->ratchet_key, SMMP_KEY_PUBLIC_BYTES);
      memcpy (m->ratchet_key_agreed, e->ratchet_key, SMMP_KEY_PUBLIC_BYTES);
    }
  ka->state = state;

  confirm_mac (ka, ka->self, confirm);
  bytes = smmp_frame_encode_confirm (ka->sid, ka->self, confirm, ka->secrets->sign_secret);
  /* Our own CONFIRM counts when the room reflects it, not when sent: then
   * every member completes at the same place in the room's order (the last
   * CONFIRM), and all switch to the new session between the same two
   * messages of the old one (R10: nothing lost, nothing twice). */
  emit_frame (ka, SMMP_FRAME_CONFIRM, bytes);
}

static void
finish (SmmpKeyAgreement *ka)
{
  g_autoptr (GArray) bad = g_array_new (FALSE, FALSE, sizeof (guint));
  SmmpEvent *event;

  for (guint i = 0; i < ka->n; i++)
    {
      guint8 expected[SMMP_MAC_BYTES];

      confirm_mac (ka, i, expected);
      if (sodium_memcmp (expected, ka->round[ROUND_CONFIRM][i]->confirm, SMMP_MAC_BYTES) != 0)
        g_array_append_val (bad, i);
    }
  if (bad->len > 0)
    {
      fail (ka, SMMP_ERROR_CONFIRM_FAILED, bad, NULL,
            "key confirmation failed for %u of %u members: the room showed "
            "different members different frames, or a member equivocated",
            bad->len, ka->n);
      return;
    }
  ka->phase = SMMP_KA_DONE;
  wipe_secrets (ka);
  event = smmp_event_new (SMMP_EVENT_SESSION_UP, 0, NULL, "");
  for (guint i = 0; i < ka->n; i++)
    g_ptr_array_add (event->handles, g_strdup (member_handle (ka, i)));
  g_free (event->message);
  event->message = g_strdup_printf ("secure session up with %u members", ka->n);
  emit_event (ka, event);
}

static void
try_advance (SmmpKeyAgreement *ka)
{
  for (;;)
    {
      if (ka->phase == SMMP_KA_AUTH && ka->received[ROUND_AUTH] == ka->n)
        {
          send_key (ka);
          ka->phase = SMMP_KA_KEY;
        }
      else if (ka->phase == SMMP_KA_KEY && ka->received[ROUND_KEY] == ka->n)
        {
          derive_and_confirm (ka);
          ka->phase = SMMP_KA_CONFIRM;
        }
      else if (ka->phase == SMMP_KA_CONFIRM && ka->received[ROUND_CONFIRM] == ka->n)
        {
          finish (ka);
          return;
        }
      else
        return;
    }
}

/* ---- input ------------------------------------------------------------ */

gboolean
smmp_ka_receive (SmmpKeyAgreement *ka, const char *sender_handle, GBytes *bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmmpFrame) frame = NULL;
  const char *sender = sender_handle != NULL ? sender_handle : "(unknown)";

  if (ka->phase == SMMP_KA_DONE || ka->phase == SMMP_KA_FAILED)
    return FALSE;
  frame = smmp_frame_decode_bytes (bytes, &error);
  if (frame == NULL)
    {
      reject (ka, sender, error->code, "frame from %s refused: %s", sender, error->message);
      return FALSE;
    }
  if (memcmp (frame->sid, ka->sid, SMMP_SID_BYTES) != 0)
    {
      reject (ka, sender, SMMP_ERROR_NOT_FOR_SESSION,
              "%s frame from %s belongs to another session (an earlier one, "
              "or a replay)", smmp_frame_type_name (frame->type), sender);
      return FALSE;
    }
  if (frame->type >= G_N_ELEMENTS (ka->own))
    {
      reject (ka, sender, SMMP_ERROR_UNEXPECTED,
              "%s frame from %s during the key agreement", smmp_frame_type_name (frame->type),
              sender);
      return FALSE;
    }
  if (ka->own[frame->type] != NULL && g_bytes_equal (ka->own[frame->type], bytes))
    {
      if (frame->type == SMMP_FRAME_CONFIRM && ka->round[ROUND_CONFIRM] != NULL
          && ka->round[ROUND_CONFIRM][ka->self] == NULL)
        {
          store_round_frame (ka, ROUND_CONFIRM, ka->self, g_steal_pointer (&frame));
          try_advance (ka);
          return TRUE;
        }
      return FALSE; /* our own frame, reflected by the room */
    }

  switch (frame->type)
    {
    case SMMP_FRAME_INVITE:
      if (ka->invite != NULL && g_bytes_equal (ka->invite, bytes))
        return FALSE;
      reject (ka, sender, SMMP_ERROR_REPLAYED,
              "a different invitation from %s reuses this session's id", sender);
      return FALSE;
    case SMMP_FRAME_ANSWER:
      return handle_answer (ka, sender, frame);
    case SMMP_FRAME_ROSTER:
      return handle_roster (ka, sender, frame);
    case SMMP_FRAME_AUTH:
    case SMMP_FRAME_KEY:
    case SMMP_FRAME_CONFIRM:
    case SMMP_FRAME_ABORT:
      return handle_round_frame (ka, sender, frame);
    case SMMP_FRAME_DATA:
    case SMMP_FRAME_RESYNC:
    case SMMP_FRAME_PRIVATE:
      break;
    }
  return FALSE;
}

void
smmp_ka_expire (SmmpKeyAgreement *ka)
{
  g_autoptr (GArray) silent = g_array_new (FALSE, FALSE, sizeof (guint));
  guint round;

  switch (ka->phase)
    {
    case SMMP_KA_COLLECTING:
      if (ka->answers->len >= 2)
        close_invitation (ka);
      else
        {
          fail (ka, SMMP_ERROR_TIMEOUT, NULL, NULL,
                "nobody answered the invitation: no other occupant runs SMMP");
          for (guint i = 1; i < ka->invited->len; i++)
            g_ptr_array_add (((SmmpEvent *) g_queue_peek_tail (&ka->events))->handles,
                             g_strdup (g_ptr_array_index (ka->invited, i)));
        }
      return;
    case SMMP_KA_AWAIT_ROSTER:
      fail (ka, SMMP_ERROR_TIMEOUT, NULL, ka->initiator_handle,
            "%s never fixed the roster", ka->initiator_handle);
      return;
    case SMMP_KA_AUTH:
    case SMMP_KA_KEY:
    case SMMP_KA_CONFIRM:
      round = ka->phase == SMMP_KA_AUTH ? ROUND_AUTH
            : ka->phase == SMMP_KA_KEY ? ROUND_KEY : ROUND_CONFIRM;
      for (guint i = 0; i < ka->n; i++)
        if (ka->round[round][i] == NULL)
          g_array_append_val (silent, i);
      fail (ka, SMMP_ERROR_TIMEOUT, silent, NULL,
            "%u of %u members did not answer in the %s round", silent->len, ka->n,
            smmp_ka_phase_name (ka->phase));
      return;
    case SMMP_KA_DONE:
    case SMMP_KA_FAILED:
      return;
    }
}

/* ---- output and accessors -------------------------------------------- */

GBytes *
smmp_ka_pop_frame (SmmpKeyAgreement *ka)
{
  return g_queue_pop_head (&ka->frames);
}

SmmpEvent *
smmp_ka_pop_event (SmmpKeyAgreement *ka)
{
  return g_queue_pop_head (&ka->events);
}

SmmpKaPhase
smmp_ka_get_phase (const SmmpKeyAgreement *ka)
{
  return ka->phase;
}

const char *
smmp_ka_phase_name (SmmpKaPhase phase)
{
  switch (phase)
    {
    case SMMP_KA_COLLECTING: return "invitation";
    case SMMP_KA_AWAIT_ROSTER: return "roster";
    case SMMP_KA_AUTH: return "authentication";
    case SMMP_KA_KEY: return "key";
    case SMMP_KA_CONFIRM: return "confirmation";
    case SMMP_KA_DONE: return "done";
    case SMMP_KA_FAILED: return "failed";
    }
  return "unknown";
}

const guint8 *
smmp_ka_get_sid (const SmmpKeyAgreement *ka)
{
  return ka->sid;
}

SmmpGroupState *
smmp_ka_take_state (SmmpKeyAgreement *ka)
{
  if (ka->phase != SMMP_KA_DONE)
    return NULL;
  return g_steal_pointer (&ka->state);
}

gboolean
smmp_frame_peek_sid (GBytes *frame, guint8 sid_out[SMMP_SID_BYTES])
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);

  if (len < SMMP_FRAME_HEADER_BYTES)
    return FALSE;
  memcpy (sid_out, data + 2, SMMP_SID_BYTES);
  return TRUE;
}

/* ---- test-only access (smmp-ka-private.h) ----------------------------- */

#include "smmp-ka-private.h"

const guint8 *
smmp_ka_testing_sign_secret (const SmmpKeyAgreement *ka)
{
  return ka->secrets != NULL ? ka->secrets->sign_secret : NULL;
}
