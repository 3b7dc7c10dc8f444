/* test-ka.c: key agreement among in-process members over a simulated room,
 * and the attacks it must refuse. */
#include "sim-attacks.h"
#include "sim-room.h"

#include "smmp-ka-private.h"

#include <string.h>

static SimRoom *
run_honest (guint n, guint64 seed)
{
  SimRoom *room = sim_room_new (n, seed);

  g_assert_true (sim_room_start_ka (room, 0, NULL));
  sim_room_run (room);
  return room;
}

static gboolean
member_has_event (SimMember *m, SmmpEventType type, SmmpErrorCode code)
{
  for (guint i = 0; i < m->events->len; i++)
    {
      SmmpEvent *e = g_ptr_array_index (m->events, i);

      if (e->type == type && (code == 0 || e->code == code))
        return TRUE;
    }
  return FALSE;
}

static gboolean
event_blames (SimMember *m, SmmpErrorCode code, const char *handle)
{
  for (guint i = 0; i < m->events->len; i++)
    {
      SmmpEvent *e = g_ptr_array_index (m->events, i);

      if (e->type != SMMP_EVENT_SESSION_FAILED || e->code != code)
        continue;
      for (guint k = 0; k < e->handles->len; k++)
        if (strcmp (g_ptr_array_index (e->handles, k), handle) == 0)
          return TRUE;
    }
  return FALSE;
}

static void
check_agreement (guint n)
{
  g_autoptr (GHashTable) indices = g_hash_table_new (NULL, NULL);
  SimRoom *room = run_honest (n, 1000 + n);
  g_autofree char *code0 = NULL;

  g_assert_true (sim_room_converged (room));
  g_assert_cmpuint (sim_room_count_up (room), ==, n);
  g_assert_cmpuint (sim_room_count_failed (room), ==, 0);
  /* invite, answer, roster, auth, key, confirm: six causal rounds */
  g_assert_cmpuint (sim_room_max_depth (room), ==, 6);
  /* MK is erased by every member as soon as the initial state is made. */
  g_assert_cmpuint (smmp_ka_master_keys_alive (), ==, 0);

  code0 = smmp_group_state_get_verification_code (sim_room_member (room, 0)->state);
  g_assert_cmpuint (strlen (code0), ==, 35);
  for (guint i = 0; i < n; i++)
    {
      SimMember *m = sim_room_member (room, i);
      guint self = smmp_group_state_get_self (m->state);
      g_autofree char *code = smmp_group_state_get_verification_code (m->state);

      g_assert_cmpuint (smmp_group_state_get_size (m->state), ==, n);
      g_assert_cmpstr (smmp_group_state_get_handle (m->state, self), ==, m->handle);
      g_assert_cmpmem (smmp_group_state_get_identity_key (m->state, self), 32,
                       smmp_identity_get_public (m->identity), 32);
      g_assert_cmpstr (code, ==, code0);
      g_assert_false (g_hash_table_contains (indices, GUINT_TO_POINTER (self + 1)));
      g_hash_table_add (indices, GUINT_TO_POINTER (self + 1));
      g_assert_true (member_has_event (m, SMMP_EVENT_SESSION_UP, 0));
      g_assert_false (member_has_event (m, SMMP_EVENT_FRAME_REJECTED, 0));
      /* indices follow the sorted identity keys */
      if (self > 0)
        g_assert_cmpint (memcmp (smmp_group_state_get_identity_key (m->state, self - 1),
                                 smmp_group_state_get_identity_key (m->state, self), 32), <, 0);
    }
  sim_room_free (room);
}

static void test_n2 (void) { check_agreement (2); }
static void test_n3 (void) { check_agreement (3); }
static void test_n5 (void) { check_agreement (5); }
static void test_n20 (void) { check_agreement (20); }
static void test_n50 (void) { check_agreement (50); }

