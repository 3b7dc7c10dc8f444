/* smmp-session.c: a member's session: key agreement, then the conversation
 * in room order (R6). */
#include "smmp-session.h"
#include "smmp-frame.h"
#include "smmp-json.h"
#include "smmp-pair.h"
#include "smmp-ratchet.h"
#include "smmp-state-private.h"

#include <sodium.h>
#include <stdarg.h>
#include <string.h>

/* Applied frames remembered to tell a replay from an overtaken frame. */
#define SMMP_SESSION_RECENT 64

/* Frames from states not yet reached, kept while catching up. */
#define SMMP_SESSION_MAX_AHEAD 512

/* Ids of the last messages shown, so that a message sealed again after its
 * first copy was applied (its sender lost the reflection) is shown once. */
#define SMMP_SESSION_SEEN 512

/* A text waiting to be sealed, with the id it keeps through every resend. */
typedef struct {
  char *text;
  guint8 id[SMMP_MESSAGE_ID_BYTES];
} Outgoing;

struct _SmmpSession {
  const SmmpIdentity *identity;
  char *self_handle;
  SmmpKeyAgreement *ka;     /* under way, or the last one */
  SmmpGroupState *state;    /* the confirmed session */
  GQueue outgoing;          /* of Outgoing*: texts not yet sealed */
  SmmpPending *in_flight;   /* sealed, waiting for the room */
  gboolean in_flight_restored; /* ...read back from a save, not yet offered */
  SmmpResyncPending *resync; /* our resync, waiting for the room */
  gboolean resync_restored;  /* ...read back from a save, not yet looked for */
  GQueue ahead;             /* of SmmpFrame*: built on states not reached */
  gboolean catching_up;
  gboolean ahead_overflowed; /* frames were dropped from @ahead */
  gboolean rekey_requested;
  gboolean replaced;        /* the others re-keyed without us: seal nothing */
  gboolean own_invite_seen; /* our invitation came back from the room */
  gboolean resync_asked;    /* RESYNC_NEEDED reported, no resync sent since */
  guint applied;            /* data frames applied since the session came up */
  /* Digests of the last frames applied, to name replays as such. */
  guint8 recent[SMMP_SESSION_RECENT][SMMP_HASH_BYTES];
  guint recent_next;
  guint8 seen[SMMP_SESSION_SEEN][SMMP_MESSAGE_ID_BYTES];
  guint n_seen, seen_next;
  guint retries;
  GQueue frames;            /* of GBytes* */
  GQueue events;            /* of SmmpEvent* */
  /* One-on-one (R11): a ratchet per peer of the confirmed session, made
   * when first used (state->n entries, NULL until then), and the frames
   * for single members waiting to be popped. */
  SmmpPair **pairs;
  GQueue private_frames;    /* of PrivateFrame* */
};

typedef struct {
  char *to;
  GBytes *frame;
} PrivateFrame;

static void
private_frame_free (PrivateFrame *p)
{
  g_free (p->to);
  g_bytes_unref (p->frame);
  g_free (p);
}

/* Forgets every one-on-one ratchet: they belong to the confirmed session. */
static void
clear_pairs (SmmpSession *session, guint n)
{
  if (session->pairs == NULL)
    return;
  for (guint i = 0; i < n; i++)
    smmp_pair_free (session->pairs[i]);
  g_clear_pointer (&session->pairs, g_free);
}

SmmpSession *
smmp_session_new (const SmmpIdentity *identity, const char *self_handle)
{
  SmmpSession *session = g_new0 (SmmpSession, 1);

  session->identity = identity;
  session->self_handle = g_strdup (self_handle);
  g_queue_init (&session->outgoing);
  g_queue_init (&session->ahead);
  g_queue_init (&session->frames);
  g_queue_init (&session->events);
  g_queue_init (&session->private_frames);
  return session;
}

static void
free_text (gpointer text)
{
  memset (text, 0, strlen (text));
  g_free (text);
}

static Outgoing *
outgoing_new (const char *text, const guint8 *id)
{
  Outgoing *o = g_new0 (Outgoing, 1);

  o->text = g_strdup (text);
  if (id != NULL)
    memcpy (o->id, id, SMMP_MESSAGE_ID_BYTES);
  else
    randombytes_buf (o->id, SMMP_MESSAGE_ID_BYTES);
  return o;
}

static void
outgoing_free (gpointer p)
{
  Outgoing *o = p;

  free_text (o->text);
  g_free (o);
}

static gboolean
seen_before (const SmmpSession *session, const guint8 *id)
{
  for (guint i = 0; i < session->n_seen; i++)
    if (memcmp (session->seen[i], id, SMMP_MESSAGE_ID_BYTES) == 0)
      return TRUE;
  return FALSE;
}

static void
remember_seen (SmmpSession *session, const guint8 *id)
{
  memcpy (session->seen[session->seen_next], id, SMMP_MESSAGE_ID_BYTES);
  session->seen_next = (session->seen_next + 1) % SMMP_SESSION_SEEN;
  session->n_seen = MIN (session->n_seen + 1, SMMP_SESSION_SEEN);
}

void
smmp_session_free (SmmpSession *session)
{
  if (session == NULL)
    return;
  smmp_ka_free (session->ka);
  if (session->state != NULL)
    clear_pairs (session, session->state->n);
  smmp_group_state_free (session->state);
  smmp_pending_free (session->in_flight);
  smmp_resync_pending_free (session->resync);
  g_queue_clear_full (&session->ahead, (GDestroyNotify) smmp_frame_free);
  g_queue_clear_full (&session->outgoing, outgoing_free);
  g_queue_clear_full (&session->frames, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&session->events, (GDestroyNotify) smmp_event_free);
  g_queue_clear_full (&session->private_frames, (GDestroyNotify) private_frame_free);
  g_free (session->self_handle);
  g_free (session);
}

static void G_GNUC_PRINTF (4, 5)
reject (SmmpSession *session, const char *sender, SmmpErrorCode code,
        const char *format, ...)
{
  va_list args;
  char *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_queue_push_tail (&session->events,
                     smmp_event_new (SMMP_EVENT_FRAME_REJECTED, code, sender, message));
  g_free (message);
}

