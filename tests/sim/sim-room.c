/* sim-room.c: the in-process room behind the tests and smmp-sim. */
#include "sim-room.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#define MAX_EXPIRIES 8
#define MAX_RESENDS 1000
#define SIM_ROOM_MAX_STEPS 2000000

typedef struct {
  GBytes *frame;
  guint depth;
} SimPending;

typedef struct {
  GBytes *frame;
  guint sender;
  guint depth;
  gboolean *recipients; /* NULL: everyone */
  gboolean *dropped;    /* NULL: lost for nobody */
} SimEntry;

struct _SimRoom {
  GRand *rand;
  SimMember *members;
  guint n;
  GPtrArray *log; /* of SimEntry* */
  SimPostHook hook;
  gpointer hook_data;
  double drop;
  gboolean archive;
  guint posting_depth; /* depth of the frame being posted, for the hook */
};

static gint64
cpu_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static void
entry_free (gpointer data)
{
  SimEntry *e = data;

  g_bytes_unref (e->frame);
  g_free (e->recipients);
  g_free (e->dropped);
  g_free (e);
}

static void
pending_free (gpointer data)
{
  SimPending *p = data;

  g_bytes_unref (p->frame);
  g_free (p);
}

SimRoom *
sim_room_new (guint n_members, guint64 seed)
{
  SimRoom *room = g_new0 (SimRoom, 1);

  room->rand = g_rand_new_with_seed_array ((const guint32 *) &seed, 2);
  room->n = n_members;
  room->members = g_new0 (SimMember, n_members);
  room->log = g_ptr_array_new_with_free_func (entry_free);
  for (guint i = 0; i < n_members; i++)
    {
      SimMember *m = &room->members[i];

      m->handle = g_strdup_printf ("m%03u", i);
      m->identity = smmp_identity_generate ();
      m->session = smmp_session_new (m->identity, m->handle);
      m->events = g_ptr_array_new_with_free_func ((GDestroyNotify) smmp_event_free);
      m->delivered = g_ptr_array_new_with_free_func (g_free);
      m->gap_from = G_MAXUINT;
      g_queue_init (&m->outbox);
    }
  return room;
}

static void
member_clear_session (SimMember *m)
{
  g_clear_pointer (&m->session, smmp_session_free);
  m->ka = NULL;
  m->state = NULL;
  g_queue_clear_full (&m->outbox, pending_free);
  g_ptr_array_set_size (m->events, 0);
  g_ptr_array_set_size (m->delivered, 0);
  m->cursor = 0;
  m->depth = 0;
  m->gap_from = G_MAXUINT;
}

SimRoom *
sim_room_new_up (guint n_members, guint64 seed)
{
  SimRoom *room = sim_room_new (n_members, seed);

  g_assert_true (sim_room_start_ka (room, 0, NULL));
  sim_room_run (room);
  g_assert_true (sim_room_converged (room));
  return room;
}

void
sim_room_free (SimRoom *room)
{
  for (guint i = 0; i < room->n; i++)
    {
      SimMember *m = &room->members[i];

      member_clear_session (m);
      g_ptr_array_unref (m->events);
      g_ptr_array_unref (m->delivered);
      smmp_identity_free (m->identity);
      g_free (m->handle);
    }
  g_free (room->members);
  g_ptr_array_unref (room->log);
  g_rand_free (room->rand);
  g_free (room);
}

void
sim_room_set_losses (SimRoom *room, double drop, gboolean archive)
{
  room->drop = drop;
  room->archive = archive;
}

guint
sim_room_count_resyncs (SimRoom *room)
{
  guint count = 0;

  for (guint i = 0; i < room->log->len; i++)
    {
      SimEntry *e = g_ptr_array_index (room->log, i);

      if (((const guint8 *) g_bytes_get_data (e->frame, NULL))[1] == SMMP_FRAME_RESYNC)
        count++;
    }
  return count;
}

guint
sim_room_size (SimRoom *room)
{
  return room->n;
}

SimMember *
sim_room_member (SimRoom *room, guint index)
{
  g_assert (index < room->n);
  return &room->members[index];
}

