/* e2e-common.c: a private Prosody on loopback and headless libpurple
 * clients in one process (see e2e-common.h). */
#include "e2e-common.h"

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

#include <glib/gstdio.h>

#include <connection.h>
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

static E2eClient *clients;
static guint n_clients;
static char *tmpdir;
static GPid prosody_pid;
static int port;
static gboolean purple_started;
static PurpleSavedStatus *available;

const char *
e2e_init (E2eClient *c, guint n, const char *tmp_template)
{
  clients = c;
  n_clients = n;
  for (guint i = 0; i < n; i++)
    clients[i].lines = g_ptr_array_new_with_free_func (g_free);
  signal (SIGPIPE, SIG_IGN);
  tmpdir = g_dir_make_tmp (tmp_template, NULL);
  if (tmpdir != NULL)
    g_setenv ("XDG_RUNTIME_DIR", tmpdir, TRUE);
  return tmpdir;
}

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

static E2eClient *
client_of (PurpleAccount *account)
{
  for (guint i = 0; i < n_clients; i++)
    if (clients[i].account == account)
      return &clients[i];
  return NULL;
}

static void
write_conv (PurpleConversation *conv, const char *who, const char *alias, const char *message,
            PurpleMessageFlags flags, time_t mtime)
{
  E2eClient *c = client_of (purple_conversation_get_account (conv));
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
 * questions nobody is there to answer). */
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

gboolean
e2e_wait_for (E2eCondition cond, gpointer data, guint ms)
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
  int p = -1;

  if (fd < 0)
    return -1;
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0
      && getsockname (fd, (struct sockaddr *) &addr, &len) == 0)
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

/* Prosody dies with this process, whatever ends it. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

gboolean
e2e_start_prosody (GError **error)
{
  g_autofree char *cfg = g_build_filename (tmpdir, "prosody.cfg.lua", NULL);
  g_autofree char *accounts = g_build_filename (tmpdir, "data", "localhost", "accounts", NULL);
  g_autofree char *certs = g_build_filename (tmpdir, "certs", NULL);
  g_autofree char *port_s = NULL;
  gboolean ok;
  char **env;
  const char *argv[] = { "prosody", "--config", cfg, "-F", NULL };

  if (!g_file_set_contents (cfg, prosody_config, -1, error))
    return FALSE;
  if (g_mkdir_with_parents (accounts, 0700) != 0 || g_mkdir_with_parents (certs, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "mkdir in %s: %s",
                   tmpdir, g_strerror (errno));
      return FALSE;
    }
  /* Accounts in Prosody's internal storage: faster than prosodyctl, which
   * refuses to work as root. */
  for (guint i = 0; i < n_clients; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/%s.dat", accounts, clients[i].nick);

      if (!g_file_set_contents (file, "return {\n\t[\"password\"] = \"pw\";\n};\n", -1, error))
        return FALSE;
    }
  port = free_port ();
  if (port <= 0)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "no free port on 127.0.0.1");
      return FALSE;
    }
  port_s = g_strdup_printf ("%d", port);
  env = g_get_environ ();
  env = g_environ_setenv (env, "SMMP_DIR", tmpdir, TRUE);
  env = g_environ_setenv (env, "SMMP_PORT", port_s, TRUE);
  ok = g_spawn_async (NULL, (char **) argv, env,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                        | G_SPAWN_STDOUT_TO_DEV_NULL,
                      child_setup, NULL, &prosody_pid, error);
  g_strfreev (env);
  if (!ok)
    return FALSE;
  if (!e2e_wait_for (port_open, NULL, 10000))
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "prosody (pid %d) does not listen on 127.0.0.1:%d (see %s/prosody.log)",
                   (int) prosody_pid, port, tmpdir);
      e2e_stop_prosody ();
      return FALSE;
    }
  return TRUE;
}

void
e2e_stop_prosody (void)
{
  int status;

  if (prosody_pid <= 0)
    return;
  kill (prosody_pid, SIGTERM);
  waitpid (prosody_pid, &status, 0);
  g_spawn_close_pid (prosody_pid);
  prosody_pid = 0;
}

int
e2e_prosody_pid (void)
{
  return (int) prosody_pid;
}

int
e2e_port (void)
{
  return port;
}

char *
e2e_muc_log_dir (void)
{
  return g_build_filename (tmpdir, "data", "conference%2elocalhost", "muc_log", NULL);
}

/* ---- libpurple ------------------------------------------------------------------ */

static void
on_signed_on (PurpleConnection *gc, gpointer data)
{
  E2eClient *c = client_of (purple_connection_get_account (gc));

  if (c != NULL)
    c->signed_on = TRUE;
}

gboolean
e2e_signed_on (gpointer client)
{
  return ((E2eClient *) client)->signed_on;
}

