/* test-driver.c: SmmpDriver on a real GLib main loop, several drivers in
 * one in-process room that reflects every frame to every member in one
 * order, as an XMPP room does.  Deadlines are short and real. */
#include "smmp-driver.h"
#include "smmp.h"

#include <string.h>

typedef struct _Room Room;

typedef struct {
  Room *room;
  char *nick;
  SmmpIdentity *identity;
  SmmpDriver *driver;
  GPtrArray *events;    /* of char*: "type handle|code" */
  GPtrArray *messages;  /* of char*: "nick: text", in the order shown */
  GPtrArray *privates;  /* of char*: "nick: text" */
  guint up, failed, saves, rekeys_due, catch_ups;
  char *saved;          /* the last smmp_session_to_json() */
  gint send_budget;     /* frames it may still send; < 0: no limit */
  gboolean drop_next_data;
  gboolean free_on_up;
  guint cursor;         /* next log entry this member has seen */
  GPtrArray *last_failed_names;
} Member;

typedef struct {
  char *sender;
  char *to;             /* a one-on-one frame's recipient, or NULL */
  GBytes *frame;
} Entry;

struct _Room {
  GPtrArray *members;   /* of Member* */
  GPtrArray *log;       /* of Entry*: everything the room carried, in order */
  guint next;           /* next log entry to deliver */
  guint idle;
  SmmpDriverConfig config;
};

static void
entry_free (Entry *e)
{
  g_free (e->sender);
  g_free (e->to);
  g_bytes_unref (e->frame);
  g_free (e);
}

/* Delivers one entry per turn of the main loop: frames sent while a
 * delivery is under way queue behind it, in one order for everyone. */
static gboolean
room_deliver (gpointer data)
{
  Room *room = data;
  Entry *e;

  if (room->next >= room->log->len)
    {
      room->idle = 0;
      return G_SOURCE_REMOVE;
    }
  e = g_ptr_array_index (room->log, room->next++);
  for (guint i = 0; i < room->members->len; i++)
    {
      Member *m = g_ptr_array_index (room->members, i);

      if (m->driver == NULL)
        continue;
      m->cursor = room->next;
      if (e->to == NULL)
        smmp_driver_receive (m->driver, e->sender, e->frame);
      else if (strcmp (e->to, m->nick) == 0)
        smmp_driver_receive_private (m->driver, e->sender, e->frame);
    }
  return G_SOURCE_CONTINUE;
}

static void
room_post (Room *room, const char *sender, const char *to, GBytes *frame)
{
  Entry *e = g_new0 (Entry, 1);

  e->sender = g_strdup (sender);
  e->to = g_strdup (to);
  e->frame = g_bytes_ref (frame);
  g_ptr_array_add (room->log, e);
  if (room->idle == 0)
    room->idle = g_idle_add (room_deliver, room);
}

static gboolean
may_send (Member *m, GBytes *frame)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);

  if (m->send_budget == 0)
    return FALSE;
  if (m->send_budget > 0)
    m->send_budget--;
  if (m->drop_next_data && len >= 2 && data[1] == SMMP_FRAME_DATA)
    {
      m->drop_next_data = FALSE;
      return FALSE;
    }
  return TRUE;
}

static void
on_send (SmmpDriver *driver, GBytes *frame, gpointer user_data)
{
  Member *m = user_data;

  /* Frames go through the armour and back, as they would in a body. */
  g_autofree char *text = smmp_armour_encode (frame);
  g_autoptr (GBytes) decoded = smmp_armour_decode (text, NULL);

  g_assert_nonnull (decoded);
  if (may_send (m, decoded))
    room_post (m->room, m->nick, NULL, decoded);
}

static void
on_send_private (SmmpDriver *driver, const char *to, GBytes *frame, gpointer user_data)
{
  Member *m = user_data;

  room_post (m->room, m->nick, to, frame);
}

static void
catch_up (Member *m)
{
  Room *room = m->room;

  /* The archive: everything the room carried that this member did not
   * see, up to what the room has delivered live so far. */
  for (guint k = m->cursor; k < room->next; k++)
    {
      Entry *e = g_ptr_array_index (room->log, k);

      if (e->to == NULL)
        smmp_driver_receive_archived (m->driver, e->sender, e->frame);
    }
  m->cursor = room->next;
  smmp_driver_catch_up_done (m->driver, TRUE);
}

