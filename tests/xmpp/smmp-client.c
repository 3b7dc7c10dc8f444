/* smmp-client: a headless libpurple client for integration tests.
 *
 *   smmp-client --dir DIR --port PORT --user alice --password pw \
 *       --plugin-dir DIR [--plugin core-smmp]...
 *
 * One XMPP account (USER@localhost) on 127.0.0.1:PORT, libpurple's user
 * dir in DIR (reuse DIR to restart a member with its saved state).
 * Commands, one per line on standard input:
 *
 *   join ROOM [NICK]   join ROOM (ROOM without '@' gets @conference.localhost)
 *                      and make it the current room
 *   room ROOM          make ROOM the current room
 *   say TEXT           type TEXT into the current room, as a person would:
 *                      "/cmd args" runs a libpurple command (the plugin's
 *                      /smmp ... too), "//x" sends "/x", anything else is
 *                      sent as a message (HTML-escaped)
 *   leave [ROOM]       close the room's window (libpurple leaves the room)
 *   occupants [ROOM]   report who the room window lists
 *   ping [TOKEN]       answer {"ev":"pong"}: every earlier command is done
 *   disconnect         drop the connection (rooms report "left")
 *   connect            sign on again (rooms must be joined again)
 *   quit               sign off and exit (so does end of input, or SIGTERM)
 *
 * Events, one JSON object per line on standard output, each with "ev" and
 * "t" (CLOCK_MONOTONIC in microseconds, comparable between processes):
 * ready, plugin-loaded, signed-on, signed-off, joined, left, occupant-join,
 * occupant-leave, occupant-flags, occupants, write (every
 * line a conversation window is asked to show: exactly what a person would
 * see), sent, command, request, notify, pong, error, bye; tests/xmpp/README.md
 * lists their fields.  Nothing else is ever written to standard output: the
 * events go to a private copy of it and fd 1 itself points to stderr, so
 * stray printf()s (libpurple's debug output, a plugin's) cannot corrupt
 * the stream.
 *
 * The caller sets the environment: a private 0700 XDG_RUNTIME_DIR and HOME
 * keep libpurple's media stack from leaving files behind (see harness.py).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include <account.h>
#include <cmds.h>
#include <connection.h>
#include <conversation.h>
#include <core.h>
#include <debug.h>
#include <eventloop.h>
#include <notify.h>
#include <plugin.h>
#include <prefs.h>
#include <prpl.h>
#include <request.h>
#include <savedstatuses.h>
#include <server.h>
#include <util.h>

#define UI_ID "smmp-client"
#define MUC_DOMAIN "conference.localhost"

/* ---- options ------------------------------------------------------------- */

static char *opt_dir;
static int opt_port;
static char *opt_user;
static char *opt_password;
static char *opt_domain = "localhost";
static char *opt_server = "127.0.0.1";
static char *opt_resource = "smmp-client";
static char *opt_plugin_dir;
static char **opt_plugins;
static char *opt_cmd_markup = "html";
static char *opt_ui_id = UI_ID;
static gboolean opt_debug;

static const GOptionEntry option_entries[] = {
  { "dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_dir, "libpurple user dir (created; reused)", "DIR" },
  { "port", 0, 0, G_OPTION_ARG_INT, &opt_port, "XMPP client port", "PORT" },
  { "user", 0, 0, G_OPTION_ARG_STRING, &opt_user, "account name (before @)", "USER" },
  { "password", 0, 0, G_OPTION_ARG_STRING, &opt_password, "account password", "PW" },
  { "domain", 0, 0, G_OPTION_ARG_STRING, &opt_domain, "account domain (localhost)", "DOMAIN" },
  { "server", 0, 0, G_OPTION_ARG_STRING, &opt_server, "address to connect to (127.0.0.1)",
    "ADDR" },
  { "resource", 0, 0, G_OPTION_ARG_STRING, &opt_resource, "XMPP resource (smmp-client)",
    "RES" },
  { "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_plugin_dir,
    "directory searched for plugins (empty or \"none\": none)", "DIR" },
  { "plugin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_plugins, "load this plugin id (repeatable)",
    "ID" },
  { "cmd-markup", 0, 0, G_OPTION_ARG_STRING, &opt_cmd_markup,
    "markup given to commands: html (as Pidgin) or raw (the typed line)", "html|raw" },
  { "ui-id", 0, 0, G_OPTION_ARG_STRING, &opt_ui_id, "libpurple UI id (smmp-client)", "ID" },
  { "debug", 0, 0, G_OPTION_ARG_NONE, &opt_debug, "libpurple debug output on stderr", NULL },
  { NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL }
};

/* ---- state ------------------------------------------------------------------ */

static GMainLoop *loop;
static PurpleAccount *account;
static char *current_room;
static gboolean quitting;
static int exit_status;
/* Conversations that libpurple has created for a join we asked for but
 * whose own occupant has not been added yet (see on_chat_buddy_joined). */
static GHashTable *joining;
/* Request dialogs answered on the next main loop iteration. */
static GHashTable *pending_requests;
static int signal_handle;

/* ---- events on standard output ----------------------------------------------- */

static FILE *events;

static void
add_string (JsonBuilder *b, const char *value)
{
  if (value == NULL)
    json_builder_add_null_value (b);
  else if (g_utf8_validate (value, -1, NULL))
    json_builder_add_string_value (b, value);
  else
    {
      /* JSON has to be UTF-8; a replacement character shows the damage. */
      g_autofree char *valid = g_utf8_make_valid (value, -1);

      json_builder_add_string_value (b, valid);
    }
}

static JsonBuilder *
ev_new (const char *name)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ev");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "t");
  json_builder_add_int_value (b, g_get_monotonic_time ());
  return b;
}

