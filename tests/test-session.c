/* test-session.c: the conversation over the simulated room: messages in
 * room order, concurrent senders, one frame in flight, nothing lost. */
#include "sim-attacks.h"
#include "sim-room.h"

#include "smmp-ka-private.h"
#include "smmp-state-private.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Every honest member shows every submitted text exactly once, all in the
 * same order, and ends in the same state. */
static void
assert_all_delivered (SimRoom *room, GPtrArray *submitted)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  SimMember *m0 = sim_room_member (room, 0);

  g_assert_true (sim_room_same_transcript (room));
  g_assert_true (sim_room_converged (room));
  g_assert_cmpuint (m0->delivered->len, ==, submitted->len);
  for (guint k = 0; k < m0->delivered->len; k++)
    {
      const char *line = g_ptr_array_index (m0->delivered, k);

      g_assert_false (g_hash_table_contains (seen, line));
      g_hash_table_add (seen, (gpointer) line);
    }
  for (guint k = 0; k < submitted->len; k++)
    g_assert_true (g_hash_table_contains (seen, g_ptr_array_index (submitted, k)));
  for (guint i = 0; i < sim_room_size (room); i++)
    g_assert_cmpuint (smmp_session_get_queued (sim_room_member (room, i)->session), ==, 0);
}

static void
submit (SimRoom *room, GPtrArray *submitted, guint who, const char *text)
{
  g_assert_true (sim_room_send (room, who, text));
  g_ptr_array_add (submitted, g_strdup_printf ("%s: %s", sim_room_member (room, who)->handle,
                                               text));
}

static void
test_one_message (void)
{
  SimRoom *room = sim_room_new_up (3, 1);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
  guint8 before[SMMP_HASH_BYTES], after[SMMP_HASH_BYTES];

  smmp_group_state_shared_digest (sim_room_member (room, 0)->state, before);
  submit (room, submitted, 1, "hello, room");
  sim_room_run (room);
  assert_all_delivered (room, submitted);
  /* The ratchet moved. */
  smmp_group_state_shared_digest (sim_room_member (room, 0)->state, after);
  g_assert_cmpint (memcmp (before, after, sizeof before), !=, 0);
  sim_room_free (room);
}

static void
test_concurrent_senders (void)
{
  SimRoom *room = sim_room_new_up (5, 2);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
  guint retries = 0;

  /* Everyone types at once, several lines each, before the room moves. */
  for (guint k = 0; k < 4; k++)
    for (guint i = 0; i < 5; i++)
      {
        g_autofree char *text = g_strdup_printf ("line %u from %u", k, i);
        submit (room, submitted, i, text);
      }
  sim_room_run (room);
  assert_all_delivered (room, submitted);
  for (guint i = 0; i < 5; i++)
    retries += smmp_session_get_retries (sim_room_member (room, i)->session);
  /* Five senders at once collide: some frames were overtaken and resent. */
  g_assert_cmpuint (retries, >, 0);
  sim_room_free (room);
}

static void
test_text_queued_before_session (void)
{
  SimRoom *room = sim_room_new (3, 3);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);

  submit (room, submitted, 1, "typed before the session was up");
  g_assert_cmpuint (smmp_session_get_queued (sim_room_member (room, 1)->session), ==, 1);
  g_assert_true (sim_room_start_ka (room, 0, NULL));
  submit (room, submitted, 0, "and this one too");
  sim_room_run (room);
  assert_all_delivered (room, submitted);
  sim_room_free (room);
}

static void
test_order_preserved_per_sender (void)
{
  SimRoom *room = sim_room_new_up (3, 4);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
  SimMember *m = sim_room_member (room, 2);
  gint last = -1;

  for (guint k = 0; k < 10; k++)
    {
      g_autofree char *text = g_strdup_printf ("%u", k);
      submit (room, submitted, 0, text);
      submit (room, submitted, 1, text);
    }
  sim_room_run (room);
  assert_all_delivered (room, submitted);
  for (guint k = 0; k < m->delivered->len; k++)
    {
      const char *line = g_ptr_array_index (m->delivered, k);

      if (g_str_has_prefix (line, "m001: "))
        {
          gint value = atoi (line + 6);
          g_assert_cmpint (value, ==, last + 1);
          last = value;
        }
    }
  g_assert_cmpint (last, ==, 9);
  sim_room_free (room);
}