static void
test_fresh_keys_each_session (void)
{
  SimRoom *a = run_honest (3, 7);
  SimRoom *b = run_honest (3, 7); /* same schedule seed, new key material */
  guint8 da[SMMP_HASH_BYTES], db[SMMP_HASH_BYTES];

  g_assert_true (sim_room_converged (a) && sim_room_converged (b));
  smmp_group_state_shared_digest (sim_room_member (a, 0)->state, da);
  smmp_group_state_shared_digest (sim_room_member (b, 0)->state, db);
  g_assert_cmpint (memcmp (da, db, sizeof da), !=, 0);
  g_assert_cmpint (memcmp (smmp_group_state_get_sid (sim_room_member (a, 0)->state),
                           smmp_group_state_get_sid (sim_room_member (b, 0)->state),
                           SMMP_SID_BYTES), !=, 0);
  sim_room_free (a);
  sim_room_free (b);
}

static void
test_many_schedules (void)
{
  for (guint64 seed = 1; seed <= 40; seed++)
    {
      guint n = 2 + (guint) (seed % 7);
      SimRoom *room = run_honest (n, seed);

      g_assert_true (sim_room_converged (room));
      sim_room_free (room);
    }
}

/* ---- attacks ---------------------------------------------------------- */

static SimRoom *
attacked (SimAttack attack, guint n, guint target)
{
  SimRoom *room = sim_room_new (n, 4242 + attack);

  sim_attack_run (room, attack, target);
  if (sim_attack_must_fail (attack))
    {
      /* No honest member accepts; every honest member that took part refuses. */
      g_assert_cmpuint (sim_room_count_up (room), ==, 0);
      g_assert_cmpuint (sim_room_count_failed (room), >, 0);
    }
  g_assert_cmpuint (smmp_ka_master_keys_alive (), ==, 0);
  return room;
}

static void
test_attack_equivocation (void)
{
  /* An insider signs two different K and the room shows each to half the
   * members: only key confirmation can tell. */
  SimRoom *room = attacked (SIM_ATTACK_EQUIVOCATE, 5, 3);

  g_assert_cmpuint (sim_room_count_failed (room), ==, 4);
  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_SESSION_FAILED,
                                           SMMP_ERROR_CONFIRM_FAILED), >, 0);
  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_SESSION_FAILED,
                                           SMMP_ERROR_BAD_ELEMENT), ==, 0);
  sim_room_free (room);
}

static void
test_attack_mitm (void)
{
  /* The room replaces member 2's signing key and H with its own. */
  SimRoom *room = attacked (SIM_ATTACK_MITM, 4, 2);
  SimMember *victim = sim_room_member (room, 2);

  g_assert_cmpuint (sim_room_count_failed (room), ==, 4);
  for (guint i = 0; i < 4; i++)
    if (i != 2)
      g_assert_true (event_blames (sim_room_member (room, i), SMMP_ERROR_AUTH_FAILED,
                                   victim->handle));
  /* The victim sees that the roster does not carry its own keys. */
  g_assert_true (member_has_event (victim, SMMP_EVENT_SESSION_FAILED, SMMP_ERROR_REPLAYED));
  sim_room_free (room);
}

static void
test_attack_substituted_h_keeps_old_signature (void)
{
  SimRoom *room = attacked (SIM_ATTACK_STALE_SIG, 3, 1);

  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED,
                                           SMMP_ERROR_FORGED), >=, 2);
  g_assert_true (event_blames (sim_room_member (room, 0), SMMP_ERROR_TIMEOUT,
                               sim_room_member (room, 1)->handle));
  sim_room_free (room);
}

static void
test_attack_replayed_session (void)
{
  SimRoom *room = attacked (SIM_ATTACK_REPLAY, 4, 1);

  /* Everyone but the old initiator answered the replayed invitation with a
   * fresh ratchet key, then refused the old roster. */
  g_assert_cmpuint (sim_room_count_failed (room), ==, 3);
  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_SESSION_FAILED,
                                           SMMP_ERROR_REPLAYED), ==, 3);
  sim_room_free (room);
}

static void
test_attack_wrong_identity_key (void)
{
  /* An insider answers with another person's identity key: it cannot
   * compute ECDH(b, R_i), so its MACs fail. */
  SimRoom *room = attacked (SIM_ATTACK_IMPERSONATE, 4, 2);
  const char *mallory = sim_room_member (room, 2)->handle;

  g_assert_cmpuint (sim_room_count_failed (room), ==, 3);
  for (guint i = 0; i < 4; i++)
    if (i != 2)
      g_assert_true (event_blames (sim_room_member (room, i), SMMP_ERROR_AUTH_FAILED, mallory));
  sim_room_free (room);
}