static void
ev_str (JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name (b, key);
  add_string (b, value);
}

static void
ev_int (JsonBuilder *b, const char *key, gint64 value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, value);
}

static void
ev_bool (JsonBuilder *b, const char *key, gboolean value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_boolean_value (b, value);
}

static void
ev_emit (JsonBuilder *b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *line = NULL;

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  g_object_unref (b);
  json_generator_set_root (gen, root);
  line = json_generator_to_data (gen, NULL);
  /* Flushed line by line: the reader waits for events, not for a full
   * buffer.  A reader that went away is a reason to stop. */
  if (fprintf (events, "%s\n", line) < 0 || fflush (events) != 0)
    {
      if (!quitting)
        {
          quitting = TRUE;
          exit_status = 1;
          if (loop != NULL)
            g_main_loop_quit (loop);
        }
    }
}

static void
emit_error (const char *what, const char *message)
{
  JsonBuilder *b = ev_new ("error");

  ev_str (b, "what", what);
  ev_str (b, "message", message);
  ev_emit (b);
}

/* ---- a GLib event loop for libpurple --------------------------------------------- */

typedef struct {
  PurpleInputFunction function;
  gpointer data;
} InputClosure;

static gboolean
input_dispatch (GIOChannel *channel, GIOCondition condition, gpointer data)
{
  InputClosure *closure = data;
  PurpleInputCondition cond = 0;

  /* An error or hang-up must reach the reader or writer, which then finds
   * out what happened from read() or write(). */
  if (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_PRI))
    cond |= PURPLE_INPUT_READ;
  if (condition & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    cond |= PURPLE_INPUT_WRITE;
  closure->function (closure->data, g_io_channel_unix_get_fd (channel), cond);
  return G_SOURCE_CONTINUE;
}

static guint
input_add (gint fd, PurpleInputCondition condition, PurpleInputFunction function, gpointer data)
{
  InputClosure *closure = g_new0 (InputClosure, 1);
  GIOChannel *channel = g_io_channel_unix_new (fd);
  GIOCondition cond = 0;
  guint id;

  closure->function = function;
  closure->data = data;
  if (condition & PURPLE_INPUT_READ)
    cond |= G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_PRI;
  if (condition & PURPLE_INPUT_WRITE)
    cond |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
  id = g_io_add_watch_full (channel, G_PRIORITY_DEFAULT, cond, input_dispatch, closure, g_free);
  g_io_channel_unref (channel);
  return id;
}

static PurpleEventLoopUiOps eventloop_ops = {
  /* Millisecond timeouts everywhere: g_timeout_add_seconds() may fire up
   * to a second late, which makes short protocol deadlines flaky. */
  .timeout_add = g_timeout_add,
  .timeout_remove = g_source_remove,
  .input_add = input_add,
  .input_remove = g_source_remove,
  .timeout_add_seconds = NULL,
};

/* ---- debug output (stderr only) --------------------------------------------------- */

static void
debug_print (PurpleDebugLevel level, const char *category, const char *arg_s)
{
  static const char *const names[] = { "all", "misc", "info", "warning", "error", "fatal" };
  const char *name = (guint) level < G_N_ELEMENTS (names) ? names[level] : "?";

  fprintf (stderr, "[%s] %s: %s%s", name, category != NULL ? category : "-",
           arg_s != NULL ? arg_s : "", arg_s != NULL && g_str_has_suffix (arg_s, "\n") ? "" : "\n");
}

static gboolean
debug_is_enabled (PurpleDebugLevel level, const char *category)
{
  return opt_debug;
}

static PurpleDebugUiOps debug_ops = {
  .print = debug_print,
  .is_enabled = debug_is_enabled,
};

/* ---- what the conversation windows show ---------------------------------------------- */

static const struct {
  PurpleMessageFlags flag;
  const char *name;
} flag_names[] = {
  { PURPLE_MESSAGE_SEND, "send" },
  { PURPLE_MESSAGE_RECV, "recv" },
  { PURPLE_MESSAGE_SYSTEM, "system" },
  { PURPLE_MESSAGE_AUTO_RESP, "auto-resp" },
  { PURPLE_MESSAGE_ACTIVE_ONLY, "active-only" },
  { PURPLE_MESSAGE_NICK, "nick" },
  { PURPLE_MESSAGE_NO_LOG, "no-log" },
  { PURPLE_MESSAGE_WHISPER, "whisper" },
  { PURPLE_MESSAGE_ERROR, "error" },
  { PURPLE_MESSAGE_DELAYED, "delayed" },
  { PURPLE_MESSAGE_RAW, "raw" },
  { PURPLE_MESSAGE_IMAGES, "images" },
  { PURPLE_MESSAGE_NOTIFY, "notify" },
  { PURPLE_MESSAGE_NO_LINKIFY, "no-linkify" },
  { PURPLE_MESSAGE_INVISIBLE, "invisible" },
  { PURPLE_MESSAGE_REMOTE_SEND, "remote-send" },
};

static const char *
conv_type_name (PurpleConversation *conv)
{
  switch (purple_conversation_get_type (conv))
    {
    case PURPLE_CONV_TYPE_IM:
      return "im";
    case PURPLE_CONV_TYPE_CHAT:
      return "chat";
    default:
      return "other";
    }
}