static void
test_random_schedules (void)
{
  GRand *rand = g_rand_new_with_seed (77);

  for (guint64 seed = 1; seed <= 60; seed++)
    {
      guint n = (guint) g_rand_int_range (rand, 2, 9);
      guint senders = (guint) g_rand_int_range (rand, 1, (gint32) n + 1);
      guint messages = (guint) g_rand_int_range (rand, 1, 12);
      SimRoom *room = sim_room_new_up (n, seed);
      g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);

      for (guint k = 0; k < messages; k++)
        {
          g_autofree char *text = g_strdup_printf ("m%u", k);
          submit (room, submitted, k % senders, text);
          /* Typing goes on while the room moves. */
          sim_room_step (room, (guint) g_rand_int_range (rand, 0, 6));
        }
      sim_room_run (room);
      assert_all_delivered (room, submitted);
      sim_room_free (room);
    }
  g_rand_free (rand);
}


/* ---- losses, with and without the archive ------------------------------ */

/* No member shows a text twice.  (Without an archive the order may differ
 * where a message was recovered late: a sender that lost the reflection of
 * its own frame seals it again, and members that had missed the first copy
 * show it where the second lands.) */
static void
assert_no_duplicates (SimRoom *room)
{
  for (guint i = 0; i < sim_room_size (room); i++)
    {
      GPtrArray *d = sim_room_member (room, i)->delivered;
      g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

      for (guint k = 0; k < d->len; k++)
        {
          g_assert_false (g_hash_table_contains (seen, g_ptr_array_index (d, k)));
          g_hash_table_add (seen, g_ptr_array_index (d, k));
        }
    }
}

typedef struct {
  guint drops, catch_ups, resyncs;
} LossTotals;

/* @schedules random schedules of mixed settings: up to 30 members, several
 * senders at once, up to 19% of message deliveries lost, and now and then a
 * member restarting from its saved session.  With the archive nothing may
 * be lost; without it members that miss frames resync (and lose those
 * messages), and a member left on other keys is brought back by a new key
 * agreement.  Either way everyone ends in one state with nothing queued
 * and nothing shown twice. */
static LossTotals
run_random_losses (guint32 rand_seed, guint schedules, gboolean archive)
{
  GRand *rand = g_rand_new_with_seed (rand_seed);
  LossTotals totals = { 0 };

  for (guint64 seed = 1; seed <= schedules; seed++)
    {
      guint n = (guint) g_rand_int_range (rand, 2, 31);
      guint senders = (guint) g_rand_int_range (rand, 1, (gint32) MIN (n, 6) + 1);
      guint messages = (guint) g_rand_int_range (rand, 1, 16);
      double drop = g_rand_double_range (rand, 0.0, 0.19);
      SimRoom *room = sim_room_new_up (n, seed);
      g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
      guint drops = 0;

      sim_room_set_losses (room, drop, archive);
      for (guint k = 0; k < messages; k++)
        {
          g_autofree char *text = g_strdup_printf ("m%u", k);
          submit (room, submitted, k % senders, text);
          sim_room_step (room, (guint) g_rand_int_range (rand, 0, 2 * (gint32) n));
          if (g_rand_int_range (rand, 0, archive ? 10 : 20) == 0)
            g_assert_true (sim_room_restart (room, (guint) g_rand_int_range (rand, 0,
                                                                              (gint32) n)));
        }
      sim_room_run (room);
      g_assert_true (sim_room_converged (room));
      assert_no_duplicates (room);
      for (guint i = 0; i < n; i++)
        {
          g_assert_cmpuint (smmp_session_get_queued (sim_room_member (room, i)->session), ==, 0);
          drops += sim_room_member (room, i)->drops;
          totals.catch_ups += sim_room_member (room, i)->catch_ups;
        }
      if (archive)
        {
          assert_all_delivered (room, submitted);
          g_assert_cmpuint (sim_room_count_resyncs (room), ==, 0);
        }
      else if (drops > 0)
        g_assert_cmpuint (sim_room_count_resyncs (room), >, 0);
      totals.drops += drops;
      totals.resyncs += sim_room_count_resyncs (room);
      sim_room_free (room);
    }
  g_rand_free (rand);
  return totals;
}

