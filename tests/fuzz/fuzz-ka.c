/* fuzz-ka.c: fuzz target for the key-agreement state machine.
 *
 * Every input plays a room with two real agreements in it:
 *
 *   alice  the initiator: smmp_ka_initiate (identity from
 *          smmp_identity_generate, self "alice", inviting "bob" and "carol");
 *   bob    an invitee: smmp_ka_accept of alice's INVITE, self "bob".
 *
 * "carol" (invited) and "mallory" (not invited) exist only as names the
 * input can send under.  The input is a list of records (fuzz-common.h,
 * README.md): each names a sender handle, says which agreements the room
 * delivers the frame to (smmp_ka_receive), whether to expire either
 * agreement afterwards, and whether to hold the agreements' own frames back.
 * Unless held, the frames the agreements broadcast are then relayed to both
 * of them, as the room reflects every frame to every occupant, so an input
 * can steer a real session through all of its rounds.
 *
 * With the FIXUP bit the target rewrites the frame before delivering it: the
 * session id becomes this session's, and a frame that decodes is re-encoded
 * with the sender's session signing key (alice's and bob's real ones,
 * through smmp-ka-private.h; fixed ones for carol and mallory), with that
 * key as the ANSWER's signing key, and for a ROSTER with the real keys of
 * alice and bob filled in and the entries re-sorted.  Without it random
 * bytes would never get past the session id and signature checks.
 *
 * libsodium's generator is replaced by a deterministic one and restarted for
 * every input, so an input always builds the same session: a crash
 * reproduces.
 *
 * Checked, besides "no crash, no abort, no leak, no GLib critical": every
 * event is well formed; an agreement that reports the session up hands over
 * its state exactly once; no master key outlives a call; and when alice and
 * bob both reach a session, they hold the same one.
 */
#include "fuzz-common.h"
#include "fuzz-target.h"

#include "smmp-frame.h"
#include "smmp-identity.h"
#include "smmp-ka-private.h"
#include "smmp-ka.h"
#include "smmp-state.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define N_AGREEMENTS 2  /* alice and bob, FUZZ_KA_ALICE and FUZZ_KA_BOB */
#define N_HANDLES 4
/* Bounds the frames relayed per input, whatever the agreements do. */
#define MAX_DELIVERIES 1024

static const char *const handle_names[N_HANDLES] = { "alice", "bob", "carol", "mallory" };

typedef struct {
  guint owner;
  GBytes *frame;
} Pending;

typedef struct {
  SmmpIdentity *identity[N_AGREEMENTS];
  SmmpKeyAgreement *ka[N_AGREEMENTS];
  SmmpGroupState *state[N_AGREEMENTS];
  guint sessions_up[N_AGREEMENTS];
  guint8 sid[SMMP_SID_BYTES];
  SmmpFrame *bob_answer;            /* bob's own ANSWER, for roster fix-ups */
  guint8 sign_public[N_HANDLES][SMMP_KEY_PUBLIC_BYTES];
  guint8 sign_secret[N_HANDLES][SMMP_SIGN_SECRET_BYTES];
  GQueue pending;                   /* of Pending*: broadcast, not yet relayed */
  guint deliveries;
} Room;

/* SMMP_FUZZ_VERBOSE=1 in the environment: print what happens (to see what
 * an input does when replaying it). */
static gboolean verbose;

static int
handle_index (const char *handle)
{
  for (int i = 0; i < N_HANDLES; i++)
    if (strcmp (handle, handle_names[i]) == 0)
      return i;
  return -1;
}

/* ---- events and outputs ------------------------------------------------ */