/* The one place a line becomes visible: Pidgin and Finch route chat and IM
 * lines through purple_conversation_write() (which logs them and lets
 * plugins rewrite or hide them with writing-*-msg), and that ends here. */
static void
write_conv (PurpleConversation *conv, const char *who, const char *alias, const char *message,
            PurpleMessageFlags flags, time_t mtime)
{
  JsonBuilder *b = ev_new ("write");
  /* The text without markup, entities decoded: what a reader sees. */
  g_autofree char *plain = message != NULL ? purple_markup_strip_html (message) : NULL;

  ev_str (b, "conv", purple_conversation_get_name (conv));
  ev_str (b, "type", conv_type_name (conv));
  ev_str (b, "who", who);
  ev_str (b, "alias", alias);
  ev_str (b, "text", message);
  ev_str (b, "plain", plain);
  json_builder_set_member_name (b, "flags");
  json_builder_begin_array (b);
  for (guint i = 0; i < G_N_ELEMENTS (flag_names); i++)
    if (flags & flag_names[i].flag)
      json_builder_add_string_value (b, flag_names[i].name);
  json_builder_end_array (b);
  ev_int (b, "mtime", (gint64) mtime);
  ev_emit (b);
}

static void
write_chat (PurpleConversation *conv, const char *who, const char *message,
            PurpleMessageFlags flags, time_t mtime)
{
  purple_conversation_write (conv, who, message, flags, mtime);
}

static void
write_im (PurpleConversation *conv, const char *who, const char *message,
          PurpleMessageFlags flags, time_t mtime)
{
  purple_conversation_write (conv, who, message, flags, mtime);
}

static PurpleConversationUiOps conv_ops = {
  .write_chat = write_chat,
  .write_im = write_im,
  .write_conv = write_conv,
};

/* ---- dialogs: nobody is there, so the default answer is given ---------------------- */

typedef struct {
  PurpleRequestType type;
  guint source;
  GCallback cb;
  void *user_data;
  int choice;
  char *text;
  PurpleRequestFields *fields;
  gboolean answering; /* its callback is running */
  gboolean closed;    /* closed by libpurple meanwhile: free afterwards */
} PendingRequest;

static void
free_request (PendingRequest *p)
{
  /* The UI owns a fields request's fields (as in Pidgin and Finch). */
  if (p->fields != NULL)
    purple_request_fields_destroy (p->fields);
  g_free (p->text);
  g_free (p);
}

static void
emit_request (const char *kind, const char *title, const char *primary, const char *secondary,
              const char *answer)
{
  JsonBuilder *b = ev_new ("request");

  ev_str (b, "kind", kind);
  ev_str (b, "title", title);
  ev_str (b, "primary", primary);
  ev_str (b, "secondary", secondary);
  ev_str (b, "answer", answer);
  ev_emit (b);
}

static gboolean
answer_request (gpointer data)
{
  PendingRequest *p = data;

  p->source = 0;
  p->answering = TRUE;
  switch (p->type)
    {
    case PURPLE_REQUEST_ACTION:
      if (p->cb != NULL)
        ((PurpleRequestActionCb) p->cb) (p->user_data, p->choice);
      break;
    case PURPLE_REQUEST_CHOICE:
      if (p->cb != NULL)
        ((PurpleRequestChoiceCb) p->cb) (p->user_data, p->choice);
      break;
    case PURPLE_REQUEST_INPUT:
      if (p->cb != NULL)
        ((PurpleRequestInputCb) p->cb) (p->user_data, p->text != NULL ? p->text : "");
      break;
    case PURPLE_REQUEST_FIELDS:
      if (p->cb != NULL)
        ((PurpleRequestFieldsCb) p->cb) (p->user_data, p->fields);
      break;
    default:
      break;
    }
  p->answering = FALSE;
  /* The callback may have closed the request itself. */
  if (p->closed)
    free_request (p);
  else
    purple_request_close (p->type, p);
  return G_SOURCE_REMOVE;
}

/* Answered from the main loop, never inside the request call: the caller
 * usually stores the returned handle after the call returns, and an
 * answer given before that would leave it holding a stale handle. */
static PendingRequest *
pend (PurpleRequestType type, GCallback cb, void *user_data)
{
  PendingRequest *p = g_new0 (PendingRequest, 1);

  p->type = type;
  p->cb = cb;
  p->user_data = user_data;
  p->source = g_idle_add (answer_request, p);
  g_hash_table_add (pending_requests, p);
  return p;
}

static void *
request_input (const char *title, const char *primary, const char *secondary,
               const char *default_value, gboolean multiline, gboolean masked, gchar *hint,
               const char *ok_text, GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
               PurpleAccount *acct, const char *who, PurpleConversation *conv, void *user_data)
{
  PendingRequest *p = pend (PURPLE_REQUEST_INPUT, ok_cb, user_data);

  p->text = g_strdup (default_value);
  emit_request ("input", title, primary, secondary, default_value != NULL ? default_value : "");
  return p;
}

static void *
request_choice (const char *title, const char *primary, const char *secondary, int default_value,
                const char *ok_text, GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
                PurpleAccount *acct, const char *who, PurpleConversation *conv, void *user_data,
                va_list choices)
{
  PendingRequest *p = pend (PURPLE_REQUEST_CHOICE, ok_cb, user_data);
  g_autofree char *answer = g_strdup_printf ("%d", default_value);

  p->choice = default_value;
  emit_request ("choice", title, primary, secondary, answer);
  return p;
}

