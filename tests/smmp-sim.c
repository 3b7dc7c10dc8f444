/* smmp-sim: runs SMMP members in one process over a simulated room and
 * prints what happened.
 *
 *   smmp-sim --members N --seed S --json [--attack equivocate|mitm|replay|...]
 *   smmp-sim --members N --messages M --senders K --drop P --archive on|off
 *            --seed S --json
 *
 * The seed drives only the room's schedule; key material always comes from
 * libsodium.  Exit status 0 only when the run meets its invariant: without
 * an attack, every member derived the same confirmed state; under an attack
 * that must fail, at least one honest member refused and none accepted;
 * with messages, every member shows every message once in one order with
 * the archive on (nothing lost), and all end in one state either way.
 */
#include "sim-attacks.h"
#include "sim-room.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gint members = 3;
static gint64 seed = 1;
static gboolean json = FALSE;
static char *attack_name = NULL;
static gint messages = 0;
static gint senders = 1;
static gdouble drop = 0.0;
static char *archive_mode = NULL;
static gint restarts = 0;

static const GOptionEntry entries[] = {
  { "members", 'n', 0, G_OPTION_ARG_INT, &members, "Members in the room (2-128)", "N" },
  { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the room's schedule", "S" },
  { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
  { "messages", 'm', 0, G_OPTION_ARG_INT, &messages, "Messages to send after the key agreement", "M" },
  { "senders", 'k', 0, G_OPTION_ARG_INT, &senders, "Members sending concurrently", "K" },
  { "drop", 'p', 0, G_OPTION_ARG_DOUBLE, &drop, "Chance that a delivery of a message frame is lost", "P" },
  { "archive", 'a', 0, G_OPTION_ARG_STRING, &archive_mode, "on: catch up from the room's archive; off: resync", "on|off" },
  { "restarts", 'r', 0, G_OPTION_ARG_INT, &restarts, "Members restarting from their saved state mid-run", "R" },
  { "attack", 0, 0, G_OPTION_ARG_STRING, &attack_name,
    "key agreement: equivocate, mitm, replay, impersonate, bad-h, bad-k, stale-signature, "
    "junk; conversation: forge, replay (with --messages), tamper, outsider", "NAME" },
  G_OPTION_ENTRY_NULL
};

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("- simulated SMMP room");
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  SimAttack attack;
  SimRoom *room;
  gint64 cpu_total = 0, cpu_max = 0;
  guint64 bytes = 0, wire = 0, frames = 0;
  guint honest = 0, up, refused, catch_ups = 0, rekeys = 0, retries = 0, drops = 0;
  guint lost = 0, resyncs, restarted = 0, restart_failures = 0;
  gboolean ka_ok = FALSE, detected = FALSE, ok, archive, delivered_all, converged;
  g_autoptr (GPtrArray) submitted = g_ptr_array_new_with_free_func (g_free);

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "smmp-sim: %s\n", error->message);
      return 2;
    }
  if (members < 2 || members > SMMP_MAX_MEMBERS || !sim_attack_parse (attack_name, &attack)
      || (attack != SIM_ATTACK_NONE && members < 3) || messages < 0
      || senders < 1 || senders > members || drop < 0 || drop >= 1 || restarts < 0
      || (archive_mode != NULL && strcmp (archive_mode, "on") != 0
          && strcmp (archive_mode, "off") != 0)
      || (attack != SIM_ATTACK_NONE && !sim_attack_on_conversation (attack)
          && attack != SIM_ATTACK_REPLAY && messages > 0))
    {
      fprintf (stderr, "smmp-sim: --members must be 2 to %d (3 or more under an attack), "
                       "--senders 1 to N, --drop in [0, 1), --archive on or off, "
                       "--attack one of the listed names (key agreement only)\n",
               SMMP_MAX_MEMBERS);
      return 2;
    }
  /* With messages, "replay" is the room replaying message frames. */
  if (attack == SIM_ATTACK_REPLAY && messages > 0)
    attack = SIM_ATTACK_REPLAY_DATA;
  if (sim_attack_on_conversation (attack) && messages == 0)
    messages = 20;
  if (!smmp_init (&error))
    {
      fprintf (stderr, "smmp-sim: %s\n", error->message);
      return 2;
    }

  room = sim_room_new ((guint) members, (guint64) seed);
  if (attack == SIM_ATTACK_NONE)
    {
      sim_room_start_ka (room, 0, NULL);
      sim_room_run (room);
      ka_ok = sim_room_converged (room);
      sim_room_set_losses (room, drop, archive_mode == NULL || strcmp (archive_mode, "on") == 0);
      for (gint k = 0; k < messages; k++)
        {
          g_autofree char *line = g_strdup_printf ("message %d", k);
          guint who = (guint) (k % senders);

          sim_room_send (room, who, line);
          /* Restarts spread over the run, each of a member the seed picks. */
          for (gint r = 0; r < restarts; r++)
            if ((r + 1) * messages / (restarts + 1) == k
                && !sim_room_restart (room, (guint) g_rand_int_range (sim_room_rand (room), 0,
                                                                     members)))
              restart_failures++;
          g_ptr_array_add (submitted, g_strdup_printf ("%s: %s", sim_room_member (room, who)->handle,
                                                       line));
          sim_room_step (room, (guint) g_rand_int_range (sim_room_rand (room), 0, 2 * members));
        }
      sim_room_run (room);
    }
  else if (sim_attack_on_conversation (attack))
    detected = sim_attack_conversation (room, attack,
                                        1 + (guint) g_rand_int_range (sim_room_rand (room), 0,
                                                                      members - 1),
                                        (guint) messages, submitted);
  else
    /* The target is drawn by the schedule's seed: never the initiator. */
    sim_attack_run (room, attack,
                    1 + (guint) g_rand_int_range (sim_room_rand (room), 0, members - 1));

  for (guint i = 0; i < (guint) members; i++)
    {
      SimMember *m = sim_room_member (room, i);

      cpu_total += m->cpu_ns;
      cpu_max = MAX (cpu_max, m->cpu_ns);
      bytes += m->bytes_sent;
      wire += m->wire_bytes_sent;
      frames += m->frames_sent;
      honest += m->attacker ? 0 : 1;
      catch_ups += m->catch_ups;
      rekeys += m->rekeys;
      drops += m->drops;
      restarted += m->restarts;
      retries += smmp_session_get_retries (m->session);
      /* A message lost to a member: submitted, never shown to it. */
      if (!m->attacker)
        for (guint k = 0; k < submitted->len; k++)
          {
            gboolean shown = FALSE;

            for (guint d = 0; d < m->delivered->len && !shown; d++)
              shown = strcmp (g_ptr_array_index (m->delivered, d),
                              g_ptr_array_index (submitted, k)) == 0;
            lost += shown ? 0 : 1;
          }
    }
  archive = archive_mode == NULL || strcmp (archive_mode, "on") == 0;
  resyncs = sim_room_count_resyncs (room);
  up = sim_room_count_up (room);
  refused = sim_room_count_failed (room);
  converged = sim_room_converged (room);
  for (guint i = 0; i < (guint) members; i++)
    converged = converged && smmp_session_get_queued (sim_room_member (room, i)->session) == 0;
  /* SMMP_SIM_DEBUG=1: each member's final state on stderr, to see how a
   * run that did not converge ended. */
  if (g_getenv ("SMMP_SIM_DEBUG") != NULL)
    for (guint i = 0; i < (guint) members; i++)
      {
        SimMember *m = sim_room_member (room, i);
        const SmmpGroupState *st = smmp_session_get_state (m->session);
        SmmpKeyAgreement *ka = smmp_session_get_key_agreement (m->session);
        guint8 d[SMMP_HASH_BYTES] = { 0 };

        if (st != NULL)
          smmp_group_state_shared_digest (st, d);
        g_printerr ("member %u: sid %02x%02x gen %u epoch %u digest %02x%02x queued %u "
                    "ka-phase %d last-event %s\n", i,
                    st ? smmp_group_state_get_sid (st)[0] : 0,
                    st ? smmp_group_state_get_sid (st)[1] : 0,
                    st ? smmp_group_state_get_generation (st) : 0,
                    st ? smmp_group_state_get_epoch (st) : 0, d[0], d[1],
                    smmp_session_get_queued (m->session), ka ? (int) smmp_ka_get_phase (ka) : -1,
                    m->events->len
                    ? smmp_event_type_name (((SmmpEvent *) g_ptr_array_index (
                        m->events, m->events->len - 1))->type) : "none");
      }
  delivered_all = lost == 0 && sim_room_same_transcript (room)
                  && sim_room_member (room, 0)->delivered->len == submitted->len;
  if (attack != SIM_ATTACK_NONE)
    ka_ok = converged;
  if (sim_attack_on_conversation (attack))
    ok = detected && converged && delivered_all;
  else if (sim_attack_must_fail (attack))
    {
      detected = refused > 0 && up == 0;
      ok = detected;
    }
  else
    {
      ok = ka_ok && up == honest && converged && restart_failures == 0
           && (archive ? delivered_all : (drops == 0 || resyncs > 0 || rekeys > 0));
      /* Junk from the room must be refused frame by frame, harmlessly. */
      detected = ok && sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED, 0) > 0;
    }

  json_builder_begin_object (b);