/* Seals the next queued text if nothing of ours is in flight. */
static void
flush (SmmpSession *session)
{
  g_autoptr (GError) error = NULL;
  Outgoing *next;

  /* While keys are out of step nothing is sealed: it would be lost. */
  if (session->state == NULL || session->in_flight != NULL
      || session->catching_up || session->state->resync_required
      || session->rekey_requested || session->replaced
      || g_queue_is_empty (&session->outgoing))
    return;
  next = g_queue_pop_head (&session->outgoing);
  session->in_flight = smmp_ratchet_seal_with_id (session->state, next->text, next->id,
                                                  &error);
  outgoing_free (next);
  /* Texts were checked when queued, so sealing cannot refuse them. */
  g_assert (session->in_flight != NULL);
  g_queue_push_tail (&session->frames, g_bytes_ref (session->in_flight->frame));
}

/* The text in flight goes back to the head of the queue, to be sealed again
 * on the current state. */
static void
requeue_in_flight (SmmpSession *session)
{
  if (session->in_flight == NULL)
    return;
  g_queue_push_head (&session->outgoing,
                     outgoing_new (session->in_flight->text, session->in_flight->id));
  g_clear_pointer (&session->in_flight, smmp_pending_free);
}

/* Moves what the key agreement produced to our queues; adopts a confirmed
 * state (the old one has served until now: R10). */
/* Who joined and who left between two confirmed sessions, by identity key:
 * a changed nickname with the same key is the same member. */
static SmmpEvent *
membership_change (const SmmpGroupState *old, const SmmpGroupState *new)
{
  SmmpEvent *event = smmp_event_new (SMMP_EVENT_MEMBERS_CHANGED, 0, NULL,
                                     "a new session replaced the old one");

  for (guint pass = 0; pass < 2; pass++)
    {
      const SmmpGroupState *from = pass == 0 ? new : old, *in = pass == 0 ? old : new;
      GPtrArray *into = pass == 0 ? event->handles : event->outsiders;

      for (guint i = 0; i < from->n; i++)
        {
          gboolean found = FALSE;

          for (guint k = 0; k < in->n && !found; k++)
            found = memcmp (from->members[i].identity_key, in->members[k].identity_key,
                            SMMP_KEY_PUBLIC_BYTES) == 0;
          if (!found)
            g_ptr_array_add (into, g_strdup (from->members[i].handle));
        }
    }
  return event;
}

static void
emit_simple (SmmpSession *session, SmmpEventType type, SmmpErrorCode code,
             const char *handle, const char *message)
{
  g_queue_push_tail (&session->events, smmp_event_new (type, code, handle, message));
}

static void
need_rekey (SmmpSession *session, const char *why)
{
  if (session->rekey_requested)
    return;
  session->rekey_requested = TRUE;
  emit_simple (session, SMMP_EVENT_REKEY_NEEDED, SMMP_ERROR_STALE_KEY, NULL, why);
}

static void
drain_ka (SmmpSession *session)
{
  GBytes *frame;
  SmmpEvent *event;

  while ((frame = smmp_ka_pop_frame (session->ka)) != NULL)
    g_queue_push_tail (&session->frames, frame);
  while ((event = smmp_ka_pop_event (session->ka)) != NULL)
    {
      if (event->type == SMMP_EVENT_SESSION_UP)
        {
          SmmpGroupState *old = session->state;

          if (old != NULL)
            clear_pairs (session, old->n);
          session->state = smmp_ka_take_state (session->ka);
          session->applied = 0;
          if (old != NULL)
            {
              g_queue_push_tail (&session->events, event);
              event = membership_change (old, session->state);
              smmp_group_state_free (old);
            }
          requeue_in_flight (session);
          g_clear_pointer (&session->resync, smmp_resync_pending_free);
          g_queue_clear_full (&session->ahead, (GDestroyNotify) smmp_frame_free);
          session->catching_up = FALSE;
          session->in_flight_restored = FALSE;
          session->resync_restored = FALSE;
          session->rekey_requested = FALSE;
          session->replaced = FALSE;
          session->resync_asked = FALSE;
        }
      else if (event->type == SMMP_EVENT_SESSION_FAILED && session->rekey_requested)
        {
          /* The re-key this member asked for did not happen: ask again (the
           * caller retries after its own delay). */
          g_queue_push_tail (&session->events, event);
          session->rekey_requested = FALSE;
          need_rekey (session, "the key agreement failed and the keys are still out of step");
          continue;
        }
      g_queue_push_tail (&session->events, event);
    }
  flush (session);
}

void
smmp_session_mark_replaced (SmmpSession *session)
{
  if (session->state == NULL)
    return;
  session->replaced = TRUE;
  requeue_in_flight (session);
}

gboolean
smmp_session_start (SmmpSession *session, const char *const *invited,
                    guint n_invited, GError **error)
{
  SmmpKeyAgreement *ka = smmp_ka_initiate (session->identity, session->self_handle,
                                           invited, n_invited, error);

  if (ka == NULL)
    return FALSE;
  smmp_ka_free (session->ka);
  session->ka = ka;
  session->own_invite_seen = FALSE;
  drain_ka (session);
  return TRUE;
}

static gboolean
ka_open (const SmmpSession *session)
{
  SmmpKaPhase phase;

  if (session->ka == NULL)
    return FALSE;
  phase = smmp_ka_get_phase (session->ka);
  return phase != SMMP_KA_DONE && phase != SMMP_KA_FAILED;
}