static void
test_random_losses_archive (void)
{
  LossTotals totals = run_random_losses (2026, 200, TRUE);

  /* The schedules did lose frames, and catch-up is what saved them. */
  g_assert_cmpuint (totals.drops, >, 100);
  g_assert_cmpuint (totals.catch_ups, >, 0);
}

static void
test_random_losses_no_archive (void)
{
  /* Fewer schedules: each is heavier without the archive (re-keys). */
  LossTotals totals = run_random_losses (2027, 60, FALSE);

  g_assert_cmpuint (totals.drops, >, 50);
  g_assert_cmpuint (totals.resyncs, >, 50);
}


/* ---- persistence and restarts (R13) ------------------------------------ */

static void
test_state_json_round_trip (void)
{
  SimRoom *room = sim_room_new_up (3, 41);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
  const SmmpGroupState *state;
  g_autoptr (SmmpGroupState) back = NULL;
  g_autoptr (GError) error = NULL;
  guint8 a[SMMP_HASH_BYTES], b[SMMP_HASH_BYTES];
  g_autofree char *json = NULL;

  submit (room, submitted, 2, "before saving");
  sim_room_run (room);
  state = sim_room_member (room, 1)->state;
  json = smmp_group_state_to_json (state);
  back = smmp_group_state_from_json (json, &error);
  g_assert_no_error (error);
  smmp_group_state_shared_digest (state, a);
  smmp_group_state_shared_digest (back, b);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  g_assert_cmpuint (smmp_group_state_get_self (back), ==, smmp_group_state_get_self (state));

  /* Damaged forms are refused with a reason, never half read. */
  {
    const char *bad[] = { "", "[]", "{\"type\":\"smmp-group-state\",\"version\":2}",
                          "{\"type\":\"smmp-group-state\",\"version\":1,\"members\":[]}" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (GError) e = NULL;
        g_assert_null (smmp_group_state_from_json (bad[i], &e));
        g_assert_error (e, SMMP_ERROR, SMMP_ERROR_STORAGE);
      }
    for (const char *key = "\"rk\":\""; key != NULL; key = NULL)
      {
        g_autofree char *cut = g_strdup (json);
        char *at = strstr (cut, key);
        g_autoptr (GError) e = NULL;

        g_assert_nonnull (at);
        at[strlen (key)] = '!'; /* not base64 */
        g_assert_null (smmp_group_state_from_json (cut, &e));
        g_assert_error (e, SMMP_ERROR, SMMP_ERROR_STORAGE);
      }
  }
  sodium_memzero (json, strlen (json));
  sim_room_free (room);
}

static void
test_restarts_lose_nothing (void)
{
  GRand *rand = g_rand_new_with_seed (99);

  for (guint64 seed = 1; seed <= 30; seed++)
    {
      guint n = (guint) g_rand_int_range (rand, 2, 7);
      SimRoom *room = sim_room_new_up (n, 500 + seed);
      g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
      guint restarts = 0;

      sim_room_set_losses (room, seed % 3 == 0 ? 0.1 : 0.0, TRUE);
      for (guint k = 0; k < 12; k++)
        {
          g_autofree char *text = g_strdup_printf ("m%u", k);
          submit (room, submitted, k % n, text);
          sim_room_step (room, (guint) g_rand_int_range (rand, 0, 3 * (gint32) n));
          if (k % 4 == 1)
            {
              g_assert_true (sim_room_restart (room, (guint) g_rand_int_range (rand, 0, (gint32) n)));
              restarts++;
            }
        }
      sim_room_run (room);
      assert_all_delivered (room, submitted);
      g_assert_cmpuint (restarts, ==, 3);
      sim_room_free (room);
    }
  g_rand_free (rand);
}

/* The frames in flight, DATA and RESYNC, are saved and read back whole;
 * either one damaged makes the whole document refused (PROTOCOL 6.17). */