static void
on_event (SmmpDriver *driver, const SmmpEvent *event, gpointer user_data)
{
  Member *m = user_data;

  g_ptr_array_add (m->events, g_strdup_printf ("%s %s|%d", smmp_event_type_name (event->type),
                                               event->handle ? event->handle : "-",
                                               event->code));
  switch (event->type)
    {
    case SMMP_EVENT_SESSION_UP:
      m->up++;
      if (m->free_on_up)
        {
          smmp_driver_free (m->driver);
          m->driver = NULL;
        }
      break;
    case SMMP_EVENT_SESSION_FAILED:
      m->failed++;
      g_clear_pointer (&m->last_failed_names, g_ptr_array_unref);
      m->last_failed_names = g_ptr_array_new_with_free_func (g_free);
      for (guint i = 0; i < event->handles->len; i++)
        g_ptr_array_add (m->last_failed_names, g_strdup (g_ptr_array_index (event->handles, i)));
      break;
    case SMMP_EVENT_MESSAGE:
      g_ptr_array_add (m->messages, g_strdup_printf ("%s: %s", event->handle, event->text));
      break;
    case SMMP_EVENT_PRIVATE_MESSAGE:
      g_ptr_array_add (m->privates, g_strdup_printf ("%s: %s", event->handle, event->text));
      break;
    case SMMP_EVENT_CATCHUP_NEEDED:
      m->catch_ups++;
      catch_up (m);
      break;
    default:
      break;
    }
}

static void
on_save (SmmpDriver *driver, gpointer user_data)
{
  Member *m = user_data;

  m->saves++;
  g_free (m->saved);
  m->saved = smmp_session_to_json (smmp_driver_get_session (driver));
}

static void
on_rekey_due (SmmpDriver *driver, gpointer user_data)
{
  Member *m = user_data;

  m->rekeys_due++;
}

static const SmmpDriverCallbacks callbacks = {
  .send = on_send,
  .send_private = on_send_private,
  .event = on_event,
  .save = on_save,
  .rekey_due = on_rekey_due,
};

static Room *
room_new (const char *const *nicks)
{
  Room *room = g_new0 (Room, 1);

  room->members = g_ptr_array_new ();
  room->log = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  smmp_driver_config_init (&room->config);
  room->config.answer_timeout_ms = 300;
  room->config.roster_timeout_ms = 600;
  room->config.round_timeout_ms = 600;
  room->config.resend_timeout_ms = 150;
  room->config.resync_backoff_min_ms = 10;
  room->config.resync_backoff_max_ms = 50;
  room->config.rekey_check_ms = 50;
  for (guint i = 0; nicks[i] != NULL; i++)
    {
      Member *m = g_new0 (Member, 1);

      m->room = room;
      m->nick = g_strdup (nicks[i]);
      m->identity = smmp_identity_generate ();
      m->events = g_ptr_array_new_with_free_func (g_free);
      m->messages = g_ptr_array_new_with_free_func (g_free);
      m->privates = g_ptr_array_new_with_free_func (g_free);
      m->send_budget = -1;
      g_ptr_array_add (room->members, m);
    }
  return room;
}

static void
member_attach (Member *m, SmmpSession *session)
{
  m->driver = smmp_driver_new (session, &m->room->config, &callbacks, m);
  smmp_driver_dispatch (m->driver);
}

static void
room_attach_all (Room *room)
{
  for (guint i = 0; i < room->members->len; i++)
    {
      Member *m = g_ptr_array_index (room->members, i);

      member_attach (m, smmp_session_new (m->identity, m->nick));
    }
}

static void
room_free (Room *room)
{
  for (guint i = 0; i < room->members->len; i++)
    {
      Member *m = g_ptr_array_index (room->members, i);

      smmp_driver_free (m->driver);
      smmp_identity_free (m->identity);
      g_ptr_array_unref (m->events);
      g_ptr_array_unref (m->messages);
      g_ptr_array_unref (m->privates);
      g_clear_pointer (&m->last_failed_names, g_ptr_array_unref);
      g_free (m->saved);
      g_free (m->nick);
      g_free (m);
    }
  if (room->idle != 0)
    g_source_remove (room->idle);
  g_ptr_array_unref (room->members);
  g_ptr_array_unref (room->log);
  g_free (room);
}

typedef gboolean (*Condition) (Room *room);

/* Runs the main loop until @cond holds; fails the test after @ms. */
static void
run_until (Room *room, Condition cond, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (!cond (room))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, FALSE);
      if (!g_main_context_pending (NULL))
        g_usleep (1000);
    }
}

/* Runs the main loop for @ms whatever happens. */
static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static Member *
member (Room *room, guint i)
{
  return g_ptr_array_index (room->members, i);
}

static gboolean
all_up (Room *room)
{
  for (guint i = 0; i < room->members->len; i++)
    if (member (room, i)->driver != NULL && member (room, i)->up == 0)
      return FALSE;
  return TRUE;
}

static guint want_messages;

