/* test-plugin-e2e.c: smmp.so inside libpurple, against a private Prosody on
 * loopback, three accounts in one process joining one room.  What each
 * account's conversation shows is captured through the conversation UI
 * operations, as Pidgin or Finch would draw it.
 *
 * Skipped when prosody is not installed.  SMMP_PLUGIN_DIR names the
 * directory holding smmp.so (set by meson).
 */
#include <string.h>
#include <stdlib.h>

#include <glib.h>

#include <plugin.h>
#include <prefs.h>

#include "e2e-common.h"

#define UI_ID "smmp-e2e"
#define WAIT_MS 20000

static E2eClient clients[] = { { .nick = "alice" }, { .nick = "bob" }, { .nick = "carol" } };
#define N_CLIENTS G_N_ELEMENTS (clients)

static const char *const everyone[] = { "alice", "bob", "carol", NULL };
static gboolean have_prosody;

static gboolean
everyone_in_room (gpointer data)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    if (!e2e_room_shows (&clients[i], everyone))
      return FALSE;
  return TRUE;
}

static gboolean
all_signed_on (gpointer data)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    if (!clients[i].signed_on)
      return FALSE;
  return TRUE;
}

static void
expect (E2eClient *c, const char *who, const char *text, guint flags_set)
{
  if (!e2e_wait_line (c, who, text, flags_set, WAIT_MS))
    {
      for (guint i = 0; i < c->lines->len; i++)
        g_test_message ("%s saw: %s", c->nick, (char *) g_ptr_array_index (c->lines, i));
      g_error ("%s never saw %s: \"%s\"", c->nick, who != NULL ? who : "anyone", text);
    }
}

static void
assert_no_armour_shown (void)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    g_assert_cmpuint (e2e_count_lines (&clients[i], NULL, "?SMMP1:", 0), ==, 0);
}

static void
command (E2eClient *c, const char *line)
{
  g_assert_cmpint (e2e_command (c, line), ==, PURPLE_CMD_STATUS_OK);
}

/* ---- the tests ---------------------------------------------------------------- */

static void
test_plugin_loads (void)
{
  PurplePlugin *plugin;

  if (!have_prosody)
    {
      g_test_skip ("prosody is not installed");
      return;
    }
  plugin = purple_plugins_find_with_id ("core-smmp");
  g_assert_nonnull (plugin);
  g_assert_true (purple_plugin_load (plugin));
  g_assert_true (purple_plugin_is_loaded (plugin));
  purple_prefs_set_int ("/plugins/core/smmp/timeout_ms", 4000);
}

static void
test_join (void)
{
  if (!have_prosody)
    {
      g_test_skip ("prosody is not installed");
      return;
    }
  for (guint i = 0; i < N_CLIENTS; i++)
    e2e_create_account (&clients[i]);
  g_assert_true (e2e_wait_for (all_signed_on, NULL, WAIT_MS));
  for (guint i = 0; i < N_CLIENTS; i++)
    e2e_join (&clients[i]);
  g_assert_true (e2e_wait_for (everyone_in_room, NULL, WAIT_MS));
}

static void
test_start_and_talk (void)
{
  if (!have_prosody)
    {
      g_test_skip ("prosody is not installed");
      return;
    }
  command (&clients[0], "smmp start");
  for (guint i = 0; i < N_CLIENTS; i++)
    expect (&clients[i], NULL, "encrypted session up with", PURPLE_MESSAGE_SYSTEM);
  e2e_say (&clients[0], "hello <world> & co");
  /* Shown HTML-escaped, as a message from alice, at everyone's. */
  for (guint i = 0; i < N_CLIENTS; i++)
    expect (&clients[i], "alice", "hello &lt;world&gt; &amp; co",
            i == 0 ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV);
  e2e_say (&clients[1], "from bob");
  e2e_say (&clients[2], "from carol");
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      expect (&clients[i], "bob", "from bob", 0);
      expect (&clients[i], "carol", "from carol", 0);
    }
  /* Decrypted lines are not logged by default. */
  g_assert_cmpuint (e2e_count_lines (&clients[1], "alice", "hello", PURPLE_MESSAGE_NO_LOG), ==, 1);
  assert_no_armour_shown ();
}

static void
test_server_sees_no_text (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (GDir) d = NULL;
  const char *name;
  guint files = 0;

  if (!have_prosody)
    {
      g_test_skip ("prosody is not installed");
      return;
    }
  dir = e2e_muc_log_dir ();
  d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;

      g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
      g_assert_null (strstr (contents, "hello"));
      g_assert_null (strstr (contents, "from bob"));
      if (strstr (contents, "?SMMP1:") != NULL)
        files++;
    }
  g_assert_cmpuint (files, >, 0);
}

static void
test_plaintext_marked (void)
{
  if (!have_prosody)
    {
      g_test_skip ("prosody is not installed");
      return;
    }
  command (&clients[2], "smmp end");
  expect (&clients[2], NULL, "sent IN CLEAR", PURPLE_MESSAGE_SYSTEM);
  e2e_say (&clients[2], "plain words");
  expect (&clients[0], "carol", "[not encrypted] plain words", PURPLE_MESSAGE_RECV);
  /* Carol, without a session, sees her own line as it is. */
  expect (&clients[2], "carol", "plain words", 0);
  g_assert_cmpuint (e2e_count_lines (&clients[2], "carol", "[not encrypted]", 0), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autofree char *found = g_find_program_in_path ("prosody");
  int result;

  g_test_init (&argc, &argv, NULL);
  have_prosody = found != NULL;
  if (have_prosody)
    {
      g_autoptr (GError) error = NULL;

      g_assert_nonnull (g_getenv ("SMMP_PLUGIN_DIR"));
      g_assert_nonnull (e2e_init (clients, N_CLIENTS, "smmp-e2e-XXXXXX"));
      if (!e2e_start_prosody (&error))
        g_error ("%s", error->message);
      g_assert_true (e2e_start_libpurple (UI_ID, g_getenv ("SMMP_PLUGIN_DIR")));
    }
  g_test_add_func ("/plugin-e2e/plugin-loads", test_plugin_loads);
  g_test_add_func ("/plugin-e2e/join", test_join);
  g_test_add_func ("/plugin-e2e/start-and-talk", test_start_and_talk);
  g_test_add_func ("/plugin-e2e/server-sees-no-text", test_server_sees_no_text);
  g_test_add_func ("/plugin-e2e/plaintext-marked", test_plaintext_marked);
  result = g_test_run ();
  if (have_prosody)
    e2e_cleanup ();
  return result;
}