static void
test_frames_in_flight_saved (void)
{
  SimRoom *room = sim_room_new_up (3, 43);
  SimMember *m = sim_room_member (room, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL, *again = NULL;
  SmmpSession *back;
  const char *key = "\"frame\":\"";
  guint damaged = 0;

  g_assert_true (smmp_session_send (m->session, "in flight", NULL));
  m->state->resync_required = TRUE;
  smmp_session_resync_due (m->session);
  json = smmp_session_to_json (m->session);
  g_assert_nonnull (strstr (json, "\"in_flight\""));
  g_assert_nonnull (strstr (json, "\"resync_in_flight\""));

  back = smmp_session_restore (m->identity, m->handle, json, &error);
  g_assert_no_error (error);
  again = smmp_session_to_json (back);
  g_assert_cmpstr (again, ==, json);
  smmp_session_free (back);

  for (const char *at = strstr (json, key); at != NULL; at = strstr (at + 1, key))
    {
      g_autofree char *cut = g_strdup (json);
      g_autoptr (GError) e = NULL;

      cut[at - json + strlen (key)] = '!'; /* not base64 */
      g_assert_null (smmp_session_restore (m->identity, m->handle, cut, &e));
      g_assert_error (e, SMMP_ERROR, SMMP_ERROR_STORAGE);
      sodium_memzero (cut, strlen (cut));
      damaged++;
    }
  g_assert_cmpuint (damaged, ==, 2); /* the DATA frame's and the RESYNC's */
  sodium_memzero (json, strlen (json));
  sodium_memzero (again, strlen (again));
  sim_room_free (room);
}

/* Member 1's engine has just produced a frame.  It reaches the room if
 * @reached_room, then member 1 restarts from its saved session before
 * reading anything, and the room runs until it is quiet. */
static void
restart_with_frame_out (SimRoom *room, gboolean reached_room)
{
  GBytes *frame = smmp_session_pop_frame (sim_room_member (room, 1)->session);

  g_assert_nonnull (frame);
  if (reached_room)
    sim_room_append (room, 1, frame, NULL);
  g_bytes_unref (frame);
  g_assert_true (sim_room_restart (room, 1));
  sim_room_run (room);
}

/* A member restarts after its message reached the room and before it read
 * it back.  The catch-up finds the frame and applies it as the member's
 * own: the text is shown once, and no copy goes out again for every member
 * to report as a replay (PROTOCOL 6.17). */
static void
test_restart_with_data_in_flight (void)
{
  for (guint reached_room = 0; reached_room < 2; reached_room++)
    {
      SimRoom *room = sim_room_new_up (3, 81 + reached_room);
      SimMember *m = sim_room_member (room, 1);
      g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);

      sim_room_set_losses (room, 0.0, TRUE); /* an archive to catch up from */
      g_ptr_array_add (submitted, g_strdup_printf ("%s: %s", m->handle, "sent, then gone"));
      g_assert_true (smmp_session_send (m->session, "sent, then gone", NULL));
      restart_with_frame_out (room, reached_room);

      assert_all_delivered (room, submitted);
      g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED,
                                               SMMP_ERROR_REPLAYED), ==, 0);
      sim_room_free (room);
    }
}

/* A member restarts with its RESYNC in flight: the saved session holds it.
 * If the room had it, the catch-up finds it and applies it as the member's
 * own; if the room never got it, it goes out after the catch-up.  Either
 * way everyone moves to one new generation with no re-key (PROTOCOL 6.12,
 * 6.17). */
static void
test_restart_with_resync_in_flight (void)
{
  for (guint reached_room = 0; reached_room < 2; reached_room++)
    {
      SimRoom *room = sim_room_new_up (3, 71 + reached_room);
      SimMember *m = sim_room_member (room, 1);
      g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
      const guint32 generation = m->state->generation;
      guint rekeys = 0;

      sim_room_set_losses (room, 0.0, TRUE); /* an archive to catch up from */
      m->state->resync_required = TRUE;
      smmp_session_resync_due (m->session);
      restart_with_frame_out (room, reached_room);

      for (guint i = 0; i < 3; i++)
        {
          SimMember *each = sim_room_member (room, i);

          g_assert_cmpuint (each->state->generation, ==, generation + 1);
          g_assert_false (each->state->resync_required);
          rekeys += each->rekeys;
        }
      g_assert_cmpuint (rekeys, ==, 0);
      g_assert_true (sim_room_converged (room));
      submit (room, submitted, 1, "back, and in step");
      submit (room, submitted, 2, "welcome");
      sim_room_run (room);
      assert_all_delivered (room, submitted);
      sim_room_free (room);
    }
}