static gboolean
all_have_messages (Room *room)
{
  for (guint i = 0; i < room->members->len; i++)
    if (member (room, i)->driver != NULL && member (room, i)->messages->len < want_messages)
      return FALSE;
  return TRUE;
}

static void
start (Room *room, guint initiator, const char *const *invited)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (smmp_driver_start (member (room, initiator)->driver, invited,
                                    g_strv_length ((char **) invited), &error));
  g_assert_no_error (error);
}

static void
send_text (Room *room, guint who, const char *text)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (smmp_driver_send (member (room, who)->driver, text, &error));
  g_assert_no_error (error);
}

static void
assert_same_messages (Room *room)
{
  Member *m0 = member (room, 0);

  for (guint i = 1; i < room->members->len; i++)
    {
      Member *m = member (room, i);

      g_assert_cmpuint (m->messages->len, ==, m0->messages->len);
      for (guint k = 0; k < m0->messages->len; k++)
        g_assert_cmpstr (g_ptr_array_index (m->messages, k), ==,
                         g_ptr_array_index (m0->messages, k));
    }
}

static gboolean
ptr_array_has (GPtrArray *a, const char *s)
{
  for (guint i = 0; a != NULL && i < a->len; i++)
    if (strcmp (g_ptr_array_index (a, i), s) == 0)
      return TRUE;
  return FALSE;
}

static const char *const trio[] = { "alice", "bob", "carol", NULL };
static const char *const duo[] = { "alice", "bob", NULL };

static Room *
room_up (const char *const *nicks)
{
  Room *room = room_new (nicks);

  room_attach_all (room);
  start (room, 0, nicks + 1);
  run_until (room, all_up, 5000);
  return room;
}

/* Three members agree, then type at once; everyone shows every text once,
 * in the same order, and the session was saved along the way. */
static void
test_start_and_talk (void)
{
  Room *room = room_up (trio);

  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpuint (member (room, i)->up, ==, 1);
      g_assert_cmpuint (member (room, i)->saves, >, 0);
      g_assert_false (smmp_driver_key_agreement_open (member (room, i)->driver));
    }
  send_text (room, 0, "hello from alice");
  send_text (room, 1, "hello from bob");
  send_text (room, 2, "carol one");
  send_text (room, 2, "carol two");
  want_messages = 4;
  run_until (room, all_have_messages, 5000);
  run_for (50);
  assert_same_messages (room);
  g_assert_true (ptr_array_has (member (room, 0)->messages, "carol: carol one"));
  g_assert_true (ptr_array_has (member (room, 0)->messages, "carol: carol two"));
  g_assert_true (ptr_array_has (member (room, 0)->messages, "bob: hello from bob"));
  g_assert_true (ptr_array_has (member (room, 0)->messages, "alice: hello from alice"));
  /* Nothing left in flight, so no resend timer fires a duplicate. */
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (smmp_session_get_queued (smmp_driver_get_session (member (room, i)->driver)),
                      ==, 0);
  room_free (room);
}

/* An invitee without the plugin never answers: at the answer deadline the
 * initiator goes on with those who did, and names the silent one. */
static void
test_silent_invitee (void)
{
  static const char *const nicks[] = { "alice", "bob", "dave", NULL };
  Room *room = room_new (nicks);
  gint64 t0;

  member_attach (member (room, 0), smmp_session_new (member (room, 0)->identity, "alice"));
  member_attach (member (room, 1), smmp_session_new (member (room, 1)->identity, "bob"));
  t0 = g_get_monotonic_time ();
  start (room, 0, nicks + 1);
  run_until (room, all_up, 5000);
  g_assert_cmpint ((g_get_monotonic_time () - t0) / 1000, >=, room->config.answer_timeout_ms);
  g_assert_true (ptr_array_has (member (room, 0)->events, "roster-fixed -|0"));
  g_assert_cmpuint (smmp_group_state_get_size (
                      smmp_session_get_state (smmp_driver_get_session (member (room, 1)->driver))),
                    ==, 2);
  room_free (room);
}

/* A member goes silent after answering: the round deadline passes and the
 * others' agreement fails, naming it. */
static void
test_silent_member (void)
{
  Room *room = room_new (trio);

  room_attach_all (room);
  member (room, 2)->send_budget = 1; /* its ANSWER, then nothing */
  start (room, 0, trio + 1);
  for (gint64 end = g_get_monotonic_time () + 5000000;
       member (room, 0)->failed == 0 || member (room, 1)->failed == 0;)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, TRUE);
    }
  /* Whoever's deadline passes first names carol and sends an ABORT; the
   * other may fail on that ABORT instead, naming its sender. */
  g_assert_true (ptr_array_has (member (room, 0)->last_failed_names, "carol")
                 || ptr_array_has (member (room, 1)->last_failed_names, "carol"));
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpuint (member (room, i)->up, ==, 0);
      g_assert_false (ptr_array_has (member (room, i)->last_failed_names,
                                     member (room, i)->nick));
      g_assert_false (smmp_driver_key_agreement_open (member (room, i)->driver));
    }
  room_free (room);
}