static gboolean
receive_invite (SmmpSession *session, const char *sender, GBytes *bytes)
{
  g_autoptr (GError) error = NULL;
  guint8 sid[SMMP_SID_BYTES];
  SmmpKeyAgreement *ka;

  if (strcmp (sender, session->self_handle) == 0)
    {
      /* Our own invitation, reflected: from now on an invitation from
       * someone else comes after ours in the room's order. */
      if (session->ka != NULL && smmp_frame_peek_sid (bytes, sid)
          && memcmp (sid, smmp_ka_get_sid (session->ka), SMMP_SID_BYTES) == 0)
        session->own_invite_seen = TRUE;
      return FALSE;
    }
  if (session->ka != NULL && smmp_frame_peek_sid (bytes, sid)
      && memcmp (sid, smmp_ka_get_sid (session->ka), SMMP_SID_BYTES) == 0)
    return smmp_ka_receive (session->ka, sender, bytes);
  /* Two members invited at once: the room's order decides, the same for
   * everyone.  A valid invitation naming us that came before ours wins. */
  if (ka_open (session) && !(smmp_ka_get_phase (session->ka) == SMMP_KA_COLLECTING
                             && !session->own_invite_seen))
    {
      reject (session, sender, SMMP_ERROR_UNEXPECTED,
              "invitation from %s while another key agreement is under way", sender);
      return FALSE;
    }
  ka = smmp_ka_accept (session->identity, session->self_handle, sender, bytes, &error);
  if (ka == NULL)
    {
      /* An invitation for others is no business of ours. */
      if (!g_error_matches (error, SMMP_ERROR, SMMP_ERROR_NOT_INVITED))
        reject (session, sender, error->code, "invitation from %s refused: %s", sender,
                error->message);
      return FALSE;
    }
  smmp_ka_free (session->ka);
  session->ka = ka;
  drain_ka (session);
  return TRUE;
}

/* Where a conversation frame stands against our state (R6, R9):
 * -1 built on an older state, 0 on ours, 1 on one we have not reached. */
static gint
frame_position (const SmmpGroupState *state, const SmmpFrame *frame)
{
  if (frame->generation != state->generation)
    return frame->generation < state->generation ? -1 : 1;
  if (frame->type == SMMP_FRAME_RESYNC)
    return 0; /* a resync is built on a generation, whatever the epoch */
  if (frame->epoch != state->epoch)
    return frame->epoch < state->epoch ? -1 : 1;
  return 0;
}

static void
need_resync (SmmpSession *session, const char *why)
{
  /* Asked once until a resync goes out: the caller's back-off is running.
   * Keys still out of step block sealing; but while a re-key is asked for,
   * no resync is: the new session replaces whatever a resync would mend,
   * and resyncs sent meanwhile only feed more losses. */
  session->state->resync_required = TRUE;
  if (session->resync_asked || session->rekey_requested)
    return;
  session->resync_asked = TRUE;
  emit_simple (session, SMMP_EVENT_RESYNC_NEEDED, SMMP_ERROR_UNDECRYPTABLE, NULL, why);
}

static void
need_catch_up (SmmpSession *session)
{
  if (session->catching_up)
    return;
  session->catching_up = TRUE;
  emit_simple (session, SMMP_EVENT_CATCHUP_NEEDED, 0, NULL,
               "frames were missed: catching up from the room's archive");
}

/* TRUE when @frame is, byte for byte, the DATA or RESYNC frame this member
 * has in flight: its own reflection, applied with the secrets kept for it,
 * sealed again when overtaken.  Its signature is the one this member made,
 * so check_frame() does not verify it again: that would cost about one and
 * a half X25519 on every message sent (docs/PROTOCOL.md 6.8, D5).  Any
 * other frame in our name, a replay of an earlier one included, is
 * verified, then refused. */
static gboolean
is_own_in_flight (const SmmpSession *session, const SmmpFrame *frame)
{
  if (frame->sender != session->state->self)
    return FALSE;
  if (frame->type == SMMP_FRAME_DATA)
    return session->in_flight != NULL && g_bytes_equal (frame->bytes, session->in_flight->frame);
  if (frame->type == SMMP_FRAME_RESYNC)
    return session->resync != NULL && g_bytes_equal (frame->bytes, session->resync->frame);
  return FALSE;
}

/* Decodes and checks what every conversation frame must pass before its
 * place in the order is looked at: session, size, signature. */
static SmmpFrame *
check_frame (SmmpSession *session, const char *sender, GBytes *bytes, gboolean live)
{
  g_autoptr (GError) error = NULL;
  SmmpGroupState *state = session->state;
  SmmpFrame *frame;

  if (state == NULL)
    {
      reject (session, sender, SMMP_ERROR_NO_SESSION,
              "message from %s, but this member has no session yet", sender);
      /* Lost or corrupt state, or a session formed without us: a new key
       * agreement brings this member in; it is never locked out. */
      if (!ka_open (session))
        need_rekey (session, "the room talks in a session this member holds no state for");
      return NULL;
    }
  frame = smmp_frame_decode_bytes (bytes, &error);
  if (frame == NULL)
    {
      reject (session, sender, error->code, "frame from %s refused: %s", sender,
              error->message);
      return NULL;
    }
  if (memcmp (frame->sid, state->sid, SMMP_SID_BYTES) != 0 && !live)
    ; /* The archive holds other sessions' frames as a matter of course. */
  else if (memcmp (frame->sid, state->sid, SMMP_SID_BYTES) != 0)
    reject (session, sender, SMMP_ERROR_NOT_FOR_SESSION,
            "%s frame from %s belongs to another session",
            smmp_frame_type_name (frame->type), sender);
  else if (frame->n_members != state->n)
    reject (session, sender, SMMP_ERROR_MALFORMED,
            "%s frame from %s is built for %u members, not %u",
            smmp_frame_type_name (frame->type), sender, frame->n_members, state->n);
  else if (is_own_in_flight (session, frame))
    return frame; /* the bytes this member sealed and signed itself */
  else if (!smmp_frame_verify (frame, state->members[frame->sender].signing_key))
    reject (session, sender, SMMP_ERROR_FORGED,
            "%s frame said to be from %s is not signed by %s's session key",
            smmp_frame_type_name (frame->type), state->members[frame->sender].handle,
            state->members[frame->sender].handle);
  else
    return frame;
  smmp_frame_free (frame);
  return NULL;
}