static void
test_lost_state_rekeys (void)
{
  SimRoom *room = sim_room_new_up (4, 61);
  SimMember *m = sim_room_member (room, 2);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
  guint rekeys = 0;

  /* Member 2 loses everything but its identity (a wiped disk). */
  smmp_session_free (m->session);
  m->session = smmp_session_new (m->identity, m->handle);
  m->state = NULL;
  m->ka = NULL;

  submit (room, submitted, 0, "who is still here?");
  sim_room_run (room);
  /* It could not read that one; it asked for a re-key and is back in. */
  for (guint i = 0; i < 4; i++)
    rekeys += sim_room_member (room, i)->rekeys;
  g_assert_cmpuint (rekeys, >=, 1);
  g_assert_true (sim_room_converged (room));
  g_ptr_array_set_size (submitted, 0);
  for (guint i = 0; i < 4; i++)
    g_ptr_array_set_size (sim_room_member (room, i)->delivered, 0);
  submit (room, submitted, 1, "welcome back");
  submit (room, submitted, 2, "thanks");
  sim_room_run (room);
  assert_all_delivered (room, submitted);
  sim_room_free (room);
}


/* ---- attacks on the conversation ---------------------------------------- */

static void
check_conversation_attack (SimAttack attack, SmmpErrorCode code)
{
  for (guint64 seed = 1; seed <= 4; seed++)
    {
      SimRoom *room = sim_room_new (3 + (guint) seed, 900 + seed);
      g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);

      g_assert_true (sim_attack_conversation (room, attack, 1 + (guint) (seed % 3), 15,
                                              submitted));
      assert_all_delivered (room, submitted);
      g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED, code), >, 0);
      sim_room_free (room);
    }
}

static void test_attack_forge (void) { check_conversation_attack (SIM_ATTACK_FORGE, SMMP_ERROR_FORGED); }
static void test_attack_replay (void) { check_conversation_attack (SIM_ATTACK_REPLAY_DATA, SMMP_ERROR_REPLAYED); }
static void test_attack_tamper (void) { check_conversation_attack (SIM_ATTACK_TAMPER, SMMP_ERROR_FORGED); }
static void test_attack_outsider (void) { check_conversation_attack (SIM_ATTACK_OUTSIDER, SMMP_ERROR_FORGED); }


/* ---- membership (R10) ---------------------------------------------------- */

static SmmpEvent *
last_event (SimMember *m, SmmpEventType type)
{
  for (guint i = m->events->len; i > 0; i--)
    {
      SmmpEvent *e = g_ptr_array_index (m->events, i - 1);

      if (e->type == type)
        return e;
    }
  return NULL;
}

static void
test_remove_and_add (void)
{
  SimRoom *room = sim_room_new (4, 71);
  const guint three[] = { 1, 2 }, all[] = { 1, 2, 3 };
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
  SmmpEvent *change;
  SimMember *left = sim_room_member (room, 3);

  /* A session of all four, then a re-key without member 3. */
  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  g_assert_true (sim_room_converged (room));
  g_assert_true (sim_room_start_ka_with (room, 0, three, 2));
  sim_room_run (room);
  for (guint i = 0; i < 3; i++)
    {
      change = last_event (sim_room_member (room, i), SMMP_EVENT_MEMBERS_CHANGED);
      g_assert_nonnull (change);
      g_assert_cmpuint (change->handles->len, ==, 0);
      g_assert_cmpuint (change->outsiders->len, ==, 1);
      g_assert_cmpstr (g_ptr_array_index (change->outsiders, 0), ==, left->handle);
      g_assert_cmpuint (smmp_group_state_get_size (sim_room_member (room, i)->state), ==, 3);
    }
  /* What follows is not for the member who left: it cannot read it. */
  submit (room, submitted, 1, "after 3 left");
  sim_room_run (room);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpstr (g_ptr_array_index (sim_room_member (room, i)->delivered,
                                        sim_room_member (room, i)->delivered->len - 1),
                     ==, "m001: after 3 left");
  g_assert_cmpuint (left->delivered->len, ==, 0);
  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED,
                                           SMMP_ERROR_NOT_FOR_SESSION), >, 0);

  /* Member 3 comes back: a re-key with everyone. */
  g_assert_true (sim_room_start_ka_with (room, 0, all, 3));
  sim_room_run (room);
  g_assert_true (sim_room_converged (room));
  change = last_event (sim_room_member (room, 1), SMMP_EVENT_MEMBERS_CHANGED);
  g_assert_nonnull (change);
  g_assert_cmpuint (change->handles->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (change->handles, 0), ==, left->handle);
  sim_room_free (room);
}