/* The room loses a data frame: the resend deadline sends the same frame
 * again and the text arrives once. */
static void
test_resend (void)
{
  Room *room = room_up (duo);

  member (room, 0)->drop_next_data = TRUE;
  send_text (room, 0, "lost once");
  want_messages = 1;
  run_until (room, all_have_messages, 3000);
  run_for (3 * room->config.resend_timeout_ms);
  assert_same_messages (room);
  g_assert_cmpuint (member (room, 0)->messages->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (member (room, 1)->messages, 0), ==, "alice: lost once");
  room_free (room);
}

/* With a message limit, every member is told once that a re-key is due. */
static void
test_rekey_due (void)
{
  Room *room = room_new (duo);

  room->config.rekey_max_messages = 2;
  room_attach_all (room);
  start (room, 0, duo + 1);
  run_until (room, all_up, 5000);
  send_text (room, 0, "one");
  send_text (room, 1, "two");
  send_text (room, 0, "three");
  want_messages = 3;
  run_until (room, all_have_messages, 3000);
  run_for (4 * room->config.rekey_check_ms);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpuint (member (room, i)->rekeys_due, ==, 1);
  room_free (room);
}

/* A member's client stops; the others talk; it comes back from its saved
 * session, catches up from the archive and sees what it missed. */
static void
test_restore_catches_up (void)
{
  Room *room = room_up (duo);
  Member *bob = member (room, 1);
  g_autoptr (GError) error = NULL;
  SmmpSession *restored;

  send_text (room, 1, "before");
  want_messages = 1;
  run_until (room, all_have_messages, 3000);
  g_assert_nonnull (bob->saved);
  smmp_driver_free (bob->driver);
  bob->driver = NULL;

  send_text (room, 0, "while bob was away");
  want_messages = 2;
  run_until (room, all_have_messages, 3000);
  g_assert_cmpuint (bob->messages->len, ==, 1);

  restored = smmp_session_restore (bob->identity, "bob", bob->saved, &error);
  g_assert_no_error (error);
  member_attach (bob, restored);
  g_assert_cmpuint (bob->catch_ups, ==, 1);
  g_assert_cmpuint (bob->messages->len, ==, 2);
  g_assert_true (ptr_array_has (bob->events, "catch-up-done -|0"));

  send_text (room, 1, "back");
  want_messages = 3;
  run_until (room, all_have_messages, 3000);
  assert_same_messages (room);
  room_free (room);
}

/* One-on-one frames go to their recipient alone. */
static void
test_private (void)
{
  Room *room = room_up (trio);
  g_autoptr (GError) error = NULL;

  g_assert_true (smmp_driver_send_private (member (room, 0)->driver, "carol", "just you",
                                           &error));
  g_assert_no_error (error);
  for (gint64 end = g_get_monotonic_time () + 3000000; member (room, 2)->privates->len == 0;)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpstr (g_ptr_array_index (member (room, 2)->privates, 0), ==, "alice: just you");
  g_assert_cmpuint (member (room, 1)->privates->len, ==, 0);
  g_assert_cmpuint (member (room, 0)->privates->len, ==, 0);
  room_free (room);
}

/* A callback may free its own driver; nothing is called after that. */
static void
test_free_in_callback (void)
{
  Room *room = room_new (duo);

  room_attach_all (room);
  member (room, 1)->free_on_up = TRUE;
  start (room, 0, duo + 1);
  for (gint64 end = g_get_monotonic_time () + 5000000; member (room, 1)->driver != NULL;)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, TRUE);
    }
  run_for (100);
  g_assert_cmpuint (member (room, 1)->up, ==, 1);
  room_free (room);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (smmp_init (NULL));
  g_test_add_func ("/driver/start-and-talk", test_start_and_talk);
  g_test_add_func ("/driver/silent-invitee", test_silent_invitee);
  g_test_add_func ("/driver/silent-member", test_silent_member);
  g_test_add_func ("/driver/resend", test_resend);
  g_test_add_func ("/driver/rekey-due", test_rekey_due);
  g_test_add_func ("/driver/restore-catches-up", test_restore_catches_up);
  g_test_add_func ("/driver/private", test_private);
  g_test_add_func ("/driver/free-in-callback", test_free_in_callback);
  return g_test_run ();
}