static void
test_attack_bad_h (void)
{
  SimRoom *room = attacked (SIM_ATTACK_BAD_H, 3, 1);
  const char *mallory = sim_room_member (room, 1)->handle;

  g_assert_true (event_blames (sim_room_member (room, 0), SMMP_ERROR_BAD_ELEMENT, mallory));
  g_assert_true (event_blames (sim_room_member (room, 2), SMMP_ERROR_BAD_ELEMENT, mallory));
  sim_room_free (room);
}

static void
test_attack_bad_k (void)
{
  for (guint n = 2; n <= 3; n++)
    {
      SimRoom *room = attacked (SIM_ATTACK_BAD_K, n, 1);

      g_assert_true (event_blames (sim_room_member (room, 0), SMMP_ERROR_BAD_ELEMENT,
                                   sim_room_member (room, 1)->handle));
      sim_room_free (room);
    }
}

static void
test_junk_frames_are_harmless (void)
{
  SimRoom *room = sim_room_new (4, 99);

  sim_attack_run (room, SIM_ATTACK_JUNK, 1);
  g_assert_true (sim_room_converged (room));
  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED,
                                           SMMP_ERROR_MALFORMED), >, 0);
  g_assert_cmpuint (sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED,
                                           SMMP_ERROR_TOO_LARGE), >, 0);
  sim_room_free (room);
}

/* ---- a replayed answer from an earlier session ------------------------ */

typedef struct {
  guint victim;
  GBytes *old_answer;
  gboolean rewrite_sid;
} ReplayAnswer;

static void
replay_answer_hook (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  ReplayAnswer *r = data;
  const guint8 *bytes = g_bytes_get_data (frame, NULL);

  if (sender == r->victim && bytes[1] == SMMP_FRAME_ANSWER)
    {
      gsize len = 0;
      guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (r->old_answer), &len);
      GBytes *replayed;

      if (r->rewrite_sid)
        memcpy (copy + 2, bytes + 2, SMMP_SID_BYTES);
      replayed = g_bytes_new_take (copy, len);
      sim_room_append (room, sender, replayed, NULL);
      g_bytes_unref (replayed);
      return;
    }
  sim_room_append (room, sender, frame, NULL);
}

static void
check_replayed_answer (gboolean rewrite_sid, SmmpErrorCode expected)
{
  SimRoom *room = run_honest (4, 5);
  g_autoptr (GArray) senders = NULL;
  g_autoptr (GPtrArray) old = NULL;
  ReplayAnswer r = { .victim = 3, .rewrite_sid = rewrite_sid };
  SimMember *initiator, *victim;

  g_assert_true (sim_room_converged (room));
  old = sim_room_reset (room, &senders);
  for (guint i = 0; i < old->len; i++)
    {
      GBytes *f = g_ptr_array_index (old, i);

      if (g_array_index (senders, guint, i) == r.victim
          && ((const guint8 *) g_bytes_get_data (f, NULL))[1] == SMMP_FRAME_ANSWER)
        r.old_answer = f;
    }
  g_assert_nonnull (r.old_answer);

  sim_room_set_post_hook (room, replay_answer_hook, &r);
  g_assert_true (sim_room_start_ka (room, 0, NULL));
  sim_room_run (room);

  initiator = sim_room_member (room, 0);
  victim = sim_room_member (room, r.victim);
  g_assert_true (member_has_event (initiator, SMMP_EVENT_FRAME_REJECTED, expected));
  /* The initiator went on without the silent member, named as outside. */
  for (guint i = 0; i < initiator->events->len; i++)
    {
      SmmpEvent *e = g_ptr_array_index (initiator->events, i);

      if (e->type == SMMP_EVENT_ROSTER_FIXED)
        {
          g_assert_cmpuint (e->handles->len, ==, 3);
          g_assert_cmpuint (e->outsiders->len, ==, 1);
          g_assert_cmpstr (g_ptr_array_index (e->outsiders, 0), ==, victim->handle);
        }
    }
  g_assert_null (victim->state);
  g_assert_true (member_has_event (victim, SMMP_EVENT_SESSION_FAILED, SMMP_ERROR_NOT_INVITED));
  for (guint i = 0; i < 3; i++)
    g_assert_nonnull (sim_room_member (room, i)->state);
  sim_room_free (room);
}