static void
test_text_typed_during_rekey_is_kept (void)
{
  /* Members switch sessions at one place in the room's order (the last
   * CONFIRM), so a text typed around it is shown once by everyone, in the
   * old session or the new. */
  for (guint64 seed = 1; seed <= 40; seed++)
    {
      guint n = 2 + (guint) (seed % 4);
      SimRoom *room = sim_room_new_up (n, 7200 + seed);
      g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);

      g_assert_true (sim_room_start_ka (room, (guint) (seed % n), NULL));
      for (guint k = 0; k < 12; k++)
        {
          g_autofree char *text = g_strdup_printf ("during the re-key %u", k);
          submit (room, submitted, k % n, text);
          sim_room_step (room, (guint) (seed % 7));
        }
      sim_room_run (room);
      assert_all_delivered (room, submitted);
      sim_room_free (room);
    }
}

static void
test_periodic_rekey_due (void)
{
  SimRoom *room = sim_room_new_up (2, 73);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
  SmmpSession *s = sim_room_member (room, 0)->session;

  g_assert_false (smmp_session_rekey_is_due (s, 3, 0, 0));
  g_assert_true (smmp_session_rekey_is_due (s, 0, 60001, 60000));
  g_assert_false (smmp_session_rekey_is_due (s, 0, 59999, 60000));
  for (guint k = 0; k < 3; k++)
    {
      g_autofree char *text = g_strdup_printf ("%u", k);
      submit (room, submitted, 1, text);
    }
  sim_room_run (room);
  g_assert_true (smmp_session_rekey_is_due (s, 3, 0, 0));
  g_assert_true (sim_room_start_ka (room, 0, NULL));
  sim_room_run (room);
  g_assert_false (smmp_session_rekey_is_due (s, 3, 0, 0));
  sim_room_free (room);
}

/* ---- hostile frames ---------------------------------------------------- */

typedef struct {
  guint victim;       /* whose data frames the room alters */
  guint flip_at;      /* byte offset from the end, 0: none */
  gboolean forge;     /* member 2 re-signs a frame as if from the victim */
  guint altered;
} Tamper;

static void
tamper_hook (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  Tamper *t = data;
  const guint8 *bytes = g_bytes_get_data (frame, NULL);

  if (sender == t->victim && bytes[1] == SMMP_FRAME_DATA && t->altered == 0)
    {
      gsize len = 0;
      guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (frame), &len);
      GBytes *bad;

      copy[len - t->flip_at] ^= 0x01;
      bad = g_bytes_new_take (copy, len);
      sim_room_append (room, sender, bad, NULL);
      g_bytes_unref (bad);
      t->altered++;
      /* The genuine frame follows, as a room that only adds would do. */
    }
  sim_room_append (room, sender, frame, NULL);
}

static void
test_tampered_frames_refused (void)
{
  /* Bytes in the signature, the hmac, the body and the header. */
  static const guint offsets[] = { 1, 70, 120, 200 };

  for (guint k = 0; k < G_N_ELEMENTS (offsets); k++)
    {
      SimRoom *room = sim_room_new_up (3, 10 + k);
      g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
      Tamper t = { .victim = 1, .flip_at = offsets[k] };

      sim_room_set_post_hook (room, tamper_hook, &t);
      submit (room, submitted, 1, "do not change me");
      sim_room_run (room);
      g_assert_cmpuint (t.altered, ==, 1);
      assert_all_delivered (room, submitted);
      g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED,
                                               SMMP_ERROR_FORGED), ==, 3);
      sim_room_free (room);
    }
}