GRand *
sim_room_rand (SimRoom *room)
{
  return room->rand;
}

void
sim_room_set_post_hook (SimRoom *room, SimPostHook hook, gpointer data)
{
  room->hook = hook;
  room->hook_data = data;
}

void
sim_room_append (SimRoom *room, guint sender, GBytes *frame, const gboolean *recipients)
{
  SimEntry *e = g_new0 (SimEntry, 1);

  e->frame = g_bytes_ref (frame);
  e->sender = sender;
  e->depth = room->posting_depth;
  if (recipients != NULL)
    e->recipients = g_memdup2 (recipients, room->n * sizeof (gboolean));
  g_ptr_array_add (room->log, e);
}

/* Moves whatever the member's engine produced into its outbox and events,
 * and notes the housekeeping it asks of its client. */
static void
drain (SimRoom *room, SimMember *m)
{
  GBytes *frame;
  SmmpEvent *event;

  while ((frame = smmp_session_pop_frame (m->session)) != NULL)
    {
      SimPending *p = g_new0 (SimPending, 1);
      char *armour = smmp_armour_encode (frame);

      p->frame = frame;
      p->depth = m->depth + 1;
      m->frames_sent++;
      m->bytes_sent += g_bytes_get_size (frame);
      m->wire_bytes_sent += strlen (armour);
      g_free (armour);
      g_queue_push_tail (&m->outbox, p);
    }
  while ((event = smmp_session_pop_event (m->session)) != NULL)
    {
      if (event->type == SMMP_EVENT_MESSAGE)
        g_ptr_array_add (m->delivered, g_strdup_printf ("%s: %s", event->handle, event->text));
      else if (event->type == SMMP_EVENT_CATCHUP_NEEDED)
        m->want_catch_up = TRUE;
      else if (event->type == SMMP_EVENT_RESYNC_NEEDED)
        /* A random back-off, so that concurrent resyncs rarely collide. */
        m->resync_countdown = 1 + (guint) g_rand_int_range (room->rand, 0, 2 * (gint32) room->n + 2);
      else if (event->type == SMMP_EVENT_REKEY_NEEDED)
        m->want_rekey = TRUE;
      g_ptr_array_add (m->events, event);
    }
  m->ka = smmp_session_get_key_agreement (m->session);
  m->state = (SmmpGroupState *) smmp_session_get_state (m->session);
}

gboolean
sim_room_start_ka (SimRoom *room, guint initiator, GError **error)
{
  SimMember *m = &room->members[initiator];
  g_autoptr (GPtrArray) invited = g_ptr_array_new ();
  gboolean ok;
  gint64 t0;

  for (guint i = 0; i < room->n; i++)
    if (i != initiator)
      g_ptr_array_add (invited, room->members[i].handle);
  t0 = cpu_now ();
  ok = smmp_session_start (m->session, (const char *const *) invited->pdata, invited->len,
                           error);
  m->cpu_ns += cpu_now () - t0;
  drain (room, m);
  return ok;
}

gboolean
sim_room_start_ka_with (SimRoom *room, guint initiator, const guint *invited, guint n_invited)
{
  SimMember *m = &room->members[initiator];
  g_autoptr (GPtrArray) handles = g_ptr_array_new ();
  gboolean ok;

  for (guint i = 0; i < n_invited; i++)
    g_ptr_array_add (handles, room->members[invited[i]].handle);
  ok = smmp_session_start (m->session, (const char *const *) handles->pdata, handles->len, NULL);
  drain (room, m);
  return ok;
}

gboolean
sim_room_send (SimRoom *room, guint index, const char *text)
{
  SimMember *m = &room->members[index];
  gint64 t0 = cpu_now ();
  gboolean ok = smmp_session_send (m->session, text, NULL);

  m->cpu_ns += cpu_now () - t0;
  drain (room, m);
  return ok;
}

static gboolean
is_conversation (GBytes *frame)
{
  guint8 type = ((const guint8 *) g_bytes_get_data (frame, NULL))[1];

  return type == SMMP_FRAME_DATA || type == SMMP_FRAME_RESYNC;
}