#define MEMBER_INT(name, value) \
  json_builder_set_member_name (b, name); json_builder_add_int_value (b, (gint64) (value))
#define MEMBER_DOUBLE(name, value) \
  json_builder_set_member_name (b, name); json_builder_add_double_value (b, value)
#define MEMBER_BOOL(name, value) \
  json_builder_set_member_name (b, name); json_builder_add_boolean_value (b, value)
  MEMBER_INT ("members", members);
  MEMBER_INT ("seed", seed);
  json_builder_set_member_name (b, "attack");
  json_builder_add_string_value (b, sim_attack_name (attack));
  MEMBER_BOOL ("ka_ok", ka_ok);
  MEMBER_INT ("ka_rounds", sim_room_max_depth (room));
  MEMBER_DOUBLE ("ka_ms_per_member", cpu_total / 1e6 / members);
  MEMBER_DOUBLE ("ka_ms_max_member", cpu_max / 1e6);
  MEMBER_DOUBLE ("bytes_per_member", (double) bytes / members);
  MEMBER_DOUBLE ("wire_bytes_per_member", (double) wire / members);
  MEMBER_DOUBLE ("frames_per_member", (double) frames / members);
  MEMBER_INT ("honest_members", honest);
  MEMBER_INT ("accepted", up);
  MEMBER_INT ("refused", refused);
  MEMBER_INT ("messages_submitted", submitted->len);
  MEMBER_BOOL ("delivered_all", delivered_all);
  MEMBER_INT ("lost", lost);
  MEMBER_BOOL ("converged", converged);
  MEMBER_INT ("drops", drops);
  MEMBER_INT ("retries", retries);
  MEMBER_INT ("catchups", catch_ups);
  MEMBER_INT ("resyncs", resyncs);
  MEMBER_INT ("rekeys", rekeys);
  MEMBER_INT ("restarts", restarted);
  json_builder_set_member_name (b, "archive");
  json_builder_add_string_value (b, archive ? "on" : "off");
  MEMBER_INT ("frames_rejected",
              sim_room_count_events (room, SMMP_EVENT_FRAME_REJECTED, 0));
  if (attack != SIM_ATTACK_NONE)
    {
      MEMBER_BOOL ("attack_detected", detected);
    }
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, !json);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  sim_room_free (room);
  return ok ? 0 : 1;
}