static void test_replayed_answer (void) { check_replayed_answer (FALSE, SMMP_ERROR_NOT_FOR_SESSION); }
static void test_replayed_answer_new_sid (void) { check_replayed_answer (TRUE, SMMP_ERROR_FORGED); }


/* ---- frames only the inviter may send, keys that cannot be used ------- */

static void
repost_roster_as_2 (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  /* Another occupant copies the genuine roster and posts it first. */
  if (sender == 0 && ((const guint8 *) g_bytes_get_data (frame, NULL))[1] == SMMP_FRAME_ROSTER)
    sim_room_append (room, 2, frame, NULL);
  sim_room_append (room, sender, frame, NULL);
}

static void
test_roster_only_from_inviter (void)
{
  SimRoom *room = sim_room_new (3, 21);

  sim_room_set_post_hook (room, repost_roster_as_2, NULL);
  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  g_assert_true (sim_room_converged (room));
  g_assert_true (member_has_event (sim_room_member (room, 1), SMMP_EVENT_FRAME_REJECTED,
                                   SMMP_ERROR_FORGED));
  sim_room_free (room);
}

static void
roster_with_member_as_outsider (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  g_autoptr (SmmpFrame) f = smmp_frame_decode_bytes (frame, NULL);

  if (sender == 0 && f != NULL && f->type == SMMP_FRAME_ROSTER)
    {
      const char *outsiders[] = { f->entries[0].handle };
      GBytes *bad = smmp_frame_encode_roster (f->sid, f->sender, f->entries, f->n_entries,
                                              outsiders, 1,
                                              smmp_ka_testing_sign_secret (sim_room_member (room, 0)->ka));
      sim_room_append (room, sender, bad, NULL);
      g_bytes_unref (bad);
      return;
    }
  sim_room_append (room, sender, frame, NULL);
}

static void
test_roster_outsiders_checked (void)
{
  SimRoom *room = sim_room_new (3, 22);

  sim_room_member (room, 0)->attacker = TRUE; /* the initiator lies */
  sim_room_set_post_hook (room, roster_with_member_as_outsider, NULL);
  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  g_assert_cmpuint (sim_room_count_up (room), ==, 0);
  g_assert_true (member_has_event (sim_room_member (room, 1), SMMP_EVENT_SESSION_FAILED,
                                   SMMP_ERROR_NOT_INVITED));
  g_assert_true (member_has_event (sim_room_member (room, 2), SMMP_EVENT_SESSION_FAILED,
                                   SMMP_ERROR_NOT_INVITED));
  sim_room_free (room);
}

static void
low_order_answer_of_2 (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  g_autoptr (SmmpFrame) f = smmp_frame_decode_bytes (frame, NULL);

  if (sender == 2 && f != NULL && f->type == SMMP_FRAME_ANSWER)
    {
      static const guint8 zero_point[32] = { 0 };
      GBytes *bad = smmp_frame_encode_answer (f->sid, f->identity_key, zero_point,
                                              f->signing_key,
                                              smmp_ka_testing_sign_secret (sim_room_member (room, 2)->ka));
      sim_room_append (room, sender, bad, NULL);
      g_bytes_unref (bad);
      return;
    }
  sim_room_append (room, sender, frame, NULL);
}

static void
test_low_order_answer_dropped (void)
{
  SimRoom *room = sim_room_new (4, 23);

  sim_room_member (room, 2)->attacker = TRUE;
  sim_room_set_post_hook (room, low_order_answer_of_2, NULL);
  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  g_assert_true (member_has_event (sim_room_member (room, 0), SMMP_EVENT_FRAME_REJECTED,
                                   SMMP_ERROR_BAD_ELEMENT));
  /* The others go on without it. */
  g_assert_true (sim_room_converged (room));
  g_assert_cmpuint (smmp_group_state_get_size (sim_room_member (room, 0)->state), ==, 3);
  sim_room_free (room);
}