/* The member's client fetches what the room's archive holds of what it
 * missed, in order, or says it cannot. */
static void deliver (SimRoom *room, guint index);

static void
catch_up (SimRoom *room, guint index)
{
  SimMember *m = &room->members[index];
  gint64 t0 = cpu_now ();

  m->want_catch_up = FALSE;
  m->catch_ups++;
  /* The archive answers after everything the room had already sent live
   * has arrived (or been lost): a real client's query covers the room up
   * to the moment it is made, and the frames posted before it come in
   * first on the same stream. */
  while (m->cursor < room->log->len)
    deliver (room, index);
  /* Like an archive query from the gap on: everything the room kept for
   * this member since then, what it did receive included, in order. */
  if (room->archive && m->gap_from != G_MAXUINT)
    for (guint k = m->gap_from; k < m->cursor; k++)
      {
        SimEntry *e = g_ptr_array_index (room->log, k);

        if (e->recipients == NULL || e->recipients[index])
          smmp_session_receive_archived (m->session, room->members[e->sender].handle,
                                         e->frame);
      }
  m->gap_from = G_MAXUINT;
  smmp_session_catch_up_done (m->session, room->archive);
  m->cpu_ns += cpu_now () - t0;
  drain (room, m);
}

gboolean
sim_room_restart (SimRoom *room, guint index)
{
  SimMember *m = &room->members[index];
  g_autoptr (GError) error = NULL;
  char *json = smmp_session_to_json (m->session);
  SmmpSession *restored = smmp_session_restore (m->identity, m->handle, json, &error);

  sodium_memzero (json, strlen (json));
  g_free (json);
  if (restored == NULL)
    return FALSE;
  smmp_session_free (m->session);
  m->session = restored;
  g_queue_clear_full (&m->outbox, pending_free);
  /* Nothing was lost in the room while it was away (the cursor stays), but
   * the client cannot know that: it catches up from here. */
  m->want_catch_up = FALSE;
  m->want_rekey = FALSE;
  m->resync_countdown = 0;
  if (m->gap_from == G_MAXUINT)
    m->gap_from = m->cursor;
  m->restarts++;
  drain (room, m);
  return TRUE;
}

static void
rekey (SimRoom *room, guint index)
{
  SimMember *m = &room->members[index];
  g_autoptr (GPtrArray) invited = g_ptr_array_new ();

  m->want_rekey = FALSE;
  if (m->ka != NULL && smmp_ka_get_phase (m->ka) != SMMP_KA_DONE
      && smmp_ka_get_phase (m->ka) != SMMP_KA_FAILED)
    return; /* an agreement is under way already */
  for (guint i = 0; i < room->n; i++)
    if (i != index)
      g_ptr_array_add (invited, room->members[i].handle);
  m->rekeys++;
  smmp_session_start (m->session, (const char *const *) invited->pdata, invited->len, NULL);
  drain (room, m);
}

static void
deliver (SimRoom *room, guint index)
{
  SimMember *m = &room->members[index];
  SimEntry *e = g_ptr_array_index (room->log, m->cursor++);
  const char *sender = room->members[e->sender].handle;
  gint64 t0;

  if (e->recipients != NULL && !e->recipients[index])
    return;
  if (room->drop > 0 && is_conversation (e->frame)
      && g_rand_double (room->rand) < room->drop)
    {
      /* Lost, and the member's client knows it (as after a disconnect). */
      if (e->dropped == NULL)
        e->dropped = g_new0 (gboolean, room->n);
      e->dropped[index] = TRUE;
      m->drops++;
      if (m->gap_from == G_MAXUINT)
        m->gap_from = m->cursor - 1;
      smmp_session_report_gap (m->session);
      drain (room, m);
      return;
    }
  m->depth = MAX (m->depth, e->depth);
  t0 = cpu_now ();
  smmp_session_receive (m->session, sender, e->frame);
  m->cpu_ns += cpu_now () - t0;
  drain (room, m);
}

static void
post (SimRoom *room, guint index)
{
  SimMember *m = &room->members[index];
  SimPending *p = g_queue_pop_head (&m->outbox);

  room->posting_depth = p->depth;
  if (room->hook != NULL)
    room->hook (room, index, p->frame, room->hook_data);
  else
    sim_room_append (room, index, p->frame, NULL);
  pending_free (p);
}