static void *
request_action (const char *title, const char *primary, const char *secondary,
                int default_action, PurpleAccount *acct, const char *who,
                PurpleConversation *conv, void *user_data, size_t action_count, va_list actions)
{
  PendingRequest *p = pend (PURPLE_REQUEST_ACTION, NULL, user_data);
  const char *label = NULL;

  if (default_action < 0 || (size_t) default_action >= action_count)
    default_action = 0;
  for (size_t i = 0; i < action_count; i++)
    {
      const char *text = va_arg (actions, const char *);
      GCallback cb = va_arg (actions, GCallback);

      if ((int) i == default_action)
        {
          label = text;
          p->cb = cb;
        }
    }
  p->choice = default_action;
  emit_request ("action", title, primary, secondary, label);
  return p;
}

static void *
request_fields (const char *title, const char *primary, const char *secondary,
                PurpleRequestFields *fields, const char *ok_text, GCallback ok_cb,
                const char *cancel_text, GCallback cancel_cb, PurpleAccount *acct,
                const char *who, PurpleConversation *conv, void *user_data)
{
  PendingRequest *p = pend (PURPLE_REQUEST_FIELDS, ok_cb, user_data);

  p->fields = fields;
  emit_request ("fields", title, primary, secondary, ok_text);
  return p;
}

static void
close_request (PurpleRequestType type, void *ui_handle)
{
  PendingRequest *p = ui_handle;

  if (!g_hash_table_remove (pending_requests, p))
    return;
  if (p->source != 0)
    g_source_remove (p->source);
  if (p->answering)
    p->closed = TRUE; /* answer_request() is still using it */
  else
    free_request (p);
}

static PurpleRequestUiOps request_ops = {
  .request_input = request_input,
  .request_choice = request_choice,
  .request_action = request_action,
  .request_fields = request_fields,
  .close_request = close_request,
};

/* ---- notifications: reported and closed at once ------------------------------------ */

static void *
notify_message (PurpleNotifyMsgType type, const char *title, const char *primary,
                const char *secondary)
{
  JsonBuilder *b = ev_new ("notify");

  ev_str (b, "type", type == PURPLE_NOTIFY_MSG_ERROR     ? "error"
                     : type == PURPLE_NOTIFY_MSG_WARNING ? "warning"
                                                         : "info");
  ev_str (b, "title", title);
  ev_str (b, "primary", primary);
  ev_str (b, "secondary", secondary);
  ev_emit (b);
  /* NULL: libpurple treats the notice as closed and runs its callback. */
  return NULL;
}

static void *
notify_formatted (const char *title, const char *primary, const char *secondary, const char *text)
{
  JsonBuilder *b = ev_new ("notify");

  ev_str (b, "type", "formatted");
  ev_str (b, "title", title);
  ev_str (b, "primary", primary);
  ev_str (b, "secondary", secondary);
  ev_str (b, "text", text);
  ev_emit (b);
  return NULL;
}

static PurpleNotifyUiOps notify_ops = {
  .notify_message = notify_message,
  .notify_formatted = notify_formatted,
};

/* ---- connection and room signals ------------------------------------------------------ */

static void
on_signed_on (PurpleConnection *gc, gpointer data)
{
  JsonBuilder *b = ev_new ("signed-on");

  ev_str (b, "account", purple_account_get_username (purple_connection_get_account (gc)));
  ev_emit (b);
}

static void
on_signed_off (PurpleConnection *gc, gpointer data)
{
  JsonBuilder *b = ev_new ("signed-off");

  ev_str (b, "account", purple_account_get_username (purple_connection_get_account (gc)));
  ev_emit (b);
}

static void
on_connection_error (PurpleConnection *gc, PurpleConnectionError err, const char *desc,
                     gpointer data)
{
  JsonBuilder *b = ev_new ("error");

  ev_str (b, "what", "connection");
  ev_int (b, "code", (gint64) err);
  ev_str (b, "message", desc);
  ev_emit (b);
}

/* XEP-0045 affiliation and role as libpurple maps them: owner ->
 * founder, moderator -> op, participant -> voice. */
static void
add_cb_flags (JsonBuilder *b, const char *key, PurpleConvChatBuddyFlags flags)
{
  static const struct {
    PurpleConvChatBuddyFlags flag;
    const char *name;
  } names[] = {
    { PURPLE_CBFLAGS_VOICE, "voice" },   { PURPLE_CBFLAGS_HALFOP, "halfop" },
    { PURPLE_CBFLAGS_OP, "op" },         { PURPLE_CBFLAGS_FOUNDER, "founder" },
    { PURPLE_CBFLAGS_TYPING, "typing" }, { PURPLE_CBFLAGS_AWAY, "away" },
  };

  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (flags & names[i].flag)
      json_builder_add_string_value (b, names[i].name);
  json_builder_end_array (b);
}

static char *
real_jid (PurpleConversation *conv, const char *nick)
{
  PurpleConnection *gc = purple_conversation_get_gc (conv);
  PurplePlugin *prpl = gc != NULL ? purple_connection_get_prpl (gc) : NULL;
  PurplePluginProtocolInfo *info = prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (prpl) : NULL;

  if (info == NULL || info->get_cb_real_name == NULL)
    return NULL;
  return info->get_cb_real_name (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)), nick);
}

