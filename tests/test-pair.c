/* test-pair.c: one-on-one messages inside a session (R11): both directions,
 * crossing, late and out-of-order delivery, restarts, and every way a
 * one-on-one frame can be wrong. */
#include "sim-room.h"

#include <string.h>

static SmmpSession *
session_of (SimRoom *room, guint i)
{
  return sim_room_member (room, i)->session;
}

static const char *
handle_of (SimRoom *room, guint i)
{
  return sim_room_member (room, i)->handle;
}

/* Member @from seals @text for member @to; returns the frame. */
static GBytes *
seal (SimRoom *room, guint from, guint to, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *to_handle = NULL;
  GBytes *frame;

  g_assert_true (smmp_session_send_private (session_of (room, from), handle_of (room, to),
                                            text, &error));
  g_assert_no_error (error);
  frame = smmp_session_pop_private_frame (session_of (room, from), &to_handle);
  g_assert_nonnull (frame);
  g_assert_cmpstr (to_handle, ==, handle_of (room, to));
  g_assert_null (smmp_session_pop_private_frame (session_of (room, from), NULL));
  return frame;
}

/* Feeds @frame to member @to as sent by @sender_handle; returns the one
 * event it produced (the test asserts there is exactly one). */
static SmmpEvent *
deliver (SimRoom *room, guint to, const char *sender_handle, GBytes *frame)
{
  SmmpSession *s = session_of (room, to);
  SmmpEvent *event;

  smmp_session_receive_private (s, sender_handle, frame);
  event = smmp_session_pop_event (s);
  g_assert_nonnull (event);
  g_assert_null (smmp_session_pop_event (s));
  return event;
}

static void
assert_message (SmmpEvent *event, const char *from, const char *text)
{
  if (event->type != SMMP_EVENT_PRIVATE_MESSAGE)
    g_printerr ("# unexpected: %s %s\n", smmp_event_type_name (event->type), event->message);
  g_assert_cmpint (event->type, ==, SMMP_EVENT_PRIVATE_MESSAGE);
  g_assert_cmpstr (event->handle, ==, from);
  g_assert_cmpstr (event->text, ==, text);
  smmp_event_free (event);
}

static void
assert_rejected (SmmpEvent *event, SmmpErrorCode code)
{
  g_assert_cmpint (event->type, ==, SMMP_EVENT_FRAME_REJECTED);
  g_assert_cmpint (event->code, ==, code);
  g_assert_nonnull (event->message);
  smmp_event_free (event);
}

static void
test_both_ways (void)
{
  SimRoom *room = sim_room_new_up (3, 11);
  GBytes *frame;

  /* The higher index first (it owns the first chain), then the lower. */
  frame = seal (room, 2, 0, "from two");
  assert_message (deliver (room, 0, handle_of (room, 2), frame), handle_of (room, 2), "from two");
  g_bytes_unref (frame);
  frame = seal (room, 0, 2, "from zero");
  assert_message (deliver (room, 2, handle_of (room, 0), frame), handle_of (room, 0), "from zero");
  g_bytes_unref (frame);
  /* Another pair, lower index first. */
  frame = seal (room, 0, 1, "zero to one");
  assert_message (deliver (room, 1, handle_of (room, 0), frame), handle_of (room, 0),
                  "zero to one");
  g_bytes_unref (frame);
  frame = seal (room, 1, 0, "one to zero");
  assert_message (deliver (room, 0, handle_of (room, 1), frame), handle_of (room, 1),
                  "one to zero");
  g_bytes_unref (frame);
  /* The group conversation is untouched by it. */
  g_assert_true (sim_room_converged (room));
  sim_room_free (room);
}

/* A frame in transit, with what it must open to. */
typedef struct {
  GBytes *frame;
  char *text;
  guint from;
} Transit;

static void
transit_free (gpointer p)
{
  Transit *t = p;

  g_bytes_unref (t->frame);
  g_free (t->text);
  g_free (t);
}

/* Two members write to each other at random, messages cross, arrive late
 * and out of order, and either member restarts from its saved state:
 * every message opens once, with its own text. */
