/* test-plugin-e2e.c: smmp.so inside libpurple, against a private Prosody on
 * loopback, three accounts in one process joining one room.  What each
 * account's conversation shows is captured through the conversation UI
 * operations, as Pidgin or Finch would draw it.
 *
 * Skipped when prosody is not installed.  SMMP_PLUGIN_DIR names the
 * directory holding smmp.so (set by meson).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <account.h>
#include <cmds.h>
#include <connection.h>
#include <conversation.h>
#include <core.h>
#include <debug.h>
#include <eventloop.h>
#include <plugin.h>
#include <prefs.h>
#include <prpl.h>
#include <request.h>
#include <savedstatuses.h>
#include <server.h>
#include <util.h>

#define UI_ID "smmp-e2e"
#define ROOM "room@conference.localhost"
#define WAIT_MS 20000

static const char prosody_config[] =
  "run_as_root = true\n"
  "pidfile = ENV_SMMP_DIR .. \"/prosody.pid\"\n"
  "data_path = ENV_SMMP_DIR .. \"/data\"\n"
  "log = { { levels = { min = \"info\" }, to = \"file\", filename = ENV_SMMP_DIR .. "
  "\"/prosody.log\" } }\n"
  "interfaces = { \"127.0.0.1\" }\n"
  "c2s_ports = { tonumber(ENV_SMMP_PORT) }\n"
  "s2s_ports = { }\ncomponent_ports = { }\nc2s_direct_tls_ports = { }\n"
  "certificates = ENV_SMMP_DIR .. \"/certs\"\n"
  "modules_disabled = { \"s2s\" }\n"
  "c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\n"
  "authentication = \"internal_plain\"\nstorage = \"internal\"\n"
  "modules_enabled = { \"roster\", \"saslauth\", \"disco\", \"posix\", \"ping\", \"mam\" }\n"
  "VirtualHost \"localhost\"\n"
  "Component \"conference.localhost\" \"muc\"\n"
  "  modules_enabled = { \"muc_mam\" }\n"
  "  muc_room_locking = false\n  muc_room_default_persistent = true\n"
  "  muc_log_all_rooms = true\n  muc_log_by_default = true\n"
  "  restrict_room_creation = false\n  muc_room_default_public_jids = true\n";

typedef struct {
  const char *nick;
  PurpleAccount *account;
  GPtrArray *lines; /* of char*: "who|flags|message" as the UI was asked to draw */
  gboolean signed_on;
} Client;

static Client clients[] = { { .nick = "alice" }, { .nick = "bob" }, { .nick = "carol" } };
#define N_CLIENTS G_N_ELEMENTS (clients)

static char *tmpdir;
static GPid prosody_pid;
static int port;
static gboolean have_prosody;

/* ---- a GLib event loop for libpurple --------------------------------------- */

typedef struct {
  PurpleInputFunction function;
  gpointer data;
} IoClosure;