static gboolean
apply_data (SmmpSession *session, SmmpFrame *frame)
{
  g_autoptr (GError) error = NULL;
  SmmpGroupState *state = session->state;
  const guint s = frame->sender;
  const SmmpPending *own = NULL;
  SmmpOpened opened;
  SmmpEvent *event;

  if (s == state->self)
    {
      if (session->in_flight == NULL && session->replaced)
        return FALSE; /* sealed before we knew; it goes out again (mark_replaced) */
      if (!is_own_in_flight (session, frame))
        {
          reject (session, state->members[s].handle, SMMP_ERROR_REPLAYED,
                  "a message in this member's name that it did not send now");
          return FALSE;
        }
      own = session->in_flight;
    }
  if (!smmp_ratchet_open (state, frame, own, &opened, &error))
    {
      reject (session, state->members[s].handle, error->code, "message from %s refused: %s",
              state->members[s].handle, error->message);
      if (error->code == SMMP_ERROR_STALE_KEY)
        need_rekey (session, error->message);
      else if (error->code == SMMP_ERROR_UNDECRYPTABLE)
        need_resync (session, error->message);
      return FALSE;
    }
  smmp_ratchet_apply (state, s, &opened, own);

  /* Applied by everyone in any case; shown once only. */
  if (seen_before (session, opened.id))
    {
      smmp_opened_clear (&opened);
      if (own != NULL)
        g_clear_pointer (&session->in_flight, smmp_pending_free);
      return TRUE;
    }
  remember_seen (session, opened.id);
  event = smmp_event_new (SMMP_EVENT_MESSAGE, 0, state->members[s].handle, "");
  event->text = g_steal_pointer (&opened.text);
  event->generation = frame->generation;
  event->epoch = frame->epoch;
  g_queue_push_tail (&session->events, event);
  smmp_opened_clear (&opened);
  if (own != NULL)
    g_clear_pointer (&session->in_flight, smmp_pending_free);
  return TRUE;
}

static gboolean
apply_resync (SmmpSession *session, SmmpFrame *frame)
{
  g_autoptr (GError) error = NULL;
  SmmpGroupState *state = session->state;
  const guint s = frame->sender;
  guint8 ratchet_new[SMMP_KEY_PUBLIC_BYTES];
  guint8 *v_new;
  const guint8 *own_secret = NULL;
  gboolean own = is_own_in_flight (session, frame);

  if (s == state->self && !own)
    {
      reject (session, state->members[s].handle, SMMP_ERROR_REPLAYED,
              "a resync in this member's name that it did not send now");
      return FALSE;
    }
  v_new = sodium_malloc (SMMP_KEY_BYTES);
  if (v_new == NULL)
    g_error ("smmp: out of guarded memory");
  if (own)
    {
      memcpy (v_new, session->resync->secrets, SMMP_KEY_BYTES);
      memcpy (ratchet_new, session->resync->ratchet_public, SMMP_KEY_PUBLIC_BYTES);
      own_secret = session->resync->secrets + SMMP_KEY_BYTES;
    }
  else if (!smmp_ratchet_open_resync (state, frame, v_new, ratchet_new, &error))
    {
      sodium_free (v_new);
      reject (session, state->members[s].handle, error->code, "resync from %s refused: %s",
              state->members[s].handle, error->message);
      need_rekey (session, error->message);
      return FALSE;
    }
  smmp_ratchet_apply_resync (state, s, v_new, ratchet_new, own_secret);
  session->resync_asked = FALSE; /* whoever sent it, the need is met */
  sodium_free (v_new);
  g_clear_pointer (&session->resync, smmp_resync_pending_free);
  /* What was in flight was built on the old generation: send it again. */
  requeue_in_flight (session);
  emit_simple (session, SMMP_EVENT_RESYNCED, 0, state->members[s].handle,
               "the group's keys were resynchronised");
  return TRUE;
}

static void
frame_digest (GBytes *bytes, guint8 out[SMMP_HASH_BYTES])
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  crypto_hash_sha256 (out, data, len);
}

static void
remember_applied (SmmpSession *session, SmmpFrame *frame)
{
  frame_digest (frame->bytes, session->recent[session->recent_next]);
  session->recent_next = (session->recent_next + 1) % SMMP_SESSION_RECENT;
}

static gboolean
was_applied (SmmpSession *session, SmmpFrame *frame)
{
  guint8 digest[SMMP_HASH_BYTES];

  frame_digest (frame->bytes, digest);
  for (guint i = 0; i < SMMP_SESSION_RECENT; i++)
    if (memcmp (session->recent[i], digest, SMMP_HASH_BYTES) == 0)
      return TRUE;
  return FALSE;
}

/* Applies @frame if it is built on our state, keeps it if it is ahead.
 * While catching up, live frames are all kept: after a gap, the frame that
 * looks current may be one that lost its place in the room to a frame this
 * member missed; only the archive can say. */
static gboolean
place_frame (SmmpSession *session, const char *sender, SmmpFrame *frame, gboolean live,
             gboolean *applied)
{
  SmmpGroupState *state = session->state;
  gint position = frame_position (state, frame);

  *applied = FALSE;
  if (position < 0)
    {
      /* R6: overtaken in the room.  Our own data frame is sealed again. */
      if (frame->type == SMMP_FRAME_DATA && is_own_in_flight (session, frame))
        {
          session->retries++;
          requeue_in_flight (session);
          return TRUE;
        }
      /* An overtaken frame is normal; one already applied, sent again, is
       * a replay, and the user is told.  Not when it comes from the
       * archive: a catch-up reads back from before the point where this
       * member stopped (6.11), so it meets frames it applied, and nobody
       * sent them again. */
      if (live && was_applied (session, frame))
        reject (session, sender, SMMP_ERROR_REPLAYED,
                "%s frame from %s was applied already: a replay, ignored",
                smmp_frame_type_name (frame->type), session->state->members[frame->sender].handle);
      /* Another member's resync built on a generation we have left: a
       * member that missed the resync we applied may have applied this one
       * instead and now holds another v, which no resync can mend (R9).
       * Only a new key agreement brings everyone together again. */
      else if (live && frame->type == SMMP_FRAME_RESYNC && frame->sender != state->self)
        need_rekey (session, "a resync built on an older generation came: members may "
                             "hold different keys");
      return FALSE;
    }
  if (position > 0 || (live && session->catching_up))
    {
      if (g_queue_get_length (&session->ahead) >= SMMP_SESSION_MAX_AHEAD)
        {
          session->ahead_overflowed = TRUE;
          need_resync (session, "too many frames from states not reached");
          return FALSE;
        }
      g_queue_push_tail (&session->ahead, smmp_frame_decode_bytes (frame->bytes, NULL));
      need_catch_up (session);
      return FALSE;
    }
  *applied = frame->type == SMMP_FRAME_DATA ? apply_data (session, frame)
                                            : apply_resync (session, frame);
  if (*applied)
    {
      remember_applied (session, frame);
      session->applied += frame->type == SMMP_FRAME_DATA ? 1 : 0;
    }
  return *applied;
}