static void
add_occupants (JsonBuilder *b, PurpleConversation *conv)
{
  GList *users = purple_conv_chat_get_users (PURPLE_CONV_CHAT (conv));
  GPtrArray *names = g_ptr_array_new ();

  for (GList *l = users; l != NULL; l = l->next)
    g_ptr_array_add (names, (gpointer) purple_conv_chat_cb_get_name (l->data));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  json_builder_set_member_name (b, "occupants");
  json_builder_begin_array (b);
  for (guint i = 0; i < names->len; i++)
    add_string (b, g_ptr_array_index (names, i));
  json_builder_end_array (b);
  g_ptr_array_free (names, TRUE);
}

/* libpurple creates the room's window on the first occupant presence and
 * emits chat-joined then, before the list of occupants is complete and
 * before it knows its own nick in the room.  XEP-0045 sends our own
 * presence last, so "joined" is reported when we are added ourselves. */
static void
on_chat_joined (PurpleConversation *conv, gpointer data)
{
  g_hash_table_add (joining, conv);
}

static void
on_chat_buddy_joined (PurpleConversation *conv, const char *name, PurpleConvChatBuddyFlags flags,
                      gboolean new_arrival, gpointer data)
{
  const char *nick = purple_conv_chat_get_nick (PURPLE_CONV_CHAT (conv));
  gboolean self = g_strcmp0 (name, nick) == 0;
  g_autofree char *jid = real_jid (conv, name);
  JsonBuilder *b = ev_new ("occupant-join");

  ev_str (b, "room", purple_conversation_get_name (conv));
  ev_str (b, "nick", name);
  ev_str (b, "jid", jid);
  ev_bool (b, "self", self);
  ev_bool (b, "new", new_arrival);
  add_cb_flags (b, "flags", flags);
  ev_emit (b);

  if (self && g_hash_table_remove (joining, conv))
    {
      b = ev_new ("joined");
      ev_str (b, "room", purple_conversation_get_name (conv));
      ev_str (b, "nick", nick);
      add_occupants (b, conv);
      ev_emit (b);
    }
}

static void
on_chat_buddy_left (PurpleConversation *conv, const char *name, const char *reason,
                    gpointer data)
{
  JsonBuilder *b = ev_new ("occupant-leave");

  ev_str (b, "room", purple_conversation_get_name (conv));
  ev_str (b, "nick", name);
  ev_str (b, "reason", reason);
  ev_emit (b);
}

static void
on_chat_buddy_flags (PurpleConversation *conv, const char *name, PurpleConvChatBuddyFlags old_flags,
                     PurpleConvChatBuddyFlags new_flags, gpointer data)
{
  JsonBuilder *b = ev_new ("occupant-flags");

  ev_str (b, "room", purple_conversation_get_name (conv));
  ev_str (b, "nick", name);
  add_cb_flags (b, "old", old_flags);
  add_cb_flags (b, "flags", new_flags);
  ev_emit (b);
}

/* A room is left in two ways: serv_got_chat_left() (we closed the window,
 * /part, a kick), which emits chat-left, and a lost connection, which only
 * marks the window as left.  Both update the conversation with CHATLEFT. */
static void
on_conversation_updated (PurpleConversation *conv, PurpleConvUpdateType type, gpointer data)
{
  JsonBuilder *b;

  if (type != PURPLE_CONV_UPDATE_CHATLEFT
      || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT
      || !purple_conv_chat_has_left (PURPLE_CONV_CHAT (conv)))
    return;
  g_hash_table_remove (joining, conv);
  b = ev_new ("left");
  ev_str (b, "room", purple_conversation_get_name (conv));
  ev_emit (b);
}

static void
on_deleting_conversation (PurpleConversation *conv, gpointer data)
{
  g_hash_table_remove (joining, conv);
}

/* ---- commands from standard input ----------------------------------------------------- */

static char *
room_jid (const char *room)
{
  return strchr (room, '@') != NULL ? g_strdup (room) : g_strconcat (room, "@", MUC_DOMAIN, NULL);
}

static PurpleConnection *
connection_or_error (const char *what)
{
  PurpleConnection *gc = purple_account_get_connection (account);

  if (gc == NULL || !purple_account_is_connected (account))
    {
      emit_error (what, "not signed on");
      return NULL;
    }
  return gc;
}

static PurpleConversation *
room_or_error (const char *arg, const char *what)
{
  g_autofree char *jid = NULL;
  PurpleConversation *conv;

  if (arg == NULL || *arg == '\0')
    arg = current_room;
  if (arg == NULL)
    {
      emit_error (what, "no room joined");
      return NULL;
    }
  jid = room_jid (arg);
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, jid, account);
  if (conv == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("no window for %s", jid);

      emit_error (what, msg);
    }
  return conv;
}

static void
cmd_join (const char *args)
{
  g_auto (GStrv) parts = g_strsplit (args, " ", 3);
  PurpleConnection *gc;
  PurplePluginProtocolInfo *info;
  GHashTable *components;
  g_autofree char *jid = NULL;

  if (parts[0] == NULL || *parts[0] == '\0')
    {
      emit_error ("join", "usage: join ROOM [NICK]");
      return;
    }
  gc = connection_or_error ("join");
  if (gc == NULL)
    return;
  jid = room_jid (parts[0]);
  info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  /* As the join dialog does: the protocol's defaults for the room name,
   * then the nick. */
  components = info->chat_info_defaults (gc, jid);
  if (parts[1] != NULL && *parts[1] != '\0')
    g_hash_table_replace (components, "handle", g_strdup (parts[1]));
  serv_join_chat (gc, components);
  g_hash_table_destroy (components);
  g_free (current_room);
  current_room = g_steal_pointer (&jid);
}

