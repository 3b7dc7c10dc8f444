/* smmp-demo.c: the demo of tests/run-demo.  A private Prosody on loopback,
 * headless libpurple clients with smmp.so in one room: alice, bob and carol
 * start a session and talk at once, carol leaves (the others must re-key
 * without her), dave joins and is added with /smmp add dave, a few more
 * messages; then what each window showed and what the server stored.
 *
 * Every step is waited for with a deadline and reported as it went, failed
 * steps too; the exit status is 0 only if every step went as it should.
 * SMMP_PLUGIN_DIR overrides where smmp.so is looked for; SMMP_E2E_KEEP=1
 * keeps the temp dir, SMMP_E2E_VERBOSE=1 prints each window line as drawn.
 */
#include <string.h>
#include <stdlib.h>

#include <glib.h>

#include <plugin.h>
#include <prefs.h>
#include <util.h>

#include "e2e-common.h"

#define UI_ID "smmp-demo"
#define WAIT_MS 20000

static E2eClient clients[] = {
  { .nick = "alice" }, { .nick = "bob" }, { .nick = "carol" }, { .nick = "dave" },
};
#define N_CLIENTS G_N_ELEMENTS (clients)
static E2eClient *const alice = &clients[0], *const bob = &clients[1],
                        *const carol = &clients[2], *const dave = &clients[3];

/* Everything typed in clear, to look for in what the server stored. */
static GPtrArray *said;
static guint failures;