/* Frames kept because they were ahead: apply those whose turn has come. */
static void
drain_ahead (SmmpSession *session)
{
  gboolean progress = TRUE;

  while (progress)
    {
      progress = FALSE;
      for (GList *l = session->ahead.head; l != NULL;)
        {
          SmmpFrame *frame = l->data;
          GList *next = l->next;
          gint position = frame_position (session->state, frame);

          if (position <= 0)
            {
              gboolean applied = FALSE;

              /* Stale ones go through place_frame() too: our own frame
               * that lost its place must be sealed again. */
              g_queue_delete_link (&session->ahead, l);
              place_frame (session, session->state->members[frame->sender].handle,
                           frame, FALSE, &applied);
              smmp_frame_free (frame);
              progress = progress || applied;
            }
          l = next;
        }
    }
}

static gboolean
receive_conversation (SmmpSession *session, const char *sender, GBytes *bytes,
                      gboolean live)
{
  g_autoptr (SmmpFrame) frame = check_frame (session, sender, bytes, live);
  gboolean changed, applied;

  if (frame == NULL)
    return FALSE;
  changed = place_frame (session, sender, frame, live, &applied);
  if (applied && !session->catching_up)
    drain_ahead (session);
  flush (session);
  return changed;
}

gboolean
smmp_session_receive (SmmpSession *session, const char *sender_handle, GBytes *frame)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);
  const char *sender = sender_handle != NULL ? sender_handle : "(unknown)";
  g_autoptr (GError) error = NULL;
  g_autoptr (SmmpFrame) decoded = NULL;
  gboolean changed;

  if (len >= 2 && (data[1] == SMMP_FRAME_DATA || data[1] == SMMP_FRAME_RESYNC))
    return receive_conversation (session, sender, frame, TRUE);
  if (len >= 2 && data[1] == SMMP_FRAME_PRIVATE)
    {
      reject (session, sender, SMMP_ERROR_UNEXPECTED,
              "one-on-one frame from %s was sent to the whole room", sender);
      return FALSE;
    }
  /* Bytes that are no frame at all are reported here, in every phase: a
   * finished agreement ignores what it is given (5.17, step 0), and
   * garbage in the room must not pass unnoticed (6.8). */
  decoded = smmp_frame_decode_bytes (frame, &error);
  if (decoded == NULL)
    {
      reject (session, sender, error->code, "frame from %s refused: %s", sender,
              error->message);
      return FALSE;
    }
  if (len >= 2 && data[1] == SMMP_FRAME_INVITE)
    changed = receive_invite (session, sender, frame);
  else if (session->ka != NULL)
    changed = smmp_ka_receive (session->ka, sender, frame);
  else
    {
      reject (session, sender, SMMP_ERROR_UNEXPECTED,
              "key-agreement frame from %s, but no agreement is under way", sender);
      return FALSE;
    }
  if (session->ka != NULL)
    drain_ka (session);
  return changed;
}

void
smmp_session_expire (SmmpSession *session)
{
  if (session->ka == NULL)
    return;
  smmp_ka_expire (session->ka);
  drain_ka (session);
}

gboolean
smmp_session_send (SmmpSession *session, const char *text, GError **error)
{
  if (!smmp_text_is_valid (text))
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                   "a message must be 1 to %d bytes of UTF-8", SMMP_MAX_TEXT_BYTES);
      return FALSE;
    }
  g_queue_push_tail (&session->outgoing, outgoing_new (text, NULL));
  flush (session);
  return TRUE;
}

gboolean
smmp_session_receive_archived (SmmpSession *session, const char *sender_handle,
                               GBytes *frame)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);

  /* Key-agreement frames of the past are of no use: only the conversation
   * is caught up. */
  if (len < 2 || (data[1] != SMMP_FRAME_DATA && data[1] != SMMP_FRAME_RESYNC))
    return FALSE;
  return receive_conversation (session, sender_handle != NULL ? sender_handle : "(unknown)",
                               frame, FALSE);
}

void
smmp_session_report_gap (SmmpSession *session)
{
  if (session->state != NULL)
    need_catch_up (session);
}

void
smmp_session_catch_up_done (SmmpSession *session, gboolean complete)
{
  gboolean closed, missed_resync = FALSE;

  if (session->state == NULL || !session->catching_up)
    return;
  session->catching_up = FALSE;
  drain_ahead (session);
  closed = complete && g_queue_is_empty (&session->ahead) && !session->ahead_overflowed;
  session->ahead_overflowed = FALSE;
  for (GList *l = session->ahead.head; l != NULL; l = l->next)
    missed_resync = missed_resync
                    || ((SmmpFrame *) l->data)->generation > session->state->generation;
  g_queue_clear_full (&session->ahead, (GDestroyNotify) smmp_frame_free);
  emit_simple (session, SMMP_EVENT_CATCHUP_DONE, closed ? 0 : SMMP_ERROR_UNDECRYPTABLE, NULL,
               closed ? "caught up from the room's archive"
                      : "the archive could not close the gap");
  /* A missed resync left this member with an old v: a resync of its own
   * would be made with it and refused, so only a new key agreement helps. */
  /* Our own resync may have been among the frames lost: its fate is
   * unknown, so it is given up and, if still needed, sent afresh. */
  if (!closed)
    g_clear_pointer (&session->resync, smmp_resync_pending_free);
  else if (session->resync_restored && session->resync != NULL)
    /* Restored, and not in the complete archive: it never reached the
     * room, and it is still built on our generation. */
    g_queue_push_tail (&session->frames, g_bytes_ref (session->resync->frame));
  session->resync_restored = FALSE;
  /* A restored frame in flight that the catch-up did not meet: either the
   * room never had it, or the archive could not say.  Offered again; in the
   * second case a copy the room has is stale when it comes. */
  if (session->in_flight_restored && session->in_flight != NULL)
    g_queue_push_tail (&session->frames, g_bytes_ref (session->in_flight->frame));
  session->in_flight_restored = FALSE;
  if (missed_resync)
    need_rekey (session, "a resync was missed and the archive cannot supply it");
  else if (!closed)
    need_resync (session, "frames were missed and the archive cannot supply them");
  flush (session);
}