/* Deadlines pass when the room is quiet.  The initiator's deadline for
 * answers is the shortest (an invitee waits longer for the roster than the
 * initiator waits for answers), so it passes alone first.  But the others'
 * deadlines run meanwhile: an agreement that has waited through
 * QUIET_WAITS_TO_EXPIRE quiet spells expires even while another member is
 * collecting answers.  Without that, a member re-inviting after every
 * unanswered invitation would keep the room's other deadlines from ever
 * passing, where real time would end them (an invitee left waiting by an
 * initiator that restarted refuses every invitation until it gives up). */
#define QUIET_WAITS_TO_EXPIRE 2

static gboolean
expire_open_agreements (SimRoom *room)
{
  gboolean any = FALSE, collecting = FALSE;

  for (guint i = 0; i < room->n; i++)
    if (room->members[i].ka != NULL
        && smmp_ka_get_phase (room->members[i].ka) == SMMP_KA_COLLECTING)
      collecting = TRUE;

  for (guint i = 0; i < room->n; i++)
    {
      SimMember *m = &room->members[i];
      SmmpKaPhase phase;
      gint64 t0;

      if (m->ka == NULL)
        continue;
      phase = smmp_ka_get_phase (m->ka);
      if (phase == SMMP_KA_DONE || phase == SMMP_KA_FAILED)
        continue;
      if (m->waited_ka != m->ka)
        {
          m->waited_ka = m->ka;
          m->quiet_waits = 0;
        }
      if (collecting && phase != SMMP_KA_COLLECTING
          && ++m->quiet_waits < QUIET_WAITS_TO_EXPIRE)
        continue;
      m->quiet_waits = 0;
      t0 = cpu_now ();
      smmp_session_expire (m->session);
      m->cpu_ns += cpu_now () - t0;
      drain (room, m);
      any = TRUE;
    }
  return any;
}

gboolean
sim_room_step (SimRoom *room, guint steps)
{
  g_autofree guint *choices = g_new (guint, 5 * room->n);

  for (guint step = 0; step < steps; step++)
    {
      guint n_choices = 0, pick, n = room->n;
      gboolean waiting = FALSE;

      for (guint i = 0; i < n; i++)
        {
          SimMember *m = &room->members[i];

          if (!g_queue_is_empty (&m->outbox))
            choices[n_choices++] = i;                 /* post */
          if (m->cursor < room->log->len)
            choices[n_choices++] = n + i;             /* read */
          if (m->want_catch_up)
            choices[n_choices++] = 2 * n + i;         /* fetch the archive */
          if (m->want_rekey)
            choices[n_choices++] = 3 * n + i;         /* start a key agreement */
          if (m->resync_countdown > 0)
            {
              waiting = TRUE;
              if (--m->resync_countdown == 0)
                choices[n_choices++] = 4 * n + i;     /* back-off over */
            }
        }
      if (n_choices == 0)
        {
          if (waiting)
            continue;
          return FALSE;
        }
      pick = choices[g_rand_int_range (room->rand, 0, (gint32) n_choices)];
      /* Back-offs that ended this step but were not picked resume next. */
      for (guint c = 0; c < n_choices; c++)
        if (choices[c] >= 4 * n && choices[c] != pick)
          room->members[choices[c] - 4 * n].resync_countdown = 1;
      if (pick < n)
        post (room, pick);
      else if (pick < 2 * n)
        deliver (room, pick - n);
      else if (pick < 3 * n)
        catch_up (room, pick - 2 * n);
      else if (pick < 4 * n)
        rekey (room, pick - 3 * n);
      else
        {
          SimMember *m = &room->members[pick - 4 * n];
          gint64 t0 = cpu_now ();

          smmp_session_resync_due (m->session);
          m->cpu_ns += cpu_now () - t0;
          drain (room, m);
        }
    }
  return TRUE;
}

/* The room is quiet and a member still waits for its own frame: the
 * room lost it, and the member's deadline sends it again. */