static void
step (gboolean ok, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
step (gboolean ok, const char *format, ...)
{
  va_list ap;
  g_autofree char *text = NULL;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_print ("%s %s\n", ok ? "  ok    " : "  FAILED", text);
  if (!ok)
    failures++;
}

static void
say (E2eClient *c, const char *text)
{
  g_ptr_array_add (said, g_strdup (text));
  e2e_say (c, text);
}

/* ---- conditions -------------------------------------------------------------- */

typedef struct {
  E2eClient **who;          /* NULL-terminated */
  const char *const *present;
} RoomCheck;

static gboolean
rooms_show (gpointer data)
{
  RoomCheck *r = data;

  for (E2eClient **c = r->who; *c != NULL; c++)
    if (!e2e_room_shows (*c, r->present))
      return FALSE;
  return TRUE;
}

typedef struct {
  E2eClient *client;
  const char *who;
  const char *text;
  guint flags;
  guint count;
} LineCheck;

static gboolean
lines_shown (gpointer data)
{
  LineCheck *l = data;

  return e2e_count_lines (l->client, l->who, l->text, l->flags) >= l->count;
}

/* Waits until @c has shown the notice of a session up @n times. */
static gboolean
sessions_up (E2eClient *c, guint n)
{
  LineCheck l = { c, NULL, "encrypted session up with", PURPLE_MESSAGE_SYSTEM, n };

  return e2e_wait_for (lines_shown, &l, WAIT_MS);
}

/* The last line @c showed holding @text, without markup. */
static char *
last_line (E2eClient *c, const char *text)
{
  for (guint i = c->lines->len; i-- > 0;)
    {
      const char *line = g_ptr_array_index (c->lines, i);
      const char *message = strchr (strchr (line, '|') + 1, '|') + 1;

      if (strstr (message, text) != NULL)
        return purple_markup_strip_html (message);
    }
  return g_strdup ("(nothing)");
}

static gboolean
sees (E2eClient *c, const char *who, const char *text)
{
  return e2e_wait_line (c, who, text, 0, WAIT_MS);
}

/* Each of @readers shows each of @texts (from @senders, index by index). */
static void
check_delivery (E2eClient **readers, E2eClient **senders, const char *const *texts)
{
  for (E2eClient **r = readers; *r != NULL; r++)
    {
      guint got = 0, n = 0;
      g_autoptr (GString) missing = g_string_new (NULL);

      for (guint i = 0; texts[i] != NULL; i++, n++)
        {
          g_autofree char *escaped = g_markup_escape_text (texts[i], -1);

          if (sees (*r, senders[i]->nick, escaped))
            got++;
          else
            g_string_append_printf (missing, " \"%s\"", texts[i]);
        }
      step (got == n, "%s shows %u of %u messages%s%s", (*r)->nick, got, n,
            missing->len > 0 ? "; missing:" : "", missing->str);
    }
}

/* ---- what was shown, what was stored ----------------------------------------- */

static void
print_view (E2eClient *c)
{
  g_print ("\n--- %s's window (%u lines)\n", c->nick, c->lines->len);
  for (guint i = 0; i < c->lines->len; i++)
    {
      const char *line = g_ptr_array_index (c->lines, i);
      g_auto (GStrv) parts = g_strsplit (line, "|", 3);
      guint flags = (guint) g_ascii_strtoull (parts[1], NULL, 16);
      g_autofree char *text = purple_markup_strip_html (parts[2]);
      g_auto (GStrv) rows = g_strsplit (text, "\n", -1);

      for (guint k = 0; rows[k] != NULL; k++)
        {
          if (k > 0)
            g_print ("      %s\n", rows[k]);
          else if (flags & (PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_ERROR))
            g_print ("  *** %s\n", rows[k]);
          else
            g_print ("  %s%s: %s\n", flags & PURPLE_MESSAGE_DELAYED ? "(history) " : "",
                     parts[0], rows[k]);
        }
    }
}

/* One stored message of Prosody's internal storage (Lua):
 *   item({ { "TEXT"; ["attr"] = {}; ["name"] = "body"; }; ...
 *          ["attr"] = { ["from"] = "room@.../NICK"; ... }; ... });
 * The body's text is the bare string just before its name. */
typedef struct {
  char *body;
  char *from;
} Stored;

static char *
lua_string (const char *line)
{
  const char *start = strchr (line, '"');
  const char *end = strrchr (line, '"');

  return start != NULL && end > start ? g_strndup (start + 1, (gsize) (end - start - 1))
                                      : g_strdup ("");
}

static void
print_stored_file (const char *name, const char *contents)
{
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  g_autofree char *last_string = NULL;
  Stored item = { NULL, NULL };
  guint bodies = 0, armoured = 0, clear = 0;

  g_print ("  %s (%zu bytes), one line per stored message:\n", name, strlen (contents));
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = g_strstrip (lines[i]);

      if (line[0] == '"')
        {
          g_free (last_string);
          last_string = lua_string (line);
        }
      else if (strcmp (line, "[\"name\"] = \"body\";") == 0 && last_string != NULL)
        {
          g_free (item.body);
          item.body = g_steal_pointer (&last_string);
        }
      else if (g_str_has_prefix (line, "[\"from\"] = "))
        {
          g_free (item.from);
          item.from = lua_string (line);
        }
      else if (g_str_has_prefix (line, "});"))
        {
          if (item.body != NULL)
            {
              const char *armour = strstr (item.body, "?SMMP1:");
              const char *nick = item.from != NULL ? strrchr (item.from, '/') : NULL;
              const char *shown = armour != NULL ? armour : item.body;

              bodies++;
              if (armour != NULL)
                armoured++;
              g_print ("    %-6s %.*s%s\n", nick != NULL ? nick + 1 : "?", 64, shown,
                       strlen (shown) > 64 ? "..." : "");
            }
          g_clear_pointer (&item.body, g_free);
          g_clear_pointer (&item.from, g_free);
        }
    }
  g_free (item.body);
  g_free (item.from);
  g_print ("    (each body reads \"[SMMP encrypted message: install the SMMP ... plugin ...] "
           "?SMMP1:...\"; shown from ?SMMP1: on)\n");
  for (guint i = 0; i < said->len; i++)
    if (strstr (contents, g_ptr_array_index (said, i)) != NULL)
      {
        g_print ("    IN CLEAR: \"%s\"\n", (char *) g_ptr_array_index (said, i));
        clear++;
      }
  step (bodies > 0 && armoured == bodies && clear == 0,
        "%s: %u message bodies, %u of them SMMP armour; %u of the %u texts typed found in "
        "clear anywhere in the file", name, bodies, armoured, clear, said->len);
}