void
smmp_session_resend_due (SmmpSession *session)
{
  /* An identical copy is safe: whichever copy comes first is applied or
   * overtaken, and the other is then stale. */
  if (session->in_flight != NULL)
    g_queue_push_tail (&session->frames, g_bytes_ref (session->in_flight->frame));
}

gboolean
smmp_session_rekey_is_due (const SmmpSession *session, guint max_messages,
                           gint64 up_for_ms, gint64 max_ms)
{
  if (session->state == NULL || ka_open (session))
    return FALSE;
  return (max_messages > 0 && session->applied >= max_messages)
         || (max_ms > 0 && up_for_ms >= max_ms);
}

gboolean
smmp_session_has_in_flight (const SmmpSession *session)
{
  return session->in_flight != NULL;
}

void
smmp_session_resync_due (SmmpSession *session)
{
  /* X.B.1.7: somebody else's resync may have come first; a re-key asked
   * for since makes it pointless. */
  if (session->state == NULL || !session->state->resync_required || session->resync != NULL
      || session->rekey_requested)
    return;
  session->resync = smmp_ratchet_seal_resync (session->state);
  session->resync_asked = FALSE;
  g_queue_push_tail (&session->frames, g_bytes_ref (session->resync->frame));
}

/* ---- one-on-one (R11) ---------------------------------------------------- */

static gint
member_by_handle (const SmmpGroupState *state, const char *handle)
{
  for (guint i = 0; i < state->n; i++)
    if (strcmp (state->members[i].handle, handle) == 0)
      return (gint) i;
  return -1;
}

static SmmpPair *
get_pair (SmmpSession *session, guint peer)
{
  if (session->pairs == NULL)
    session->pairs = g_new0 (SmmpPair *, session->state->n);
  if (session->pairs[peer] == NULL)
    session->pairs[peer] = smmp_pair_new (session->state, peer);
  return session->pairs[peer];
}

gboolean
smmp_session_send_private (SmmpSession *session, const char *to_handle, const char *text,
                           GError **error)
{
  PrivateFrame *out;
  GBytes *frame;
  gint peer;

  if (session->state == NULL)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_NO_SESSION,
                           "no session yet: one-on-one messages need one");
      return FALSE;
    }
  peer = to_handle != NULL ? member_by_handle (session->state, to_handle) : -1;
  if (peer < 0 || (guint) peer == session->state->self)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                   "%s is not another member of this session",
                   to_handle != NULL ? to_handle : "(nobody)");
      return FALSE;
    }
  frame = smmp_pair_seal (get_pair (session, (guint) peer), session->state, text, error);
  if (frame == NULL)
    return FALSE;
  out = g_new0 (PrivateFrame, 1);
  out->to = g_strdup (to_handle);
  out->frame = frame;
  g_queue_push_tail (&session->private_frames, out);
  return TRUE;
}

GBytes *
smmp_session_pop_private_frame (SmmpSession *session, char **to_handle)
{
  PrivateFrame *p = g_queue_pop_head (&session->private_frames);
  GBytes *frame;

  if (p == NULL)
    return NULL;
  frame = g_steal_pointer (&p->frame);
  if (to_handle != NULL)
    *to_handle = g_steal_pointer (&p->to);
  private_frame_free (p);
  return frame;
}

gboolean
smmp_session_receive_private (SmmpSession *session, const char *sender_handle,
                              GBytes *bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmmpFrame) frame = NULL;
  const char *sender = sender_handle != NULL ? sender_handle : "(unknown)";
  const SmmpGroupState *state = session->state;
  SmmpEvent *event;
  char *text;

  if (state == NULL)
    {
      reject (session, sender, SMMP_ERROR_NO_SESSION,
              "one-on-one message from %s, but this member has no session", sender);
      return FALSE;
    }
  frame = smmp_frame_decode_bytes (bytes, &error);
  if (frame == NULL)
    {
      reject (session, sender, error->code, "one-on-one frame from %s refused: %s", sender,
              error->message);
      return FALSE;
    }
  if (frame->type != SMMP_FRAME_PRIVATE)
    reject (session, sender, SMMP_ERROR_UNEXPECTED,
            "%s frame from %s came as a one-on-one message",
            smmp_frame_type_name (frame->type), sender);
  else if (memcmp (frame->sid, state->sid, SMMP_SID_BYTES) != 0)
    reject (session, sender, SMMP_ERROR_NOT_FOR_SESSION,
            "one-on-one message from %s belongs to another session", sender);
  else if (frame->sender >= state->n || frame->recipient != state->self)
    reject (session, sender, SMMP_ERROR_NOT_FOR_SESSION,
            "one-on-one message from %s is addressed to another member", sender);
  else if (!smmp_frame_verify (frame, state->members[frame->sender].signing_key))
    reject (session, sender, SMMP_ERROR_FORGED,
            "one-on-one message said to be from %s is not signed by %s's session key",
            state->members[frame->sender].handle, state->members[frame->sender].handle);
  else if ((text = smmp_pair_open (get_pair (session, frame->sender), state, frame,
                                   &error)) == NULL)
    reject (session, sender, error->code, "one-on-one message from %s refused: %s",
            state->members[frame->sender].handle, error->message);
  else
    {
      event = smmp_event_new (SMMP_EVENT_PRIVATE_MESSAGE, 0,
                              state->members[frame->sender].handle,
                              "a one-on-one message");
      event->text = text;
      event->generation = state->generation;
      event->epoch = state->epoch;
      g_queue_push_tail (&session->events, event);
      return TRUE;
    }
  return FALSE;
}

GBytes *
smmp_session_pop_frame (SmmpSession *session)
{
  return g_queue_pop_head (&session->frames);
}

SmmpEvent *
smmp_session_pop_event (SmmpSession *session)
{
  return g_queue_pop_head (&session->events);
}

gboolean
smmp_session_is_up (const SmmpSession *session)
{
  return session->state != NULL;
}