/* ---- set-up and time-outs --------------------------------------------- */

static void
drop_answers_of_1 (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  if (sender == 1 && ((const guint8 *) g_bytes_get_data (frame, NULL))[1] == SMMP_FRAME_ANSWER)
    return;
  sim_room_append (room, sender, frame, NULL);
}

static void
test_silent_invitee_is_named_outside (void)
{
  SimRoom *room = sim_room_new (4, 3);
  SimMember *silent = sim_room_member (room, 1);

  sim_room_set_post_hook (room, drop_answers_of_1, NULL);
  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  for (guint i = 0; i < 4; i++)
    if (i != 1)
      g_assert_nonnull (sim_room_member (room, i)->state);
  g_assert_cmpuint (smmp_group_state_get_size (sim_room_member (room, 0)->state), ==, 3);
  g_assert_true (member_has_event (silent, SMMP_EVENT_SESSION_FAILED, SMMP_ERROR_NOT_INVITED));
  sim_room_free (room);
}

static void
drop_auth_of_2 (SimRoom *room, guint sender, GBytes *frame, gpointer data)
{
  if (sender == 2 && ((const guint8 *) g_bytes_get_data (frame, NULL))[1] == SMMP_FRAME_AUTH)
    return;
  sim_room_append (room, sender, frame, NULL);
}

static void
test_silent_member_times_out (void)
{
  SimRoom *room = sim_room_new (3, 3);

  sim_room_set_post_hook (room, drop_auth_of_2, NULL);
  sim_room_start_ka (room, 0, NULL);
  sim_room_run (room);
  g_assert_cmpuint (sim_room_count_up (room), ==, 0);
  g_assert_true (event_blames (sim_room_member (room, 0), SMMP_ERROR_TIMEOUT,
                               sim_room_member (room, 2)->handle));
  g_assert_true (event_blames (sim_room_member (room, 1), SMMP_ERROR_TIMEOUT,
                               sim_room_member (room, 2)->handle));
  sim_room_free (room);
}

static void
test_nobody_answers (void)
{
  SmmpIdentity *id = smmp_identity_generate ();
  const char *invited[] = { "bob" };
  g_autoptr (SmmpKeyAgreement) ka = smmp_ka_initiate (id, "alice", invited, 1, NULL);
  g_autoptr (SmmpEvent) event = NULL;
  g_autoptr (GBytes) invite = NULL;

  g_assert_nonnull (ka);
  invite = smmp_ka_pop_frame (ka);
  g_assert_nonnull (invite);
  g_assert_null (smmp_ka_pop_frame (ka));
  smmp_ka_expire (ka);
  g_assert_cmpint (smmp_ka_get_phase (ka), ==, SMMP_KA_FAILED);
  event = smmp_ka_pop_event (ka);
  g_assert_cmpint (event->type, ==, SMMP_EVENT_SESSION_FAILED);
  g_assert_cmpint (event->code, ==, SMMP_ERROR_TIMEOUT);
  g_assert_cmpuint (event->handles->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (event->handles, 0), ==, "bob");
  /* No roster, no signing of an abort: nothing more to send. */
  g_assert_null (smmp_ka_pop_frame (ka));
  smmp_identity_free (id);
}