/* The room's archive as Prosody wrote it, and whether any text typed in
 * clear is in it. */
static void
print_stored (void)
{
  g_autofree char *dir = e2e_muc_log_dir ();
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint files = 0;

  g_print ("\n--- what the server stored for the room (%s)\n", dir);
  if (d == NULL)
    {
      step (FALSE, "no room log at %s", dir);
      return;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;

      if (!g_file_get_contents (path, &contents, NULL, NULL))
        continue;
      files++;
      print_stored_file (name, contents);
    }
  if (files == 0)
    step (FALSE, "no room log in %s", dir);
}

/* ---- the demo ------------------------------------------------------------------ */

static gboolean
run (void)
{
  PurplePlugin *plugin = purple_plugins_find_with_id ("core-smmp");
  E2eClient *first3[] = { alice, bob, carol, NULL };
  const char *const present3[] = { "alice", "bob", "carol", NULL };
  E2eClient *two[] = { alice, bob, NULL };
  const char *const present_ab[] = { "alice", "bob", NULL };
  E2eClient *last3[] = { alice, bob, dave, NULL };
  const char *const present_abd[] = { "alice", "bob", "dave", NULL };
  RoomCheck r;

  step (plugin != NULL && purple_plugin_load (plugin), "plugin core-smmp (smmp.so) loaded");
  if (plugin == NULL || !purple_plugin_is_loaded (plugin))
    return FALSE;
  purple_prefs_set_int ("/plugins/core/smmp/timeout_ms", 4000);

  g_print ("\n== alice, bob and carol sign on and join %s\n", E2E_ROOM);
  for (guint i = 0; i < 3; i++)
    e2e_create_account (&clients[i]);
  for (guint i = 0; i < 3; i++)
    if (!e2e_wait_for (e2e_signed_on, &clients[i], WAIT_MS))
      {
        step (FALSE, "%s signed on", clients[i].nick);
        return FALSE;
      }
  for (guint i = 0; i < 3; i++)
    e2e_join (&clients[i]);
  r = (RoomCheck) { first3, present3 };
  step (e2e_wait_for (rooms_show, &r, WAIT_MS), "all three see alice, bob and carol in the room");
  if (failures > 0)
    return FALSE;

  g_print ("\n== alice: /smmp start\n");
  step (e2e_command (alice, "smmp start") == PURPLE_CMD_STATUS_OK, "the command ran");
  for (E2eClient **c = first3; *c != NULL; c++)
    {
      gboolean up = sessions_up (*c, 1);
      g_autofree char *line = last_line (*c, "encrypted session up with");

      step (up, "%s: %s", (*c)->nick, line);
    }
  if (failures > 0)
    return FALSE;

  g_print ("\n== all three talk at once\n");
  {
    E2eClient *senders[] = { alice, bob, carol, alice, bob, carol };
    const char *const texts[] = {
      "hi all", "<b>not bold</b> & fine", "morning!",
      "the plan is at noon", "agreed", "see you then", NULL,
    };

    for (guint i = 0; texts[i] != NULL; i++)
      say (senders[i], texts[i]);
    check_delivery (first3, senders, texts);
  }

  g_print ("\n== carol leaves the room; alice and bob must re-key without her\n");
  e2e_leave (carol);
  r = (RoomCheck) { two, present_ab };
  step (e2e_wait_for (rooms_show, &r, WAIT_MS), "alice and bob see carol gone");
  for (E2eClient **c = two; *c != NULL; c++)
    {
      gboolean up = sessions_up (*c, 2);
      g_autofree char *line = last_line (*c, "encrypted session up with");

      step (up && strstr (line, "carol") == NULL, "%s re-keyed without carol: %s", (*c)->nick,
            up ? line : "no new session shown");
    }
  {
    E2eClient *senders[] = { alice, bob, NULL };
    const char *const texts[] = { "carol has gone, just us now",
                                  "carol must not read this", NULL };

    for (guint i = 0; texts[i] != NULL; i++)
      say (senders[i], texts[i]);
    check_delivery (two, senders, texts);
    step (e2e_count_lines (carol, NULL, "must not read", 0) == 0,
          "carol's window shows nothing said after she left");
  }

  g_print ("\n== dave signs on and joins; alice: /smmp add dave\n");
  e2e_create_account (dave);
  if (!e2e_wait_for (e2e_signed_on, dave, WAIT_MS))
    {
      step (FALSE, "dave signed on");
      return FALSE;
    }
  e2e_join (dave);
  r = (RoomCheck) { last3, present_abd };
  step (e2e_wait_for (rooms_show, &r, WAIT_MS), "alice, bob and dave see each other in the room");
  {
    gboolean told = sees (alice, NULL, "dave joined and is not in the encrypted session");
    g_autofree char *line = last_line (alice, "dave joined");

    step (told, "alice is told: %s", line);
  }
  step (e2e_command (alice, "smmp add dave") == PURPLE_CMD_STATUS_OK, "the command ran");
  {
    guint want[] = { 3, 3, 1 };

    for (guint i = 0; last3[i] != NULL; i++)
      {
        gboolean up = sessions_up (last3[i], want[i]);
        g_autofree char *line = last_line (last3[i], "encrypted session up with");

        step (up && strstr (line, "dave") != NULL, "%s: %s", last3[i]->nick,
              up ? line : "no new session shown");
      }
  }

  g_print ("\n== alice, bob and dave talk at once\n");
  {
    E2eClient *senders[] = { alice, bob, dave, dave, NULL };
    const char *const texts[] = { "welcome dave", "hello dave",
                                  "thanks, glad to be here", "what did I miss?",
                                  NULL };

    for (guint i = 0; texts[i] != NULL; i++)
      say (senders[i], texts[i]);
    check_delivery (last3, senders, texts);
    step (e2e_count_lines (dave, NULL, "must not read", 0) == 0,
          "dave's window shows nothing said before he was added");
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  const char *plugin_dir = g_getenv ("SMMP_PLUGIN_DIR");
  g_autofree char *prosody = g_find_program_in_path ("prosody");
  g_autoptr (GError) error = NULL;
  const char *tmp;
  guint armour_shown = 0;

  if (plugin_dir == NULL)
    plugin_dir = SMMP_PLUGIN_BUILD_DIR;
  said = g_ptr_array_new_with_free_func (g_free);
  if (prosody == NULL)
    {
      g_printerr ("smmp-demo: prosody is not installed\n");
      return 2;
    }
  tmp = e2e_init (clients, N_CLIENTS, "smmp-demo-XXXXXX");
  if (tmp == NULL)
    {
      g_printerr ("smmp-demo: no temp dir\n");
      return 2;
    }
  g_print ("== a private Prosody in %s\n", tmp);
  if (!e2e_start_prosody (&error))
    {
      g_printerr ("smmp-demo: %s\n", error->message);
      e2e_cleanup ();
      return 2;
    }
  step (TRUE, "prosody pid %d listening on 127.0.0.1:%d", e2e_prosody_pid (), e2e_port ());
  if (!e2e_start_libpurple (UI_ID, plugin_dir))
    {
      g_printerr ("smmp-demo: libpurple would not start\n");
      e2e_cleanup ();
      return 2;
    }
  run ();

  g_print ("\n== what each member's window showed\n");
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      print_view (&clients[i]);
      armour_shown += e2e_count_lines (&clients[i], NULL, "?SMMP1:", 0);
    }
  g_print ("\n");
  step (armour_shown == 0, "no window showed armour (%u lines did)", armour_shown);
  print_stored ();

  g_print ("\n== stopping prosody (pid %d)\n", e2e_prosody_pid ());
  e2e_cleanup ();
  g_print ("%s\n", failures == 0 ? "demo: every step went as it should"
                                 : "demo: SOME STEPS FAILED (marked FAILED above)");
  if (failures > 0)
    g_print ("demo: %u step(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