const SmmpGroupState *
smmp_session_get_state (const SmmpSession *session)
{
  return session->state;
}

SmmpKeyAgreement *
smmp_session_get_key_agreement (SmmpSession *session)
{
  return session->ka;
}

guint
smmp_session_get_queued (const SmmpSession *session)
{
  return g_queue_get_length ((GQueue *) &session->outgoing)
         + (session->in_flight != NULL ? 1 : 0);
}

guint
smmp_session_get_retries (const SmmpSession *session)
{
  return session->retries;
}


/* ---- persistence (R13) -------------------------------------------------- */

#define SESSION_JSON_TYPE "smmp-session"
#define SESSION_JSON_VERSION 1

/* A frame in flight, saved as "frame_bytes" and "frame" (PROTOCOL 6.17). */
static void
add_frame (JsonBuilder *b, GBytes *frame)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);

  smmp_json_add_int (b, "frame_bytes", (gint64) len);
  smmp_json_add_bytes (b, "frame", data, len);
}

static GBytes *
get_frame (JsonObject *o, GError **error)
{
  gint64 len;
  guint8 *frame;

  if (!smmp_json_get_int (o, "frame_bytes", SMMP_DATA_PREFIX_BYTES, SMMP_FRAME_MAX_BYTES, &len,
                          error))
    return NULL;
  frame = g_malloc ((gsize) len);
  if (!smmp_json_get_bytes (o, "frame", frame, (gsize) len, error))
    {
      g_free (frame);
      return NULL;
    }
  return g_bytes_new_take (frame, (gsize) len);
}

char *
smmp_session_to_json (const SmmpSession *session)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, SESSION_JSON_TYPE);
  smmp_json_add_int (b, "version", SESSION_JSON_VERSION);
  if (session->state != NULL)
    {
      json_builder_set_member_name (b, "state");
      json_builder_begin_object (b);
      smmp_group_state_build (session->state, b);
      json_builder_end_object (b);
    }
  if (session->pairs != NULL)
    {
      json_builder_set_member_name (b, "pairs");
      json_builder_begin_array (b);
      for (guint i = 0; i < session->state->n; i++)
        if (session->pairs[i] != NULL)
          {
            json_builder_begin_object (b);
            smmp_pair_build (session->pairs[i], b);
            json_builder_end_object (b);
          }
      json_builder_end_array (b);
    }
  json_builder_set_member_name (b, "queued");
  json_builder_begin_array (b);
  for (GList *l = session->outgoing.head; l != NULL; l = l->next)
    {
      const Outgoing *o = l->data;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "text");
      json_builder_add_string_value (b, o->text);
      smmp_json_add_bytes (b, "id", o->id, SMMP_MESSAGE_ID_BYTES);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  /* Oldest first, so that reading them back in order keeps the ring's age. */
  {
    guint8 *seen = g_malloc ((gsize) session->n_seen * SMMP_MESSAGE_ID_BYTES + 1);
    guint first = session->n_seen < SMMP_SESSION_SEEN ? 0 : session->seen_next;

    for (guint i = 0; i < session->n_seen; i++)
      memcpy (seen + (gsize) i * SMMP_MESSAGE_ID_BYTES,
              session->seen[(first + i) % SMMP_SESSION_SEEN], SMMP_MESSAGE_ID_BYTES);
    smmp_json_add_int (b, "seen_count", session->n_seen);
    smmp_json_add_bytes (b, "seen", seen, (gsize) session->n_seen * SMMP_MESSAGE_ID_BYTES);
    g_free (seen);
  }
  if (session->in_flight != NULL)
    {
      const SmmpPending *p = session->in_flight;

      json_builder_set_member_name (b, "in_flight");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "text");
      json_builder_add_string_value (b, p->text);
      smmp_json_add_bytes (b, "id", p->id, SMMP_MESSAGE_ID_BYTES);
      smmp_json_add_int (b, "generation", p->generation);
      smmp_json_add_int (b, "epoch", p->epoch);
      add_frame (b, p->frame);
      smmp_json_add_bytes (b, "ratchet_public", p->ratchet_public, SMMP_KEY_PUBLIC_BYTES);
      smmp_json_add_bytes (b, "ratchet_secret", p->ratchet_secret, SMMP_KEY_BYTES);
      json_builder_end_object (b);
    }
  if (session->resync != NULL)
    {
      const SmmpResyncPending *p = session->resync;

      /* Without it, the reflection of our own RESYNC after a restart would
       * be a frame in our name we did not send now: the others would apply
       * it and we would not (PROTOCOL 6.12, 6.17). */
      json_builder_set_member_name (b, "resync_in_flight");
      json_builder_begin_object (b);
      smmp_json_add_int (b, "generation", p->generation);
      add_frame (b, p->frame);
      smmp_json_add_bytes (b, "ratchet_public", p->ratchet_public, SMMP_KEY_PUBLIC_BYTES);
      smmp_json_add_bytes (b, "secrets", p->secrets, 2 * SMMP_KEY_BYTES);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  return smmp_json_finish (b);
}

static SmmpResyncPending *
read_resync_in_flight (JsonObject *o, GError **error)
{
  SmmpResyncPending *p = g_new0 (SmmpResyncPending, 1);
  gint64 generation;

  p->secrets = sodium_malloc (2 * SMMP_KEY_BYTES);
  if (p->secrets == NULL)
    g_error ("smmp: out of guarded memory");
  if (!smmp_json_get_int (o, "generation", 0, G_MAXUINT32, &generation, error)
      || (p->frame = get_frame (o, error)) == NULL
      || !smmp_json_get_bytes (o, "ratchet_public", p->ratchet_public, SMMP_KEY_PUBLIC_BYTES,
                               error)
      || !smmp_json_get_bytes (o, "secrets", p->secrets, 2 * SMMP_KEY_BYTES, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                             "the resync in flight is unreadable");
      smmp_resync_pending_free (p);
      return NULL;
    }
  p->generation = (guint32) generation;
  return p;
}