static const char *
cmd_status_name (PurpleCmdStatus status)
{
  switch (status)
    {
    case PURPLE_CMD_STATUS_OK:
      return "ok";
    case PURPLE_CMD_STATUS_FAILED:
      return "failed";
    case PURPLE_CMD_STATUS_NOT_FOUND:
      return "not-found";
    case PURPLE_CMD_STATUS_WRONG_ARGS:
      return "wrong-args";
    case PURPLE_CMD_STATUS_WRONG_PRPL:
      return "wrong-prpl";
    case PURPLE_CMD_STATUS_WRONG_TYPE:
      return "wrong-type";
    default:
      return "?";
    }
}

/* What Finch does with a line typed into a conversation, including the
 * messages it writes into the window when a command fails. */
static void
cmd_say (const char *text)
{
  PurpleConversation *conv;

  /* An empty entry sends nothing in Pidgin or Finch. */
  if (*text == '\0')
    {
      emit_error ("say", "nothing to say");
      return;
    }
  conv = room_or_error (NULL, "say");
  if (conv == NULL)
    return;
  if (text[0] == '/' && text[1] != '/')
    {
      const char *cmdline = text + 1;
      g_autofree char *escaped = g_markup_escape_text (cmdline, -1);
      g_autofree char *error = NULL;
      PurpleCmdStatus status;
      const char *shown = NULL;
      JsonBuilder *b;

      /* Pidgin hands commands their arguments as HTML; Finch (2.14) as
       * typed.  --cmd-markup picks one, so both can be tested. */
      status = purple_cmd_do_command (conv, cmdline,
                                      g_strcmp0 (opt_cmd_markup, "raw") == 0 ? cmdline : escaped,
                                      &error);
      b = ev_new ("command");
      ev_str (b, "conv", purple_conversation_get_name (conv));
      ev_str (b, "line", text);
      ev_str (b, "status", cmd_status_name (status));
      ev_str (b, "error", error);
      ev_emit (b);
      switch (status)
        {
        case PURPLE_CMD_STATUS_OK:
          break;
        case PURPLE_CMD_STATUS_NOT_FOUND:
          shown = "No such command.";
          break;
        case PURPLE_CMD_STATUS_WRONG_ARGS:
          shown = "Syntax Error:  You typed the wrong number of arguments to that command.";
          break;
        case PURPLE_CMD_STATUS_FAILED:
          shown = error != NULL ? error : "Your command failed for an unknown reason.";
          break;
        case PURPLE_CMD_STATUS_WRONG_TYPE:
          shown = purple_conversation_get_type (conv) == PURPLE_CONV_TYPE_IM
                    ? "That command only works in chats, not IMs."
                    : "That command only works in IMs, not chats.";
          break;
        case PURPLE_CMD_STATUS_WRONG_PRPL:
          shown = "That command doesn't work on this protocol.";
          break;
        }
      if (shown != NULL)
        purple_conversation_write (conv, "", shown, PURPLE_MESSAGE_NO_LOG, time (NULL));
      return;
    }
  if (!purple_account_is_connected (account))
    {
      purple_conversation_write (conv, "", "Message was not sent, because you are not signed on.",
                                 PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_NO_LOG, time (NULL));
      return;
    }
  {
    /* "//x" is how a person sends a message starting with a slash. */
    const char *body = text[0] == '/' ? text + 1 : text;
    g_autofree char *markup = purple_markup_escape_text (body, -1);
    JsonBuilder *b;

    purple_conv_chat_send (PURPLE_CONV_CHAT (conv), markup);
    b = ev_new ("sent");
    ev_str (b, "conv", purple_conversation_get_name (conv));
    ev_str (b, "text", markup);
    ev_emit (b);
  }
}

static void
cmd_leave (const char *arg)
{
  PurpleConversation *conv = room_or_error (arg, "leave");

  if (conv == NULL)
    return;
  if (current_room != NULL && g_strcmp0 (purple_conversation_get_name (conv), current_room) == 0)
    g_clear_pointer (&current_room, g_free);
  /* Closing the window is how people leave a room in Pidgin and Finch:
   * libpurple sends the unavailable presence and emits chat-left. */
  purple_conversation_destroy (conv);
}

static void
cmd_occupants (const char *arg)
{
  PurpleConversation *conv = room_or_error (arg, "occupants");
  JsonBuilder *b;

  if (conv == NULL)
    return;
  b = ev_new ("occupants");
  ev_str (b, "room", purple_conversation_get_name (conv));
  ev_str (b, "nick", purple_conv_chat_get_nick (PURPLE_CONV_CHAT (conv)));
  ev_bool (b, "left", purple_conv_chat_has_left (PURPLE_CONV_CHAT (conv)));
  add_occupants (b, conv);
  ev_emit (b);
}

static void
request_quit (void)
{
  if (quitting)
    return;
  quitting = TRUE;
  g_main_loop_quit (loop);
}