/* Bytes that are no frame, posted after the agreement is done: each member
 * reports each of them (6.8), and nothing changes. */
static void
test_garbage_after_agreement_reported (void)
{
  /* An unknown type, a KEY cut short, an unknown version. */
  static const guint8 heads[][2] = { { 0x01, 0x5c }, { 0x01, 0x05 }, { 0x02, 0x05 } };
  SimRoom *room = sim_room_new_up (3, 77);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);

  for (guint k = 0; k < G_N_ELEMENTS (heads); k++)
    {
      guint8 junk[120];
      g_autoptr (GBytes) frame = NULL;

      for (guint i = 0; i < sizeof junk; i++)
        junk[i] = (guint8) g_rand_int (sim_room_rand (room));
      memcpy (junk, heads[k], 2);
      frame = g_bytes_new (junk, sizeof junk);
      sim_room_append (room, 2, frame, NULL);
    }
  submit (room, submitted, 1, "still here");
  sim_room_run (room);
  assert_all_delivered (room, submitted);
  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED,
                                           SMMP_ERROR_MALFORMED), ==, 2 * 3);
  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED,
                                           SMMP_ERROR_VERSION), ==, 3);
  sim_room_free (room);
}

/* Every frame posted, in the room's order, as an archive would hold it. */
static void
keep_posted (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  g_ptr_array_add (data, g_bytes_ref (frame));
  sim_room_append (room, sender, frame, NULL);
}

/* Counts and frees what the member reported: rejections with @code. */
static guint
drain_rejections (SimMember *m, SmmpErrorCode code, guint *caught_up)
{
  SmmpEvent *event;
  guint n = 0;

  while ((event = smmp_session_pop_event (m->session)) != NULL)
    {
      if (event->type == SMMP_EVENT_FRAME_REJECTED)
        {
          g_assert_cmpint (event->code, ==, code);
          n++;
        }
      if (event->type == SMMP_EVENT_CATCHUP_DONE && caught_up != NULL)
        {
          g_assert_cmpint (event->code, ==, 0);
          (*caught_up)++;
        }
      smmp_event_free (event);
    }
  return n;
}

/* A catch-up reads the archive from before the point where the member
 * stopped (6.11): frames it applied come again and are ignored without a
 * report, since nobody sent them again.  The same frame live is a replay. */
static void
test_archive_rereads_applied_quietly (void)
{
  SimRoom *room = sim_room_new_up (3, 83);
  g_autoptr (GPtrArray) posted = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);
  SimMember *m = sim_room_member (room, 0);
  const char *sender = sim_room_member (room, 1)->handle;
  guint caught_up = 0;

  sim_room_set_post_hook (room, keep_posted, posted);
  submit (room, submitted, 1, "one");
  submit (room, submitted, 2, "two");
  sim_room_run (room);
  assert_all_delivered (room, submitted);
  g_assert_cmpuint (posted->len, >=, 2);
  drain_rejections (m, 0, NULL);

  smmp_session_report_gap (m->session);
  for (guint i = 0; i < posted->len; i++)
    smmp_session_receive_archived (m->session, sender, g_ptr_array_index (posted, i));
  smmp_session_catch_up_done (m->session, TRUE);
  g_assert_cmpuint (drain_rejections (m, 0, &caught_up), ==, 0);
  g_assert_cmpuint (caught_up, ==, 1);

  /* The last frame posted was applied by everyone. */
  smmp_session_receive (m->session, sender, g_ptr_array_index (posted, posted->len - 1));
  g_assert_cmpuint (drain_rejections (m, SMMP_ERROR_REPLAYED, NULL), ==, 1);
  sim_room_free (room);
}

/* The archive holds other sessions' frames as a matter of course (a
 * session formed while this member was away): ignored there without a
 * report; live, the same frame is refused as not for this session. */