static void
check_event (Room *room, guint who, const SmmpEvent *e)
{
  SmmpKaPhase phase = smmp_ka_get_phase (room->ka[who]);

  FUZZ_CHECK (e->message != NULL);
  FUZZ_CHECK (e->handles != NULL && e->outsiders != NULL);
  FUZZ_CHECK (strcmp (smmp_event_type_name (e->type), "unknown") != 0);
  FUZZ_CHECK (smmp_error_code_name (e->code) != NULL);
  for (guint i = 0; i < e->handles->len; i++)
    FUZZ_CHECK (g_ptr_array_index (e->handles, i) != NULL);
  for (guint i = 0; i < e->outsiders->len; i++)
    FUZZ_CHECK (g_ptr_array_index (e->outsiders, i) != NULL);

  switch (e->type)
    {
    case SMMP_EVENT_ROSTER_FIXED:
      FUZZ_CHECK (e->code == 0);
      FUZZ_CHECK (e->handles->len >= 2 && e->handles->len <= SMMP_MAX_MEMBERS);
      break;
    case SMMP_EVENT_SESSION_UP:
      FUZZ_CHECK (e->code == 0);
      FUZZ_CHECK (phase == SMMP_KA_DONE);
      FUZZ_CHECK (e->handles->len >= 2);
      room->sessions_up[who]++;
      FUZZ_CHECK (room->sessions_up[who] == 1);
      break;
    case SMMP_EVENT_SESSION_FAILED:
      FUZZ_CHECK (e->code != 0);
      FUZZ_CHECK (phase == SMMP_KA_FAILED);
      break;
    case SMMP_EVENT_FRAME_REJECTED:
      FUZZ_CHECK (e->code != 0);
      FUZZ_CHECK (e->handle != NULL);
      break;
    case SMMP_EVENT_MESSAGE:
    case SMMP_EVENT_CATCHUP_NEEDED:
    case SMMP_EVENT_CATCHUP_DONE:
    case SMMP_EVENT_RESYNC_NEEDED:
    case SMMP_EVENT_RESYNCED:
    case SMMP_EVENT_REKEY_NEEDED:
    case SMMP_EVENT_MEMBERS_CHANGED:
    case SMMP_EVENT_PRIVATE_MESSAGE:
      FUZZ_CHECK (!"a key agreement reports no conversation events");
      break;
    }
}

/* After every call into an agreement: pop its frames into the room's queue,
 * pop and check its events, take its state once it is done. */
static void
collect (Room *room, guint who)
{
  SmmpKeyAgreement *ka = room->ka[who];
  SmmpKaPhase phase = smmp_ka_get_phase (ka);
  GBytes *frame;
  SmmpEvent *event;

  FUZZ_CHECK (smmp_ka_master_keys_alive () == 0);
  FUZZ_CHECK (strcmp (smmp_ka_phase_name (phase), "unknown") != 0);
  while ((frame = smmp_ka_pop_frame (ka)) != NULL)
    {
      Pending *p = g_new (Pending, 1);

      p->owner = who;
      p->frame = frame;
      g_queue_push_tail (&room->pending, p);
    }
  while ((event = smmp_ka_pop_event (ka)) != NULL)
    {
      if (verbose)
        g_printerr ("  %s [%s]: %s %s: %s\n", handle_names[who],
                    smmp_ka_phase_name (phase), smmp_event_type_name (event->type),
                    event->code != 0 ? smmp_error_code_name (event->code) : "",
                    event->message);
      check_event (room, who, event);
      smmp_event_free (event);
    }
  if (phase == SMMP_KA_DONE && room->state[who] == NULL)
    {
      FUZZ_CHECK (room->sessions_up[who] == 1);
      room->state[who] = smmp_ka_take_state (ka);
      FUZZ_CHECK (room->state[who] != NULL);
      FUZZ_CHECK (smmp_ka_take_state (ka) == NULL);
      FUZZ_CHECK (memcmp (smmp_group_state_get_sid (room->state[who]), room->sid,
                          SMMP_SID_BYTES) == 0);
    }
  else if (phase != SMMP_KA_DONE)
    FUZZ_CHECK (smmp_ka_take_state (ka) == NULL);
}

static void
deliver (Room *room, guint8 to_mask, const char *sender, GBytes *frame)
{
  guint8 sid[SMMP_SID_BYTES];
  gsize len = g_bytes_get_size (frame);

  FUZZ_CHECK (smmp_frame_peek_sid (frame, sid) == (len >= SMMP_FRAME_HEADER_BYTES));
  for (guint who = 0; who < N_AGREEMENTS; who++)
    if (to_mask & (1u << who))
      {
        (void) smmp_ka_receive (room->ka[who], sender, frame);
        collect (room, who);
      }
}