static void
run_command (char *line)
{
  char *args;
  size_t len = strlen (line);

  /* Only the line end goes: spaces around a text are part of it. */
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    line[--len] = '\0';
  if (line[0] == '\0')
    return;
  args = strchr (line, ' ');
  if (args != NULL)
    *args++ = '\0';
  else
    args = line + strlen (line);

  if (strcmp (line, "join") == 0)
    cmd_join (args);
  else if (strcmp (line, "room") == 0)
    {
      g_free (current_room);
      current_room = *args != '\0' ? room_jid (args) : NULL;
    }
  else if (strcmp (line, "say") == 0)
    cmd_say (args);
  else if (strcmp (line, "leave") == 0)
    cmd_leave (args);
  else if (strcmp (line, "occupants") == 0)
    cmd_occupants (args);
  else if (strcmp (line, "ping") == 0)
    {
      JsonBuilder *b = ev_new ("pong");

      ev_str (b, "token", args);
      ev_emit (b);
    }
  else if (strcmp (line, "disconnect") == 0)
    {
      /* Like a dropped connection: the rooms' windows report "left" and
       * stay; nothing rejoins by itself. */
      if (!purple_account_is_disconnected (account))
        purple_account_disconnect (account);
    }
  else if (strcmp (line, "connect") == 0)
    {
      if (purple_account_is_disconnected (account))
        purple_account_connect (account);
    }
  else if (strcmp (line, "quit") == 0)
    request_quit ();
  else
    {
      g_autofree char *msg = g_strdup_printf ("unknown command: %s", line);

      emit_error ("command", msg);
    }
}

static gboolean
on_stdin (GIOChannel *channel, GIOCondition condition, gpointer data)
{
  for (;;)
    {
      g_autofree char *line = NULL;
      g_autoptr (GError) error = NULL;
      GIOStatus status = g_io_channel_read_line (channel, &line, NULL, NULL, &error);

      if (status == G_IO_STATUS_NORMAL)
        {
          if (!g_utf8_validate (line, -1, NULL))
            emit_error ("command", "input is not UTF-8");
          else if (!quitting)
            run_command (line);
          continue;
        }
      if (status == G_IO_STATUS_AGAIN)
        return G_SOURCE_CONTINUE;
      /* End of input (the test is done, or died) or a read error. */
      if (error != NULL)
        emit_error ("stdin", error->message);
      request_quit ();
      return G_SOURCE_REMOVE;
    }
}

static gboolean
on_sigterm (gpointer data)
{
  request_quit ();
  return G_SOURCE_CONTINUE;
}

/* ---- start-up ------------------------------------------------------------------------- */

/* Written before purple_core_init() reads it: libpurple's network set-up
 * runs inside core init and would otherwise look up _stun._udp.localhost
 * and send UPnP discovery to the LAN, none of which a loopback test wants. */
static gboolean
seed_prefs (const char *dir, GError **error)
{
  static const char prefs[] =
    "<?xml version='1.0' encoding='UTF-8' ?>\n"
    "<pref version='1' name='/'>\n"
    "\t<pref name='purple'>\n"
    "\t\t<pref name='network'>\n"
    "\t\t\t<pref name='stun_server' type='string' value='127.0.0.1'/>\n"
    "\t\t\t<pref name='auto_ip' type='bool' value='0'/>\n"
    "\t\t\t<pref name='public_ip' type='string' value='127.0.0.1'/>\n"
    "\t\t\t<pref name='map_ports' type='bool' value='0'/>\n"
    "\t\t</pref>\n"
    "\t</pref>\n"
    "</pref>\n";
  g_autofree char *file = g_build_filename (dir, "prefs.xml", NULL);

  /* A restarted client keeps what libpurple saved last time. */
  if (g_file_test (file, G_FILE_TEST_EXISTS))
    return TRUE;
  return g_file_set_contents (file, prefs, -1, error);
}

static gboolean
load_plugins (void)
{
  for (char **id = opt_plugins; id != NULL && *id != NULL; id++)
    {
      PurplePlugin *plugin = purple_plugins_find_with_id (*id);
      g_autofree char *msg = NULL;
      JsonBuilder *b;

      if (plugin == NULL)
        msg = g_strdup_printf ("plugin %s not found in %s", *id,
                               opt_plugin_dir != NULL ? opt_plugin_dir : "(no plugin dir)");
      else if (!purple_plugin_load (plugin))
        msg = g_strdup_printf ("plugin %s (%s) did not load: %s", *id, plugin->path,
                               plugin->error != NULL ? plugin->error : "no reason given");
      if (msg != NULL)
        {
          emit_error ("plugin", msg);
          return FALSE;
        }
      b = ev_new ("plugin-loaded");
      ev_str (b, "id", *id);
      ev_str (b, "path", plugin->path);
      ev_emit (b);
    }
  return TRUE;
}

static void
connect_signals (void)
{
  void *conns = purple_connections_get_handle ();
  void *convs = purple_conversations_get_handle ();

  purple_signal_connect (conns, "signed-on", &signal_handle, PURPLE_CALLBACK (on_signed_on), NULL);
  purple_signal_connect (conns, "signed-off", &signal_handle, PURPLE_CALLBACK (on_signed_off),
                         NULL);
  purple_signal_connect (conns, "connection-error", &signal_handle,
                         PURPLE_CALLBACK (on_connection_error), NULL);
  purple_signal_connect (convs, "chat-joined", &signal_handle, PURPLE_CALLBACK (on_chat_joined),
                         NULL);
  purple_signal_connect (convs, "chat-buddy-joined", &signal_handle,
                         PURPLE_CALLBACK (on_chat_buddy_joined), NULL);
  purple_signal_connect (convs, "chat-buddy-left", &signal_handle,
                         PURPLE_CALLBACK (on_chat_buddy_left), NULL);
  purple_signal_connect (convs, "chat-buddy-flags", &signal_handle,
                         PURPLE_CALLBACK (on_chat_buddy_flags), NULL);
  purple_signal_connect (convs, "conversation-updated", &signal_handle,
                         PURPLE_CALLBACK (on_conversation_updated), NULL);
  purple_signal_connect (convs, "deleting-conversation", &signal_handle,
                         PURPLE_CALLBACK (on_deleting_conversation), NULL);
}