static gboolean
resend_in_flight (SimRoom *room)
{
  gboolean any = FALSE;

  for (guint i = 0; i < room->n; i++)
    {
      SimMember *m = &room->members[i];

      if (m->attacker || !smmp_session_has_in_flight (m->session))
        continue;
      smmp_session_resend_due (m->session);
      drain (room, m);
      any = TRUE;
    }
  return any;
}

void
sim_room_run (SimRoom *room)
{
  guint expiries = 0, resends = 0;

  for (;;)
    {
      /* Bounded, so that a schedule that never settles ends (and fails its
       * invariant) instead of running on. */
      if (sim_room_step (room, SIM_ROOM_MAX_STEPS))
        return;
      if (expiries < MAX_EXPIRIES && expire_open_agreements (room))
        {
          expiries++;
          continue;
        }
      if (resends++ < MAX_RESENDS && resend_in_flight (room))
        continue;
      return;
    }
}

gboolean
sim_room_same_transcript (SimRoom *room)
{
  GPtrArray *first = NULL;

  for (guint i = 0; i < room->n; i++)
    {
      GPtrArray *d = room->members[i].delivered;

      if (room->members[i].attacker)
        continue;
      if (first == NULL)
        {
          first = d;
          continue;
        }
      if (d->len != first->len)
        return FALSE;
      for (guint k = 0; k < d->len; k++)
        if (strcmp (g_ptr_array_index (d, k), g_ptr_array_index (first, k)) != 0)
          return FALSE;
    }
  return TRUE;
}

GPtrArray *
sim_room_reset (SimRoom *room, GArray **senders)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  *senders = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < room->log->len; i++)
    {
      SimEntry *e = g_ptr_array_index (room->log, i);

      g_ptr_array_add (frames, g_bytes_ref (e->frame));
      g_array_append_val (*senders, e->sender);
    }
  g_ptr_array_set_size (room->log, 0);
  for (guint i = 0; i < room->n; i++)
    {
      member_clear_session (&room->members[i]);
      room->members[i].session = smmp_session_new (room->members[i].identity,
                                                   room->members[i].handle);
    }
  return frames;
}

guint
sim_room_count_up (SimRoom *room)
{
  guint count = 0;

  for (guint i = 0; i < room->n; i++)
    if (!room->members[i].attacker && room->members[i].state != NULL)
      count++;
  return count;
}

guint
sim_room_count_failed (SimRoom *room)
{
  guint count = 0;

  for (guint i = 0; i < room->n; i++)
    if (!room->members[i].attacker && room->members[i].ka != NULL
        && smmp_ka_get_phase (room->members[i].ka) == SMMP_KA_FAILED)
      count++;
  return count;
}

gboolean
sim_room_converged (SimRoom *room)
{
  guint8 first[SMMP_HASH_BYTES], other[SMMP_HASH_BYTES];
  gboolean have_first = FALSE;

  for (guint i = 0; i < room->n; i++)
    {
      SimMember *m = &room->members[i];

      if (m->attacker)
        continue;
      if (m->state == NULL)
        return FALSE;
      if (!have_first)
        {
          smmp_group_state_shared_digest (m->state, first);
          have_first = TRUE;
          continue;
        }
      smmp_group_state_shared_digest (m->state, other);
      if (memcmp (first, other, sizeof first) != 0)
        return FALSE;
    }
  return have_first;
}

guint
sim_room_max_depth (SimRoom *room)
{
  guint depth = 0;

  for (guint i = 0; i < room->log->len; i++)
    depth = MAX (depth, ((SimEntry *) g_ptr_array_index (room->log, i))->depth);
  return depth;
}

guint
sim_room_count_events (SimRoom *room, SmmpEventType type, SmmpErrorCode code)
{
  guint count = 0;

  for (guint i = 0; i < room->n; i++)
    {
      SimMember *m = &room->members[i];

      if (m->attacker)
        continue;
      for (guint k = 0; k < m->events->len; k++)
        {
          SmmpEvent *e = g_ptr_array_index (m->events, k);

          if (e->type == type && (code == 0 || e->code == code))
            count++;
        }
    }
  return count;
}
