/* smmp-session.c: a member's session: key agreement, then the conversation
 * in room order (R6). */
#include "smmp-session.h"
#include "smmp-frame.h"
#include "smmp-ratchet.h"
#include "smmp-state-private.h"

#include <stdarg.h>
#include <string.h>

struct _SmmpSession {
  const SmmpIdentity *identity;
  char *self_handle;
  SmmpKeyAgreement *ka;     /* under way, or the last one */
  SmmpGroupState *state;    /* the confirmed session */
  GQueue outgoing;          /* of char*: texts not yet sealed */
  SmmpPending *in_flight;   /* sealed, waiting for the room */
  guint retries;
  GQueue frames;            /* of GBytes* */
  GQueue events;            /* of SmmpEvent* */
};

SmmpSession *
smmp_session_new (const SmmpIdentity *identity, const char *self_handle)
{
  SmmpSession *session = g_new0 (SmmpSession, 1);

  session->identity = identity;
  session->self_handle = g_strdup (self_handle);
  g_queue_init (&session->outgoing);
  g_queue_init (&session->frames);
  g_queue_init (&session->events);
  return session;
}

static void
free_text (gpointer text)
{
  memset (text, 0, strlen (text));
  g_free (text);
}

void
smmp_session_free (SmmpSession *session)
{
  if (session == NULL)
    return;
  smmp_ka_free (session->ka);
  smmp_group_state_free (session->state);
  smmp_pending_free (session->in_flight);
  g_queue_clear_full (&session->outgoing, free_text);
  g_queue_clear_full (&session->frames, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&session->events, (GDestroyNotify) smmp_event_free);
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
  char *text;

  if (session->state == NULL || session->in_flight != NULL
      || g_queue_is_empty (&session->outgoing))
    return;
  text = g_queue_pop_head (&session->outgoing);
  session->in_flight = smmp_ratchet_seal (session->state, text, &error);
  free_text (text);
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
  g_queue_push_head (&session->outgoing, g_strdup (session->in_flight->text));
  g_clear_pointer (&session->in_flight, smmp_pending_free);
}

/* Moves what the key agreement produced to our queues; adopts a confirmed
 * state (the old one has served until now: R10). */
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
          smmp_group_state_free (session->state);
          session->state = smmp_ka_take_state (session->ka);
          requeue_in_flight (session);
        }
      g_queue_push_tail (&session->events, event);
    }
  flush (session);
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
    return FALSE; /* our own invitation, reflected, or one in our name */
  if (session->ka != NULL && smmp_frame_peek_sid (bytes, sid)
      && memcmp (sid, smmp_ka_get_sid (session->ka), SMMP_SID_BYTES) == 0)
    return smmp_ka_receive (session->ka, sender, bytes);
  if (ka_open (session))
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

static gboolean
receive_data (SmmpSession *session, const char *sender, GBytes *bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmmpFrame) frame = NULL;
  SmmpGroupState *state = session->state;
  const SmmpPending *own = NULL;
  SmmpOpened opened;
  SmmpEvent *event;
  guint s;

  if (state == NULL)
    {
      reject (session, sender, SMMP_ERROR_NO_SESSION,
              "message from %s, but this member has no session yet", sender);
      return FALSE;
    }
  frame = smmp_frame_decode_bytes (bytes, &error);
  if (frame == NULL)
    {
      reject (session, sender, error->code, "frame from %s refused: %s", sender,
              error->message);
      return FALSE;
    }
  if (memcmp (frame->sid, state->sid, SMMP_SID_BYTES) != 0)
    {
      reject (session, sender, SMMP_ERROR_NOT_FOR_SESSION,
              "message from %s belongs to another session", sender);
      return FALSE;
    }
  s = frame->sender;
  if (frame->n_members != state->n)
    {
      reject (session, sender, SMMP_ERROR_MALFORMED,
              "message from %s is built for %u members, not %u", sender,
              frame->n_members, state->n);
      return FALSE;
    }
  if (!smmp_frame_verify (frame, state->members[s].signing_key))
    {
      reject (session, sender, SMMP_ERROR_FORGED,
              "message said to be from %s is not signed by %s's session key",
              state->members[s].handle, state->members[s].handle);
      return FALSE;
    }

  /* R6: the first frame at the current state wins. */
  if (frame->generation < state->generation
      || (frame->generation == state->generation && frame->epoch < state->epoch))
    {
      if (s == state->self && session->in_flight != NULL
          && g_bytes_equal (bytes, session->in_flight->frame))
        {
          session->retries++;
          requeue_in_flight (session);
          flush (session);
          return TRUE;
        }
      return FALSE; /* overtaken in the room: its sender sends it again */
    }
  if (frame->generation > state->generation || frame->epoch > state->epoch)
    {
      reject (session, sender, SMMP_ERROR_UNEXPECTED,
              "message from %s is built on a state this member has not reached",
              state->members[s].handle);
      return FALSE;
    }

  if (s == state->self)
    {
      if (session->in_flight == NULL || !g_bytes_equal (bytes, session->in_flight->frame))
        {
          reject (session, sender, SMMP_ERROR_REPLAYED,
                  "a message in this member's name that it did not send now");
          return FALSE;
        }
      own = session->in_flight;
    }
  if (!smmp_ratchet_open (state, frame, own, &opened, &error))
    {
      reject (session, sender, error->code, "message from %s refused: %s",
              state->members[s].handle, error->message);
      return FALSE;
    }
  smmp_ratchet_apply (state, s, &opened, own);

  event = smmp_event_new (SMMP_EVENT_MESSAGE, 0, state->members[s].handle, "");
  event->text = g_steal_pointer (&opened.text);
  event->generation = frame->generation;
  event->epoch = frame->epoch;
  g_queue_push_tail (&session->events, event);
  smmp_opened_clear (&opened);

  if (own != NULL)
    g_clear_pointer (&session->in_flight, smmp_pending_free);
  flush (session);
  return TRUE;
}

gboolean
smmp_session_receive (SmmpSession *session, const char *sender_handle, GBytes *frame)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);
  const char *sender = sender_handle != NULL ? sender_handle : "(unknown)";
  gboolean changed;

  if (len >= 2 && data[1] == SMMP_FRAME_DATA)
    return receive_data (session, sender, frame);
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
  gsize len = text != NULL ? strlen (text) : 0;

  if (len == 0 || len > SMMP_MAX_TEXT_BYTES || !g_utf8_validate (text, (gssize) len, NULL))
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                   "a message must be 1 to %d bytes of UTF-8", SMMP_MAX_TEXT_BYTES);
      return FALSE;
    }
  g_queue_push_tail (&session->outgoing, g_strdup (text));
  flush (session);
  return TRUE;
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