static void
create_account (void)
{
  g_autofree char *jid = g_strdup_printf ("%s@%s/%s", opt_user, opt_domain, opt_resource);
  PurpleSavedStatus *status;

  /* A restarted client finds its account in accounts.xml. */
  account = purple_accounts_find (jid, "prpl-jabber");
  if (account == NULL)
    {
      account = purple_account_new (jid, "prpl-jabber");
      purple_accounts_add (account);
    }
  purple_account_set_password (account, opt_password);
  purple_account_set_remember_password (account, TRUE);
  /* No SRV look-up, no TLS on the private server, and PLAIN in clear
   * without the question libpurple would otherwise ask (and wait for). */
  purple_account_set_string (account, "connect_server", opt_server);
  purple_account_set_int (account, "port", opt_port);
  purple_account_set_string (account, "connection_security", "opportunistic_tls");
  purple_account_set_bool (account, "auth_plain_in_clear", TRUE);

  purple_account_set_enabled (account, purple_core_get_ui (), TRUE);
  status = purple_savedstatus_new (NULL, PURPLE_STATUS_AVAILABLE);
  purple_savedstatus_activate (status);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("- headless libpurple test client");
  g_autoptr (GError) error = NULL;
  g_autoptr (GIOChannel) in = NULL;
  int events_fd;

  g_option_context_add_main_entries (context, option_entries, NULL);
  g_option_context_set_description (context,
    "Commands on stdin: join ROOM [NICK], room ROOM, say TEXT, leave [ROOM],\n"
    "occupants [ROOM], ping [TOKEN], disconnect, connect, quit.\n"
    "Events on stdout: JSON lines.\n");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "smmp-client: %s\n", error->message);
      return 2;
    }
  if (opt_dir == NULL || opt_port <= 0 || opt_port > 65535 || opt_user == NULL
      || opt_password == NULL)
    {
      fprintf (stderr, "smmp-client: --dir, --port, --user and --password are required\n");
      return 2;
    }
  if (g_strcmp0 (opt_cmd_markup, "html") != 0 && g_strcmp0 (opt_cmd_markup, "raw") != 0)
    {
      fprintf (stderr, "smmp-client: --cmd-markup is html or raw\n");
      return 2;
    }

  /* Events get their own descriptor; fd 1 becomes stderr, so anything
   * else that prints cannot end up in the event stream. */
  events_fd = dup (STDOUT_FILENO);
  if (events_fd < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0
      || (events = fdopen (events_fd, "w")) == NULL)
    {
      fprintf (stderr, "smmp-client: cannot set up the event stream: %s\n", g_strerror (errno));
      return 1;
    }
  /* A reader that went away shows up as a failed write, not a signal. */
  signal (SIGPIPE, SIG_IGN);

  if (g_mkdir_with_parents (opt_dir, 0700) != 0)
    {
      fprintf (stderr, "smmp-client: cannot create %s: %s\n", opt_dir, g_strerror (errno));
      return 1;
    }
  if (!seed_prefs (opt_dir, &error))
    {
      fprintf (stderr, "smmp-client: %s\n", error->message);
      return 1;
    }

  joining = g_hash_table_new (NULL, NULL);
  pending_requests = g_hash_table_new (NULL, NULL);
  loop = g_main_loop_new (NULL, FALSE);

  purple_util_set_user_dir (opt_dir);
  purple_debug_set_enabled (FALSE);
  purple_debug_set_ui_ops (&debug_ops);
  purple_eventloop_set_ui_ops (&eventloop_ops);
  purple_conversations_set_ui_ops (&conv_ops);
  purple_request_set_ui_ops (&request_ops);
  purple_notify_set_ui_ops (&notify_ops);
  /* libpurple does not look in <user dir>/plugins by itself, and core
   * init probes the search path, so it must be set first. */
  if (opt_plugin_dir != NULL && *opt_plugin_dir != '\0' && strcmp (opt_plugin_dir, "none") != 0)
    purple_plugins_add_search_path (opt_plugin_dir);
  if (!purple_core_init (opt_ui_id))
    {
      emit_error ("core", "purple_core_init failed");
      return 1;
    }
  purple_set_blist (purple_blist_new ());
  purple_blist_load ();
  purple_prefs_load ();
  connect_signals ();

  if (!load_plugins ())
    {
      purple_core_quit ();
      return 2;
    }

  in = g_io_channel_unix_new (STDIN_FILENO);
  g_io_channel_set_encoding (in, NULL, NULL);
  g_io_channel_set_flags (in, G_IO_FLAG_NONBLOCK, NULL);
  g_io_add_watch (in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  g_unix_signal_add (SIGTERM, on_sigterm, NULL);
  g_unix_signal_add (SIGINT, on_sigterm, NULL);

  create_account ();
  ev_emit (ev_new ("ready"));

  g_main_loop_run (loop);

  /* Sign off while the core is whole, so plugins see it as they would in
   * Pidgin, then let libpurple unload plugins and save its files. */
  if (account != NULL && !purple_account_is_disconnected (account))
    purple_account_disconnect (account);
  purple_core_quit ();
  g_free (current_room);
  g_hash_table_destroy (joining);
  g_hash_table_destroy (pending_requests);
  g_main_loop_unref (loop);
  ev_emit (ev_new ("bye"));
  fclose (events);
  return exit_status;
}