static gboolean
io_invoke (GIOChannel *source, GIOCondition condition, gpointer data)
{
  IoClosure *closure = data;
  PurpleInputCondition cond = 0;

  if (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    cond |= PURPLE_INPUT_READ;
  if (condition & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    cond |= PURPLE_INPUT_WRITE;
  closure->function (closure->data, g_io_channel_unix_get_fd (source), cond);
  return TRUE;
}

static guint
input_add (gint fd, PurpleInputCondition condition, PurpleInputFunction function, gpointer data)
{
  IoClosure *closure = g_new0 (IoClosure, 1);
  GIOChannel *channel = g_io_channel_unix_new (fd);
  GIOCondition cond = 0;
  guint id;

  closure->function = function;
  closure->data = data;
  if (condition & PURPLE_INPUT_READ)
    cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
  if (condition & PURPLE_INPUT_WRITE)
    cond |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
  id = g_io_add_watch_full (channel, G_PRIORITY_DEFAULT, cond, io_invoke, closure, g_free);
  g_io_channel_unref (channel);
  return id;
}

static PurpleEventLoopUiOps loop_ops = {
  .timeout_add = g_timeout_add,
  .timeout_remove = g_source_remove,
  .input_add = input_add,
  .input_remove = g_source_remove,
  .timeout_add_seconds = g_timeout_add_seconds,
};

/* ---- what the UI is asked to show ------------------------------------------- */

static Client *
client_of (PurpleAccount *account)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    if (clients[i].account == account)
      return &clients[i];
  return NULL;
}

static void
write_conv (PurpleConversation *conv, const char *who, const char *alias, const char *message,
            PurpleMessageFlags flags, time_t mtime)
{
  Client *c = client_of (purple_conversation_get_account (conv));
  char *line = g_strdup_printf ("%s|%x|%s", who != NULL ? who : "", flags, message);

  if (g_getenv ("SMMP_E2E_VERBOSE") != NULL)
    g_printerr ("[%s] %s\n", c != NULL ? c->nick : "?", line);
  if (c != NULL)
    g_ptr_array_add (c->lines, line);
  else
    g_free (line);
}

/* As Pidgin and Finch do: a chat line goes through the core, which logs it
 * unless told not to, and comes back through write_conv. */
static void
write_chat (PurpleConversation *conv, const char *who, const char *message,
            PurpleMessageFlags flags, time_t mtime)
{
  purple_conversation_write (conv, who, message, flags, mtime);
}

static PurpleConversationUiOps conv_ops = {
  .write_chat = write_chat,
  .write_conv = write_conv,
};

typedef struct {
  PurpleRequestActionCb cb;
  gpointer data;
  int action;
  void *handle;
} PendingAction;

static gboolean
run_action (gpointer data)
{
  PendingAction *p = data;

  if (p->cb != NULL)
    p->cb (p->data, p->action);
  purple_request_close (PURPLE_REQUEST_ACTION, p);
  return G_SOURCE_REMOVE;
}

/* Dialogs answer themselves with their default action (a new room's form,
 * questions a test cannot answer). */
static void *
request_action (const char *title, const char *primary, const char *secondary,
                int default_action, PurpleAccount *account, const char *who,
                PurpleConversation *conv, void *user_data, size_t action_count, va_list actions)
{
  PendingAction *p = g_new0 (PendingAction, 1);

  for (size_t i = 0; i < action_count; i++)
    {
      va_arg (actions, const char *);
      PurpleRequestActionCb cb = va_arg (actions, PurpleRequestActionCb);

      if ((int) i == default_action)
        p->cb = cb;
    }
  p->data = user_data;
  p->action = default_action;
  g_idle_add (run_action, p);
  return p;
}

static void
close_request (PurpleRequestType type, void *handle)
{
  g_free (handle);
}

static PurpleRequestUiOps request_ops = {
  .request_action = request_action,
  .close_request = close_request,
};

/* ---- waiting ----------------------------------------------------------------- */

typedef gboolean (*Condition) (gpointer data);

static gboolean
wait_for (Condition cond, gpointer data, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      if (!g_main_context_pending (NULL))
        g_usleep (2000);
    }
  return TRUE;
}

/* ---- Prosody ------------------------------------------------------------------ */

static int
free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  int p;

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  p = ntohs (addr.sin_port);
  close (fd);
  return p;
}

static gboolean
port_open (gpointer data)
{
  struct sockaddr_in addr = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  gboolean ok;

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = htons ((guint16) port);
  ok = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
  close (fd);
  if (!ok)
    g_usleep (20000);
  return ok;
}

/* Prosody dies with the test, whatever ends it. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
start_prosody (void)
{
  g_autofree char *cfg = g_build_filename (tmpdir, "prosody.cfg.lua", NULL);
  g_autofree char *accounts = g_build_filename (tmpdir, "data", "localhost", "accounts", NULL);
  g_autofree char *certs = g_build_filename (tmpdir, "certs", NULL);
  g_autofree char *port_s = NULL;
  g_autoptr (GError) error = NULL;
  char **env;
  const char *argv[] = { "prosody", "--config", cfg, "-F", NULL };

  g_assert_true (g_file_set_contents (cfg, prosody_config, -1, NULL));
  g_assert_cmpint (g_mkdir_with_parents (accounts, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (certs, 0700), ==, 0);
  /* Accounts in Prosody's internal storage: faster than prosodyctl, which
   * refuses to work as root. */
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/%s.dat", accounts, clients[i].nick);

      g_assert_true (g_file_set_contents (file, "return {\n\t[\"password\"] = \"pw\";\n};\n", -1,
                                          NULL));
    }
  port = free_port ();
  port_s = g_strdup_printf ("%d", port);
  env = g_get_environ ();
  env = g_environ_setenv (env, "SMMP_DIR", tmpdir, TRUE);
  env = g_environ_setenv (env, "SMMP_PORT", port_s, TRUE);
  g_assert_true (g_spawn_async (NULL, (char **) argv, env,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                                  | G_SPAWN_STDOUT_TO_DEV_NULL,
                                child_setup, NULL, &prosody_pid, &error));
  g_strfreev (env);
  g_assert_true (wait_for (port_open, NULL, 10000));
}