static void
test_archive_other_session_quiet (void)
{
  SimRoom *room = sim_room_new_up (3, 87), *other = sim_room_new_up (3, 88);
  SimMember *m = sim_room_member (room, 0);
  const char *sender = sim_room_member (room, 1)->handle;
  g_autoptr (GBytes) foreign = NULL;
  guint caught_up = 0;

  g_assert_true (smmp_session_send (sim_room_member (other, 1)->session, "in another session",
                                    NULL));
  foreign = smmp_session_pop_frame (sim_room_member (other, 1)->session);
  g_assert_nonnull (foreign);
  drain_rejections (m, 0, NULL);

  smmp_session_report_gap (m->session);
  smmp_session_receive_archived (m->session, sender, foreign);
  smmp_session_catch_up_done (m->session, TRUE);
  g_assert_cmpuint (drain_rejections (m, 0, &caught_up), ==, 0);
  g_assert_cmpuint (caught_up, ==, 1);

  smmp_session_receive (m->session, sender, foreign);
  g_assert_cmpuint (drain_rejections (m, SMMP_ERROR_NOT_FOR_SESSION, NULL), ==, 1);
  sim_room_free (other);
  sim_room_free (room);
}

/* A member that learns the others re-keyed without it seals nothing more
 * under the dead session; what it types waits and goes out, once, in the
 * next session it is in. */
static void
test_replaced_member_holds_texts (void)
{
  SimRoom *room = sim_room_new_up (3, 91);
  SimMember *m = sim_room_member (room, 2);
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);

  smmp_session_mark_replaced (m->session);
  submit (room, submitted, 2, "typed while out");
  sim_room_run (room);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (sim_room_member (room, i)->delivered->len, ==, 0);
  g_assert_cmpuint (smmp_session_get_queued (m->session), ==, 1);

  g_assert_true (sim_room_start_ka (room, 2, NULL));
  sim_room_run (room);
  assert_all_delivered (room, submitted);
  g_assert_cmpuint (smmp_session_get_queued (m->session), ==, 0);
  sim_room_free (room);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (smmp_init (NULL));

  g_test_add_func ("/session/one-message", test_one_message);
  g_test_add_func ("/session/concurrent-senders", test_concurrent_senders);
  g_test_add_func ("/session/queued-before-session", test_text_queued_before_session);
  g_test_add_func ("/session/order-per-sender", test_order_preserved_per_sender);
  g_test_add_func ("/session/random-schedules", test_random_schedules);
  g_test_add_func ("/session/tampered", test_tampered_frames_refused);
  g_test_add_func ("/session/frames-in-flight-saved", test_frames_in_flight_saved);
  g_test_add_func ("/session/restart-with-data-in-flight", test_restart_with_data_in_flight);
  g_test_add_func ("/session/restart-with-resync-in-flight", test_restart_with_resync_in_flight);
  g_test_add_func ("/session/garbage-after-agreement", test_garbage_after_agreement_reported);
  g_test_add_func ("/session/replaced-member-holds-texts", test_replaced_member_holds_texts);
  g_test_add_func ("/session/state-json", test_state_json_round_trip);
  g_test_add_func ("/session/restarts", test_restarts_lose_nothing);
  g_test_add_func ("/session/lost-state-rekeys", test_lost_state_rekeys);
  g_test_add_func ("/session/archive-rereads-applied", test_archive_rereads_applied_quietly);
  g_test_add_func ("/session/archive-other-session", test_archive_other_session_quiet);
  g_test_add_func ("/session/membership/remove-and-add", test_remove_and_add);
  g_test_add_func ("/session/membership/typed-during-rekey", test_text_typed_during_rekey_is_kept);
  g_test_add_func ("/session/membership/periodic-rekey", test_periodic_rekey_due);
  g_test_add_func ("/session/attack/forge", test_attack_forge);
  g_test_add_func ("/session/attack/replay", test_attack_replay);
  g_test_add_func ("/session/attack/tamper", test_attack_tamper);
  g_test_add_func ("/session/attack/outsider", test_attack_outsider);
  g_test_add_func ("/session/random-losses-archive", test_random_losses_archive);
  g_test_add_func ("/session/random-losses-no-archive", test_random_losses_no_archive);
  return g_test_run ();
}