/* The room reflects every broadcast frame to every occupant, in one order. */
static void
relay (Room *room)
{
  Pending *p;

  while (room->deliveries < MAX_DELIVERIES
         && (p = g_queue_pop_head (&room->pending)) != NULL)
    {
      room->deliveries++;
      deliver (room, 0x3, handle_names[p->owner], p->frame);
      g_bytes_unref (p->frame);
      g_free (p);
    }
}

/* ---- fix-ups ------------------------------------------------------------ */

typedef struct {
  SmmpRosterEntry entry;
  guint8 keys[3][SMMP_KEY_PUBLIC_BYTES];
} FixedEntry;

static int
fixed_entry_compare (const void *a, const void *b)
{
  const FixedEntry *x = a, *y = b;

  return memcmp (x->keys[0], y->keys[0], SMMP_KEY_PUBLIC_BYTES);
}

static GBytes *
fixup_roster (Room *room, guint who, const SmmpFrame *f)
{
  const guint n = f->n_entries;
  FixedEntry *fixed = g_new0 (FixedEntry, n);
  SmmpRosterEntry *entries = g_new0 (SmmpRosterEntry, n);
  guint signer = f->sender;
  GBytes *out;

  for (guint i = 0; i < n; i++)
    {
      const SmmpRosterEntry *e = &f->entries[i];
      int k = handle_index (e->handle);

      fixed[i].entry.handle = e->handle;
      memcpy (fixed[i].keys[0], e->identity_key, SMMP_KEY_PUBLIC_BYTES);
      memcpy (fixed[i].keys[1], e->ratchet_key, SMMP_KEY_PUBLIC_BYTES);
      memcpy (fixed[i].keys[2], e->signing_key, SMMP_KEY_PUBLIC_BYTES);
      if (k >= 0)
        memcpy (fixed[i].keys[2], room->sign_public[k], SMMP_KEY_PUBLIC_BYTES);
      if (k == FUZZ_KA_ALICE)
        memcpy (fixed[i].keys[0], smmp_identity_get_public (room->identity[FUZZ_KA_ALICE]),
                SMMP_KEY_PUBLIC_BYTES);
      if (k == FUZZ_KA_BOB)
        {
          memcpy (fixed[i].keys[0], room->bob_answer->identity_key, SMMP_KEY_PUBLIC_BYTES);
          memcpy (fixed[i].keys[1], room->bob_answer->ratchet_key, SMMP_KEY_PUBLIC_BYTES);
        }
    }
  /* Indices follow the identity keys (the decoder insists). */
  qsort (fixed, n, sizeof *fixed, fixed_entry_compare);
  for (guint i = 0; i < n; i++)
    {
      entries[i].handle = fixed[i].entry.handle;
      entries[i].identity_key = fixed[i].keys[0];
      entries[i].ratchet_key = fixed[i].keys[1];
      entries[i].signing_key = fixed[i].keys[2];
      if (strcmp (entries[i].handle, handle_names[who]) == 0)
        signer = i;
    }
  out = smmp_frame_encode_roster (room->sid, signer, entries, n,
                                  (const char *const *) f->handles->pdata,
                                  f->handles->len, room->sign_secret[who]);
  g_free (entries);
  g_free (fixed);
  return out;
}