static void
test_crossing_random (void)
{
  for (guint64 seed = 1; seed <= 40; seed++)
    {
      SimRoom *room = sim_room_new_up (3, 100 + seed);
      GRand *rand = g_rand_new_with_seed ((guint32) seed);
      g_autoptr (GPtrArray) transit = g_ptr_array_new_with_free_func (transit_free);
      const guint a = (guint) g_rand_int_range (rand, 0, 3);
      const guint b = (a + 1 + (guint) g_rand_int_range (rand, 0, 2)) % 3;
      guint sent = 0, opened = 0;

      for (guint step = 0; step < 300; step++)
        {
          const guint action = (guint) g_rand_int_range (rand, 0, 10);

          if (action < 4 && transit->len < 40)
            {
              Transit *t = g_new0 (Transit, 1);

              t->from = g_rand_boolean (rand) ? a : b;
              t->text = g_strdup_printf ("seed %" G_GUINT64_FORMAT " message %u", seed, sent++);
              t->frame = seal (room, t->from, t->from == a ? b : a, t->text);
              g_ptr_array_add (transit, t);
            }
          else if (action < 9 && transit->len > 0)
            {
              /* Deliver any frame in transit: late and out of order. */
              guint k = (guint) g_rand_int_range (rand, 0, (gint32) transit->len);
              Transit *t = g_ptr_array_index (transit, k);
              const guint to = t->from == a ? b : a;

              assert_message (deliver (room, to, handle_of (room, t->from), t->frame),
                              handle_of (room, t->from), t->text);
              opened++;
              g_ptr_array_remove_index (transit, k);
            }
          else if (action == 9)
            {
              g_assert_true (sim_room_restart (room, g_rand_boolean (rand) ? a : b));
              sim_room_run (room);
            }
        }
      while (transit->len > 0)
        {
          Transit *t = g_ptr_array_index (transit, transit->len - 1);

          assert_message (deliver (room, t->from == a ? b : a, handle_of (room, t->from),
                                   t->frame),
                          handle_of (room, t->from), t->text);
          opened++;
          g_ptr_array_remove_index (transit, transit->len - 1);
        }
      g_assert_cmpuint (opened, ==, sent);
      g_assert_cmpuint (sent, >, 50);
      g_rand_free (rand);
      sim_room_free (room);
    }
}

static void
test_replay (void)
{
  SimRoom *room = sim_room_new_up (2, 12);
  GBytes *first = seal (room, 0, 1, "once");
  GBytes *second;

  assert_message (deliver (room, 1, handle_of (room, 0), first), handle_of (room, 0), "once");
  assert_rejected (deliver (room, 1, handle_of (room, 0), first), SMMP_ERROR_REPLAYED);
  /* After the chain has moved on (the other member answered, and the
   * first spoke again with a new key), the old frame is still a replay. */
  second = seal (room, 1, 0, "answer");
  assert_message (deliver (room, 0, handle_of (room, 1), second), handle_of (room, 1), "answer");
  g_bytes_unref (second);
  second = seal (room, 0, 1, "again");
  assert_message (deliver (room, 1, handle_of (room, 0), second), handle_of (room, 0), "again");
  assert_rejected (deliver (room, 1, handle_of (room, 0), first), SMMP_ERROR_REPLAYED);
  assert_rejected (deliver (room, 1, handle_of (room, 0), second), SMMP_ERROR_REPLAYED);
  g_bytes_unref (first);
  g_bytes_unref (second);
  sim_room_free (room);
}

static GBytes *
flip_byte (GBytes *frame, gsize at)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);
  GByteArray *copy = g_byte_array_new ();

  g_assert_cmpuint (at, <, len);
  g_byte_array_append (copy, data, (guint) len);
  copy->data[at] ^= 0x01;
  return g_byte_array_free_to_bytes (copy);
}

static void
test_wrong_frames (void)
{
  SimRoom *room = sim_room_new_up (3, 13);
  g_autoptr (GBytes) frame = seal (room, 0, 1, "for one only");
  g_autoptr (GBytes) tampered = NULL;
  g_autoptr (GBytes) resent = NULL;
  g_autoptr (GBytes) data_frame = NULL;
  gsize len = 0;

  g_bytes_get_data (frame, &len);
  /* Every byte is covered by the signature. */
  for (gsize at = 0; at < len; at += 37)
    {
      g_autoptr (GBytes) bad = flip_byte (frame, at);
      SmmpEvent *event = deliver (room, 1, handle_of (room, 0), bad);

      g_assert_cmpint (event->type, ==, SMMP_EVENT_FRAME_REJECTED);
      smmp_event_free (event);
    }
  tampered = flip_byte (frame, len - 100);
  assert_rejected (deliver (room, 1, handle_of (room, 0), tampered), SMMP_ERROR_FORGED);
  /* Addressed to member 1: member 2 refuses it. */
  assert_rejected (deliver (room, 2, handle_of (room, 0), frame), SMMP_ERROR_NOT_FOR_SESSION);
  /* Truncated and junk. */
  {
    g_autoptr (GBytes) cut = g_bytes_new_from_bytes (frame, 0, len - 80);
    g_autoptr (GBytes) junk = g_bytes_new_static ("junk", 4);

    assert_rejected (deliver (room, 1, handle_of (room, 0), cut), SMMP_ERROR_MALFORMED);
    assert_rejected (deliver (room, 1, handle_of (room, 0), junk), SMMP_ERROR_MALFORMED);
  }
  /* The intact frame still opens after all that: nothing was changed. */
  assert_message (deliver (room, 1, handle_of (room, 0), frame), handle_of (room, 0),
                  "for one only");

  /* A member relaying another's frame under its own nick: the message is
   * shown as from its signer, and once only. */
  resent = seal (room, 2, 1, "from two");
  assert_message (deliver (room, 1, handle_of (room, 0), resent), handle_of (room, 2),
                  "from two");

  /* A one-on-one frame broadcast to the room, and a group frame sent as a
   * one-on-one message, are refused. */
  g_assert_false (smmp_session_receive (session_of (room, 1), handle_of (room, 0), frame));
  {
    SmmpEvent *event = smmp_session_pop_event (session_of (room, 1));

    assert_rejected (event, SMMP_ERROR_UNEXPECTED);
  }
  g_assert_true (smmp_session_send (session_of (room, 0), "to everyone", NULL));
  data_frame = smmp_session_pop_frame (session_of (room, 0));
  g_assert_nonnull (data_frame);
  assert_rejected (deliver (room, 1, handle_of (room, 0), data_frame), SMMP_ERROR_UNEXPECTED);
  sim_room_free (room);
}