static void
stop_prosody (void)
{
  int status;

  if (prosody_pid <= 0)
    return;
  kill (prosody_pid, SIGTERM);
  waitpid (prosody_pid, &status, 0);
  g_spawn_close_pid (prosody_pid);
  prosody_pid = 0;
}

/* ---- libpurple ------------------------------------------------------------------ */

static void
on_signed_on (PurpleConnection *gc, gpointer data)
{
  Client *c = client_of (purple_connection_get_account (gc));

  if (c != NULL)
    c->signed_on = TRUE;
}

static gboolean
all_signed_on (gpointer data)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    if (!clients[i].signed_on)
      return FALSE;
  return TRUE;
}

static PurpleConversation *
conv_of (Client *c)
{
  return purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, ROOM, c->account);
}

static void
join (Client *c)
{
  PurpleConnection *gc = purple_account_get_connection (c->account);
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  GHashTable *components = info->chat_info_defaults (gc, ROOM);

  g_hash_table_replace (components, "handle", g_strdup (c->nick));
  serv_join_chat (gc, components);
  g_hash_table_destroy (components);
}

static gboolean
everyone_in_room (gpointer data)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      PurpleConversation *conv = conv_of (&clients[i]);

      if (conv == NULL || g_strcmp0 (purple_conv_chat_get_nick (PURPLE_CONV_CHAT (conv)),
                                     clients[i].nick) != 0)
        return FALSE;
      for (guint k = 0; k < N_CLIENTS; k++)
        if (!purple_conv_chat_find_user (PURPLE_CONV_CHAT (conv), clients[k].nick))
          return FALSE;
    }
  return TRUE;
}

static void
start_libpurple (void)
{
  g_autofree char *user_dir = g_build_filename (tmpdir, "purple", NULL);
  const char *plugin_dir = g_getenv ("SMMP_PLUGIN_DIR");
  static int handle;

  g_assert_nonnull (plugin_dir);
  g_assert_cmpint (g_mkdir_with_parents (user_dir, 0700), ==, 0);
  purple_util_set_user_dir (user_dir);
  purple_debug_set_enabled (g_getenv ("SMMP_E2E_DEBUG") != NULL);
  purple_plugins_add_search_path (plugin_dir);
  purple_eventloop_set_ui_ops (&loop_ops);
  purple_conversations_set_ui_ops (&conv_ops);
  purple_request_set_ui_ops (&request_ops);
  g_assert_true (purple_core_init (UI_ID));
  purple_set_blist (purple_blist_new ());
  purple_blist_load ();
  purple_prefs_load ();
  purple_prefs_set_string ("/purple/network/stun_server", "127.0.0.1");
  purple_prefs_set_bool ("/purple/logging/log_chats", TRUE);
  purple_plugins_probe (G_MODULE_SUFFIX);
  purple_signal_connect (purple_connections_get_handle (), "signed-on", &handle,
                         PURPLE_CALLBACK (on_signed_on), NULL);
}

static void
create_accounts (void)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *jid = g_strdup_printf ("%s@localhost/e2e", clients[i].nick);
      PurpleAccount *a = purple_account_new (jid, "prpl-jabber");

      clients[i].lines = g_ptr_array_new_with_free_func (g_free);
      clients[i].account = a;
      purple_account_set_password (a, "pw");
      purple_account_set_string (a, "connect_server", "127.0.0.1");
      purple_account_set_int (a, "port", port);
      purple_account_set_string (a, "connection_security", "opportunistic_tls");
      purple_account_set_bool (a, "auth_plain_in_clear", TRUE);
      purple_accounts_add (a);
      purple_account_set_enabled (a, UI_ID, TRUE);
    }
  purple_savedstatus_activate (purple_savedstatus_new (NULL, PURPLE_STATUS_AVAILABLE));
}

/* ---- looking at the screen ------------------------------------------------------ */

typedef struct {
  Client *client;
  const char *who;   /* NULL: any */
  const char *text;  /* a substring of the message */
  guint flags_set;   /* flags that must be present */
  guint count;       /* at least this many lines */
} Expect;