/* See the FIXUP bit in the comment at the top. */
static GBytes *
fixup (Room *room, guint who, GBytes *payload)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (payload, &len);
  const guint8 *sk = room->sign_secret[who];
  g_autoptr (SmmpFrame) f = NULL;
  guint8 *copy;
  GBytes *patched;

  if (len < SMMP_FRAME_HEADER_BYTES)
    return g_bytes_ref (payload);
  copy = g_malloc (len);
  memcpy (copy, data, len);
  memcpy (copy + 2, room->sid, SMMP_SID_BYTES);
  patched = g_bytes_new_take (copy, len);
  f = smmp_frame_decode_bytes (patched, NULL);
  if (f == NULL)
    return patched;
  g_bytes_unref (patched);

  switch (f->type)
    {
    case SMMP_FRAME_INVITE:
      return g_bytes_ref (f->bytes);
    case SMMP_FRAME_ANSWER:
      return smmp_frame_encode_answer (room->sid, f->identity_key, f->ratchet_key,
                                       room->sign_public[who], sk);
    case SMMP_FRAME_ROSTER:
      return fixup_roster (room, who, f);
    case SMMP_FRAME_AUTH:
      return smmp_frame_encode_auth (room->sid, f->sender, f->element, f->macs,
                                     f->n_macs, sk);
    case SMMP_FRAME_KEY:
      return smmp_frame_encode_key (room->sid, f->sender, f->element, sk);
    case SMMP_FRAME_CONFIRM:
      return smmp_frame_encode_confirm (room->sid, f->sender, f->confirm, sk);
    case SMMP_FRAME_ABORT:
      return smmp_frame_encode_abort (room->sid, f->sender, f->reason, sk);
    case SMMP_FRAME_DATA:
    case SMMP_FRAME_RESYNC:
    case SMMP_FRAME_PRIVATE:
      break;
    }
  return g_bytes_ref (f->bytes);
}

/* ---- the room ------------------------------------------------------------ */

static void
keep_sign_key (Room *room, guint who, const guint8 *secret)
{
  FUZZ_CHECK (secret != NULL);
  memcpy (room->sign_secret[who], secret, SMMP_SIGN_SECRET_BYTES);
  crypto_sign_ed25519_sk_to_pk (room->sign_public[who], secret);
}

static void
room_open (Room *room)
{
  static const char *const invited[] = { "bob", "carol" };
  g_autoptr (GError) error = NULL;
  GBytes *invite, *answer;

  memset (room, 0, sizeof *room);
  g_queue_init (&room->pending);
  for (guint who = 0; who < N_AGREEMENTS; who++)
    room->identity[who] = smmp_identity_generate ();

  room->ka[FUZZ_KA_ALICE] = smmp_ka_initiate (room->identity[FUZZ_KA_ALICE], "alice",
                                              invited, G_N_ELEMENTS (invited), &error);
  FUZZ_CHECK (room->ka[FUZZ_KA_ALICE] != NULL && error == NULL);
  memcpy (room->sid, smmp_ka_get_sid (room->ka[FUZZ_KA_ALICE]), SMMP_SID_BYTES);
  keep_sign_key (room, FUZZ_KA_ALICE, smmp_ka_testing_sign_secret (room->ka[FUZZ_KA_ALICE]));
  invite = smmp_ka_pop_frame (room->ka[FUZZ_KA_ALICE]);
  FUZZ_CHECK (invite != NULL && smmp_ka_pop_frame (room->ka[FUZZ_KA_ALICE]) == NULL);

  room->ka[FUZZ_KA_BOB] = smmp_ka_accept (room->identity[FUZZ_KA_BOB], "bob", "alice",
                                          invite, &error);
  FUZZ_CHECK (room->ka[FUZZ_KA_BOB] != NULL && error == NULL);
  keep_sign_key (room, FUZZ_KA_BOB, smmp_ka_testing_sign_secret (room->ka[FUZZ_KA_BOB]));
  answer = smmp_ka_pop_frame (room->ka[FUZZ_KA_BOB]);
  FUZZ_CHECK (answer != NULL && smmp_ka_pop_frame (room->ka[FUZZ_KA_BOB]) == NULL);
  room->bob_answer = smmp_frame_decode_bytes (answer, NULL);
  FUZZ_CHECK (room->bob_answer != NULL && room->bob_answer->type == SMMP_FRAME_ANSWER);

  for (guint who = FUZZ_KA_CAROL; who < N_HANDLES; who++)
    {
      guint8 seed[crypto_sign_SEEDBYTES] = { 0 };

      g_strlcpy ((char *) seed, handle_names[who], sizeof seed);
      crypto_sign_seed_keypair (room->sign_public[who], room->sign_secret[who], seed);
    }

  /* What the room has seen so far, to be relayed to both. */
  {
    Pending *p = g_new (Pending, 1);
    Pending *q = g_new (Pending, 1);

    p->owner = FUZZ_KA_ALICE;
    p->frame = invite;
    q->owner = FUZZ_KA_BOB;
    q->frame = answer;
    g_queue_push_tail (&room->pending, p);
    g_queue_push_tail (&room->pending, q);
  }
}