static void
test_refused_sends (void)
{
  SimRoom *room = sim_room_new_up (3, 14);
  g_autoptr (GError) error = NULL;
  SmmpIdentity *id = smmp_identity_generate ();
  SmmpSession *lonely = smmp_session_new (id, "lonely");

  g_assert_false (smmp_session_send_private (lonely, "m000", "hello", &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_NO_SESSION);
  g_clear_error (&error);
  g_assert_false (smmp_session_send_private (session_of (room, 0), "nobody", "hi", &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (smmp_session_send_private (session_of (room, 0), handle_of (room, 0), "me",
                                             &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (smmp_session_send_private (session_of (room, 0), handle_of (room, 1), "",
                                             &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_assert_null (smmp_session_pop_private_frame (session_of (room, 0), NULL));
  smmp_session_free (lonely);
  smmp_identity_free (id);
  sim_room_free (room);
}

/* A message that skips more than the keys a member keeps is refused and
 * changes nothing; the ones after the gap still open. */
static void
test_too_many_skipped (void)
{
  SimRoom *room = sim_room_new_up (2, 15);
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (guint i = 0; i < SMMP_PAIR_MAX_SKIPPED + 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("number %u", i);

      g_ptr_array_add (frames, seal (room, 1, 0, text));
    }
  assert_rejected (deliver (room, 0, handle_of (room, 1),
                            g_ptr_array_index (frames, SMMP_PAIR_MAX_SKIPPED + 2)),
                   SMMP_ERROR_TOO_LARGE);
  assert_message (deliver (room, 0, handle_of (room, 1),
                           g_ptr_array_index (frames, SMMP_PAIR_MAX_SKIPPED)),
                  handle_of (room, 1), "number 64");
  /* Those skipped over are still there to open, in any order. */
  assert_message (deliver (room, 0, handle_of (room, 1), g_ptr_array_index (frames, 3)),
                  handle_of (room, 1), "number 3");
  assert_message (deliver (room, 0, handle_of (room, 1), g_ptr_array_index (frames, 0)),
                  handle_of (room, 1), "number 0");
  sim_room_free (room);
}

/* A new key agreement starts every pair afresh: frames of the old session
 * are refused, and the new pairs work. */
static void
test_rekey (void)
{
  SimRoom *room = sim_room_new_up (3, 16);
  g_autoptr (GBytes) old = seal (room, 1, 2, "old session");
  g_autoptr (GBytes) fresh = NULL;

  g_assert_true (sim_room_start_ka (room, 1, NULL));
  sim_room_run (room);
  g_assert_true (sim_room_converged (room));
  assert_rejected (deliver (room, 2, handle_of (room, 1), old), SMMP_ERROR_NOT_FOR_SESSION);
  fresh = seal (room, 1, 2, "new session");
  assert_message (deliver (room, 2, handle_of (room, 1), fresh), handle_of (room, 1),
                  "new session");
  sim_room_free (room);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (smmp_init (NULL));
  g_test_add_func ("/pair/both-ways", test_both_ways);
  g_test_add_func ("/pair/crossing-random", test_crossing_random);
  g_test_add_func ("/pair/replay", test_replay);
  g_test_add_func ("/pair/wrong-frames", test_wrong_frames);
  g_test_add_func ("/pair/refused-sends", test_refused_sends);
  g_test_add_func ("/pair/too-many-skipped", test_too_many_skipped);
  g_test_add_func ("/pair/rekey", test_rekey);
  return g_test_run ();
}