static SmmpPending *
read_in_flight (JsonObject *o, GError **error)
{
  SmmpPending *p = g_new0 (SmmpPending, 1);
  const char *text = smmp_json_get_string (o, "text");
  gint64 generation, epoch;

  p->ratchet_secret = smmp_guarded_key_new ();
  if (!smmp_text_is_valid (text)
      || !smmp_json_get_bytes (o, "id", p->id, SMMP_MESSAGE_ID_BYTES, error)
      || !smmp_json_get_int (o, "generation", 0, G_MAXUINT32, &generation, error)
      || !smmp_json_get_int (o, "epoch", 0, G_MAXUINT32, &epoch, error)
      || (p->frame = get_frame (o, error)) == NULL
      || !smmp_json_get_bytes (o, "ratchet_public", p->ratchet_public, SMMP_KEY_PUBLIC_BYTES,
                               error)
      || !smmp_json_get_bytes (o, "ratchet_secret", p->ratchet_secret, SMMP_KEY_BYTES, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                             "the message in flight is unreadable");
      smmp_pending_free (p);
      return NULL;
    }
  p->text = g_strdup (text);
  p->generation = (guint32) generation;
  p->epoch = (guint32) epoch;
  return p;
}

static gboolean
read_seen (SmmpSession *session, JsonObject *o, GError **error)
{
  gint64 count;
  g_autofree guint8 *seen = NULL;

  if (!smmp_json_get_int (o, "seen_count", 0, SMMP_SESSION_SEEN, &count, error))
    return FALSE;
  seen = g_malloc ((gsize) count * SMMP_MESSAGE_ID_BYTES + 1);
  if (!smmp_json_get_bytes (o, "seen", seen, (gsize) count * SMMP_MESSAGE_ID_BYTES, error))
    return FALSE;
  for (gint64 i = 0; i < count; i++)
    remember_seen (session, seen + i * SMMP_MESSAGE_ID_BYTES);
  return TRUE;
}

static gboolean
read_pairs (SmmpSession *session, JsonNode *node, GError **error)
{
  JsonArray *array;

  if (session->state == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "one-on-one ratchets without a session");
      return FALSE;
    }
  array = json_node_get_array (node);
  session->pairs = g_new0 (SmmpPair *, session->state->n);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      SmmpPair *pair;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                               "a one-on-one ratchet is not an object");
          return FALSE;
        }
      pair = smmp_pair_read (json_node_get_object (item), session->state, error);
      if (pair == NULL)
        return FALSE;
      if (session->pairs[smmp_pair_get_peer (pair)] != NULL)
        {
          smmp_pair_free (pair);
          g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                               "two one-on-one ratchets with the same member");
          return FALSE;
        }
      session->pairs[smmp_pair_get_peer (pair)] = pair;
    }
  return TRUE;
}

SmmpSession *
smmp_session_restore (const SmmpIdentity *identity, const char *self_handle,
                      const char *json, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = smmp_json_parse_object (json, &parser, error);
  SmmpSession *session;
  JsonNode *node;
  gint64 version;

  if (o == NULL)
    return NULL;
  if (g_strcmp0 (smmp_json_get_string (o, "type"), SESSION_JSON_TYPE) != 0
      || !smmp_json_get_int (o, "version", SESSION_JSON_VERSION, SESSION_JSON_VERSION,
                             &version, NULL))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "not an SMMP session of version 1");
      return NULL;
    }
  session = smmp_session_new (identity, self_handle);
  node = json_object_get_member (o, "state");
  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_OBJECT (node)
          || (session->state = smmp_group_state_read (json_node_get_object (node), error)) == NULL)
        goto fail;
      if (strcmp (session->state->members[session->state->self].handle, self_handle) != 0
          || memcmp (session->state->members[session->state->self].identity_key,
                     smmp_identity_get_public (identity), SMMP_KEY_PUBLIC_BYTES) != 0)
        {
          g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                               "the saved session belongs to another member");
          goto fail;
        }
    }
  node = json_object_get_member (o, "pairs");
  if (node != NULL && !read_pairs (session, node, error))
    goto fail;
  node = json_object_get_member (o, "queued");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE, "no \"queued\" array");
      goto fail;
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (node), i);
      JsonObject *q = JSON_NODE_HOLDS_OBJECT (item) ? json_node_get_object (item) : NULL;
      const char *text = q != NULL ? smmp_json_get_string (q, "text") : NULL;
      guint8 id[SMMP_MESSAGE_ID_BYTES];

      if (!smmp_text_is_valid (text)
          || !smmp_json_get_bytes (q, "id", id, SMMP_MESSAGE_ID_BYTES, NULL))
        {
          g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE, "a queued text is unusable");
          goto fail;
        }
      g_queue_push_tail (&session->outgoing, outgoing_new (text, id));
    }
  if (!read_seen (session, o, error))
    goto fail;
  node = json_object_get_member (o, "in_flight");
  if (node != NULL)
    {
      if (session->state == NULL || !JSON_NODE_HOLDS_OBJECT (node)
          || (session->in_flight = read_in_flight (json_node_get_object (node), error)) == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                                 "a message in flight without a session");
          goto fail;
        }
      /* It may never have reached the room.  It is offered again when the
       * catch-up ends, unless the catch-up found it: a second copy of a
       * frame the room already has is stale, but every member would
       * report it as a replay (6.8, 6.17). */
      session->in_flight_restored = TRUE;
    }
  node = json_object_get_member (o, "resync_in_flight");
  if (node != NULL)
    {
      if (session->state == NULL || !JSON_NODE_HOLDS_OBJECT (node)
          || (session->resync = read_resync_in_flight (json_node_get_object (node), error))
                 == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                                 "a resync in flight without a session");
          goto fail;
        }
      /* Not offered again yet: a second copy of a RESYNC the room already
       * has would reach the others as a resync built on a generation they
       * have left, which only a re-key mends (6.10).  The catch-up that a
       * restored session starts finds it in the archive, or shows that
       * the room never had it (smmp_session_catch_up_done()). */
      session->resync_restored = TRUE;
    }
  if (session->state != NULL)
    {
      need_catch_up (session);
      /* A resync that was due, and not yet sent, is asked for again: the
       * back-off was lost. */
      if (session->state->resync_required && session->resync == NULL)
        need_resync (session, "a resync was due when the session was saved");
    }
  return session;

fail:
  smmp_session_free (session);
  return NULL;
}