gboolean
e2e_start_libpurple (const char *ui_id, const char *plugin_dir)
{
  g_autofree char *user_dir = g_build_filename (tmpdir, "purple", NULL);
  static int handle;

  if (g_mkdir_with_parents (user_dir, 0700) != 0)
    return FALSE;
  purple_util_set_user_dir (user_dir);
  purple_debug_set_enabled (g_getenv ("SMMP_E2E_DEBUG") != NULL);
  purple_plugins_add_search_path (plugin_dir);
  purple_eventloop_set_ui_ops (&loop_ops);
  purple_conversations_set_ui_ops (&conv_ops);
  purple_request_set_ui_ops (&request_ops);
  if (!purple_core_init (ui_id))
    return FALSE;
  purple_started = TRUE;
  purple_set_blist (purple_blist_new ());
  purple_blist_load ();
  purple_prefs_load ();
  purple_prefs_set_string ("/purple/network/stun_server", "127.0.0.1");
  purple_prefs_set_bool ("/purple/logging/log_chats", TRUE);
  purple_plugins_probe (G_MODULE_SUFFIX);
  purple_signal_connect (purple_connections_get_handle (), "signed-on", &handle,
                         PURPLE_CALLBACK (on_signed_on), NULL);
  return TRUE;
}

void
e2e_create_account (E2eClient *c)
{
  g_autofree char *jid = g_strdup_printf ("%s@localhost/e2e", c->nick);
  PurpleAccount *a = purple_account_new (jid, "prpl-jabber");

  c->account = a;
  purple_account_set_password (a, "pw");
  purple_account_set_string (a, "connect_server", "127.0.0.1");
  purple_account_set_int (a, "port", port);
  purple_account_set_string (a, "connection_security", "opportunistic_tls");
  purple_account_set_bool (a, "auth_plain_in_clear", TRUE);
  purple_accounts_add (a);
  purple_account_set_enabled (a, purple_core_get_ui (), TRUE);
  if (available == NULL)
    {
      available = purple_savedstatus_new (NULL, PURPLE_STATUS_AVAILABLE);
      purple_savedstatus_activate (available);
    }
  else
    purple_savedstatus_activate_for_account (available, a);
}

void
e2e_cleanup (void)
{
  if (purple_started)
    purple_core_quit ();
  purple_started = FALSE;
  e2e_stop_prosody ();
  if (tmpdir != NULL && g_getenv ("SMMP_E2E_KEEP") == NULL)
    {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);

      if (system (cmd) != 0)
        g_printerr ("could not remove %s\n", tmpdir);
    }
}

/* ---- the room ------------------------------------------------------------------- */

PurpleConversation *
e2e_conv_of (E2eClient *c)
{
  return purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, E2E_ROOM, c->account);
}

void
e2e_join (E2eClient *c)
{
  PurpleConnection *gc = purple_account_get_connection (c->account);
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  GHashTable *components = info->chat_info_defaults (gc, E2E_ROOM);

  g_hash_table_replace (components, "handle", g_strdup (c->nick));
  serv_join_chat (gc, components);
  g_hash_table_destroy (components);
}

void
e2e_leave (E2eClient *c)
{
  PurpleConversation *conv = e2e_conv_of (c);

  if (conv != NULL)
    serv_chat_leave (purple_account_get_connection (c->account),
                     purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)));
}

gboolean
e2e_room_shows (E2eClient *c, const char *const *present)
{
  PurpleConversation *conv = e2e_conv_of (c);
  PurpleConvChat *chat;

  if (conv == NULL)
    return FALSE;
  chat = PURPLE_CONV_CHAT (conv);
  if (purple_conv_chat_has_left (chat)
      || g_strcmp0 (purple_conv_chat_get_nick (chat), c->nick) != 0)
    return FALSE;
  for (guint k = 0; k < n_clients; k++)
    if (!purple_conv_chat_find_user (chat, clients[k].nick)
        != !g_strv_contains (present, clients[k].nick))
      return FALSE;
  return TRUE;
}

/* ---- looking at the screen ------------------------------------------------------ */

guint
e2e_count_lines (E2eClient *c, const char *who, const char *text, guint flags_set)
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

typedef struct {
  E2eClient *client;
  const char *who;
  const char *text;
  guint flags_set;
} Expect;

static gboolean
expected (gpointer data)
{
  Expect *e = data;

  return e2e_count_lines (e->client, e->who, e->text, e->flags_set) > 0;
}

gboolean
e2e_wait_line (E2eClient *c, const char *who, const char *text, guint flags_set, guint ms)
{
  Expect e = { c, who, text, flags_set };

  return e2e_wait_for (expected, &e, ms);
}

PurpleCmdStatus
e2e_command (E2eClient *c, const char *line)
{
  g_autofree char *error = NULL;
  g_autofree char *markup = g_markup_escape_text (line, -1);

  return purple_cmd_do_command (e2e_conv_of (c), line, markup, &error);
}

void
e2e_say (E2eClient *c, const char *text)
{
  g_autofree char *markup = g_markup_escape_text (text, -1);

  purple_conv_chat_send (PURPLE_CONV_CHAT (e2e_conv_of (c)), markup);
}