static guint
count_lines (Client *c, const char *who, const char *text, guint flags_set)
{
  guint n = 0;

  for (guint i = 0; i < c->lines->len; i++)
    {
      const char *line = g_ptr_array_index (c->lines, i);
      g_auto (GStrv) parts = g_strsplit (line, "|", 3);
      guint flags = (guint) g_ascii_strtoull (parts[1], NULL, 16);

      if ((who == NULL || strcmp (parts[0], who) == 0) && strstr (parts[2], text) != NULL
          && (flags & flags_set) == flags_set)
        n++;
    }
  return n;
}

static gboolean
expected (gpointer data)
{
  Expect *e = data;

  return count_lines (e->client, e->who, e->text, e->flags_set) >= (e->count ? e->count : 1);
}

static void
expect (Client *c, const char *who, const char *text, guint flags_set)
{
  Expect e = { c, who, text, flags_set, 1 };

  if (!wait_for (expected, &e, WAIT_MS))
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
    g_assert_cmpuint (count_lines (&clients[i], NULL, "?SMMP1:", 0), ==, 0);
}

static void
command (Client *c, const char *line)
{
  g_autofree char *error = NULL;
  g_autofree char *markup = g_markup_escape_text (line, -1);

  g_assert_cmpint (purple_cmd_do_command (conv_of (c), line, markup, &error), ==,
                   PURPLE_CMD_STATUS_OK);
}

static void
say (Client *c, const char *text)
{
  g_autofree char *markup = g_markup_escape_text (text, -1);

  purple_conv_chat_send (PURPLE_CONV_CHAT (conv_of (c)), markup);
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
  create_accounts ();
  g_assert_true (wait_for (all_signed_on, NULL, WAIT_MS));
  for (guint i = 0; i < N_CLIENTS; i++)
    join (&clients[i]);
  g_assert_true (wait_for (everyone_in_room, NULL, WAIT_MS));
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
  say (&clients[0], "hello <world> & co");
  /* Shown HTML-escaped, as a message from alice, at everyone's. */
  for (guint i = 0; i < N_CLIENTS; i++)
    expect (&clients[i], "alice", "hello &lt;world&gt; &amp; co",
            i == 0 ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV);
  say (&clients[1], "from bob");
  say (&clients[2], "from carol");
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      expect (&clients[i], "bob", "from bob", 0);
      expect (&clients[i], "carol", "from carol", 0);
    }
  /* Decrypted lines are not logged by default. */
  g_assert_cmpuint (count_lines (&clients[1], "alice", "hello", PURPLE_MESSAGE_NO_LOG), ==, 1);
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
  dir = g_build_filename (tmpdir, "data", "conference%2elocalhost", "muc_log", NULL);
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
  say (&clients[2], "plain words");
  expect (&clients[0], "carol", "[not encrypted] plain words", PURPLE_MESSAGE_RECV);
  /* Carol, without a session, sees her own line as it is. */
  expect (&clients[2], "carol", "plain words", 0);
  g_assert_cmpuint (count_lines (&clients[2], "carol", "[not encrypted]", 0), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autofree char *found = g_find_program_in_path ("prosody");
  int result;

  g_test_init (&argc, &argv, NULL);
  signal (SIGPIPE, SIG_IGN);
  have_prosody = found != NULL;
  if (have_prosody)
    {
      tmpdir = g_dir_make_tmp ("smmp-e2e-XXXXXX", NULL);
      g_assert_nonnull (tmpdir);
      g_setenv ("XDG_RUNTIME_DIR", tmpdir, TRUE);
      start_prosody ();
      start_libpurple ();
    }
  g_test_add_func ("/plugin-e2e/plugin-loads", test_plugin_loads);
  g_test_add_func ("/plugin-e2e/join", test_join);
  g_test_add_func ("/plugin-e2e/start-and-talk", test_start_and_talk);
  g_test_add_func ("/plugin-e2e/server-sees-no-text", test_server_sees_no_text);
  g_test_add_func ("/plugin-e2e/plaintext-marked", test_plaintext_marked);
  result = g_test_run ();
  if (have_prosody)
    {
      purple_core_quit ();
      stop_prosody ();
      if (g_getenv ("SMMP_E2E_KEEP") == NULL)
        {
          g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);

          if (system (cmd) != 0)
            g_printerr ("could not remove %s\n", tmpdir);
        }
    }
  return result;
}