static void
pending_free (gpointer data)
{
  Pending *p = data;

  g_bytes_unref (p->frame);
  g_free (p);
}

static void
room_close (Room *room)
{
  if (room->state[FUZZ_KA_ALICE] != NULL && room->state[FUZZ_KA_BOB] != NULL)
    {
      /* Both confirmed a session: it must be one and the same. */
      guint8 a[SMMP_HASH_BYTES], b[SMMP_HASH_BYTES];
      g_autofree char *code_a = smmp_group_state_get_verification_code (room->state[0]);
      g_autofree char *code_b = smmp_group_state_get_verification_code (room->state[1]);

      smmp_group_state_shared_digest (room->state[FUZZ_KA_ALICE], a);
      smmp_group_state_shared_digest (room->state[FUZZ_KA_BOB], b);
      FUZZ_CHECK (memcmp (a, b, sizeof a) == 0);
      FUZZ_CHECK (strcmp (code_a, code_b) == 0);
      FUZZ_CHECK (smmp_group_state_get_size (room->state[0])
                  == smmp_group_state_get_size (room->state[1]));
    }
  g_queue_clear_full (&room->pending, pending_free);
  for (guint who = 0; who < N_AGREEMENTS; who++)
    {
      smmp_group_state_free (room->state[who]);
      smmp_ka_free (room->ka[who]);
      smmp_identity_free (room->identity[who]);
    }
  smmp_frame_free (room->bob_answer);
  sodium_memzero (room->sign_secret, sizeof room->sign_secret);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Room room;
  size_t at = 0;

  fuzz_init (TRUE);
  verbose = g_getenv ("SMMP_FUZZ_VERBOSE") != NULL;
  fuzz_rng_reset (0x534d4d50); /* the same session for every input */
  room_open (&room);

  for (guint records = 0;
       records < FUZZ_KA_MAX_RECORDS && size - at >= FUZZ_KA_RECORD_HEADER;
       records++)
    {
      const guint8 control = data[at];
      const guint who = control & FUZZ_KA_SENDER_MASK;
      size_t len = ((size_t) data[at + 1] << 8) | data[at + 2];
      guint8 to_mask = 0;

      at += FUZZ_KA_RECORD_HEADER;
      len = MIN (len, size - at);
      if (!(control & FUZZ_KA_NOT_TO_ALICE))
        to_mask |= 1u << FUZZ_KA_ALICE;
      if (!(control & FUZZ_KA_NOT_TO_BOB))
        to_mask |= 1u << FUZZ_KA_BOB;

      if (len > 0)
        {
          g_autoptr (GBytes) payload = g_bytes_new (data + at, len);
          g_autoptr (GBytes) frame = (control & FUZZ_KA_FIXUP)
                                       ? fixup (&room, who, payload)
                                       : g_bytes_ref (payload);

          deliver (&room, to_mask, handle_names[who], frame);
        }
      at += len;

      if (control & FUZZ_KA_EXPIRE_ALICE)
        {
          smmp_ka_expire (room.ka[FUZZ_KA_ALICE]);
          collect (&room, FUZZ_KA_ALICE);
        }
      if (control & FUZZ_KA_EXPIRE_BOB)
        {
          smmp_ka_expire (room.ka[FUZZ_KA_BOB]);
          collect (&room, FUZZ_KA_BOB);
        }
      if (!(control & FUZZ_KA_HOLD))
        relay (&room);
    }
  relay (&room);

  room_close (&room);
  FUZZ_CHECK (smmp_ka_master_keys_alive () == 0);
  return 0;
}