static void
test_bad_invitations (void)
{
  SmmpIdentity *id = smmp_identity_generate ();
  g_autoptr (GError) error = NULL;
  const char *dup[] = { "bob", "bob" };
  const char *self[] = { "alice" };
  const char *ctrl[] = { "bo\tb" };
  const char *bidi[] = { "bo\xe2\x80\xae" "b" }; /* U+202E RIGHT-TO-LEFT OVERRIDE */
  const char *ok[] = { "bob", "carol" };
  g_autofree char *long_handle = g_strnfill (256, 'x');
  const char *toolong[] = { long_handle };
  g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  SmmpKeyAgreement *ka;
  g_autoptr (GBytes) invite = NULL;

  g_assert_null (smmp_ka_initiate (id, "alice", NULL, 0, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (smmp_ka_initiate (id, "alice", dup, 2, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (smmp_ka_initiate (id, "alice", self, 1, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (smmp_ka_initiate (id, "alice", ctrl, 1, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (smmp_ka_initiate (id, "alice", bidi, 1, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (smmp_ka_initiate (id, "alice", toolong, 1, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);
  for (guint i = 0; i < SMMP_MAX_MEMBERS; i++)
    g_ptr_array_add (many, g_strdup_printf ("p%u", i));
  g_assert_null (smmp_ka_initiate (id, "alice", (const char *const *) many->pdata,
                                   many->len, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_INVALID);
  g_clear_error (&error);

  /* An invitation that does not name us, or is not an invitation. */
  ka = smmp_ka_initiate (id, "alice", ok, 2, NULL);
  invite = smmp_ka_pop_frame (ka);
  g_assert_null (smmp_ka_accept (id, "dave", "alice", invite, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_NOT_INVITED);
  g_clear_error (&error);
  g_assert_null (smmp_ka_accept (id, "bob", "mallory", invite, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_NOT_INVITED);
  g_clear_error (&error);
  {
    g_autoptr (GBytes) cut = g_bytes_new_from_bytes (invite, 0, 10);
    g_assert_null (smmp_ka_accept (id, "bob", "alice", cut, &error));
    g_assert_error (error, SMMP_ERROR, SMMP_ERROR_MALFORMED);
    g_clear_error (&error);
  }
  smmp_ka_free (ka);
  smmp_identity_free (id);
}

static void
test_late_frames_after_done_are_ignored (void)
{
  SimRoom *room = run_honest (2, 11);
  SimMember *m = sim_room_member (room, 1);
  g_autoptr (GBytes) junk = g_bytes_new_static ("\x01\x04", 2);

  g_assert_cmpint (smmp_ka_get_phase (m->ka), ==, SMMP_KA_DONE);
  g_assert_false (smmp_ka_receive (m->ka, "m000", junk));
  g_assert_null (smmp_ka_take_state (m->ka)); /* handed over once */
  sim_room_free (room);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (smmp_init (NULL));

  g_test_add_func ("/ka/agree/n2", test_n2);
  g_test_add_func ("/ka/agree/n3", test_n3);
  g_test_add_func ("/ka/agree/n5", test_n5);
  g_test_add_func ("/ka/agree/n20", test_n20);
  g_test_add_func ("/ka/agree/n50", test_n50);
  g_test_add_func ("/ka/agree/fresh-keys", test_fresh_keys_each_session);
  g_test_add_func ("/ka/agree/many-schedules", test_many_schedules);
  g_test_add_func ("/ka/attack/equivocation", test_attack_equivocation);
  g_test_add_func ("/ka/attack/mitm", test_attack_mitm);
  g_test_add_func ("/ka/attack/substituted-h-stale-signature",
                   test_attack_substituted_h_keeps_old_signature);
  g_test_add_func ("/ka/attack/replayed-session", test_attack_replayed_session);
  g_test_add_func ("/ka/attack/replayed-answer", test_replayed_answer);
  g_test_add_func ("/ka/attack/replayed-answer-new-sid", test_replayed_answer_new_sid);
  g_test_add_func ("/ka/attack/wrong-identity-key", test_attack_wrong_identity_key);
  g_test_add_func ("/ka/attack/bad-h", test_attack_bad_h);
  g_test_add_func ("/ka/attack/bad-k", test_attack_bad_k);
  g_test_add_func ("/ka/attack/junk-frames", test_junk_frames_are_harmless);
  g_test_add_func ("/ka/setup/roster-only-from-inviter", test_roster_only_from_inviter);
  g_test_add_func ("/ka/setup/roster-outsiders-checked", test_roster_outsiders_checked);
  g_test_add_func ("/ka/setup/low-order-answer", test_low_order_answer_dropped);
  g_test_add_func ("/ka/setup/silent-invitee", test_silent_invitee_is_named_outside);
  g_test_add_func ("/ka/setup/silent-member", test_silent_member_times_out);
  g_test_add_func ("/ka/setup/nobody-answers", test_nobody_answers);
  g_test_add_func ("/ka/setup/bad-invitations", test_bad_invitations);
  g_test_add_func ("/ka/setup/late-frames", test_late_frames_after_done_are_ignored);
  return g_test_run ();
}
