/* smmp-commands.c: /smmp in a chat of the XMPP protocol: parses the one
 * argument string and calls the room (smmp-room.h).  Pidgin hands it HTML,
 * which is reduced to plain text first; Finch hands it the line as typed,
 * which is plain text already. */
#include "smmp-commands.h"

#include <string.h>

#include <cmds.h>
#include <core.h>

#include "smmp-room.h"
#include "smmp-ui.h"

typedef gboolean (*Handler) (SmmpRoom *room, GPtrArray *words, const char *rest,
                             GError **error);

typedef struct {
  const char *name;
  const char *usage;
  const char *help;
  Handler run;
  gint min_words, max_words; /* after the subcommand; -1: any */
} Command;

static PurpleCmdId smmp_cmd;

/* Splits @line into words; a word in double quotes may hold spaces (room
 * nicknames can).  @rest_out (optional) gets what follows the second word,
 * as typed: the text of /smmp msg. */
static GPtrArray *
split_words (const char *line, const char **rest_out)
{
  GPtrArray *words = g_ptr_array_new_with_free_func (g_free);
  const char *p = line;

  if (rest_out != NULL)
    *rest_out = "";
  while (*p != '\0')
    {
      const char *start;

      while (g_ascii_isspace (*p))
        p++;
      if (*p == '\0')
        break;
      if (words->len == 2 && rest_out != NULL)
        *rest_out = p;
      if (*p == '"')
        {
          start = ++p;
          while (*p != '\0' && *p != '"')
            p++;
          g_ptr_array_add (words, g_strndup (start, (gsize) (p - start)));
          if (*p == '"')
            p++;
        }
      else
        {
          start = p;
          while (*p != '\0' && !g_ascii_isspace (*p))
            p++;
          g_ptr_array_add (words, g_strndup (start, (gsize) (p - start)));
        }
    }
  return words;
}

static gboolean
do_start (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  g_autoptr (GPtrArray) nicks = g_ptr_array_new ();

  for (guint i = 1; i < words->len; i++)
    g_ptr_array_add (nicks, g_ptr_array_index (words, i));
  g_ptr_array_add (nicks, NULL);
  if (!smmp_room_start (room, (const char *const *) nicks->pdata, error))
    return FALSE;
  smmp_ui_notice (smmp_room_get_conversation (room),
                  "inviting %s to an encrypted session",
                  words->len > 1 ? "them" : "everyone in the room");
  return TRUE;
}

static gboolean
do_status (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  g_autofree char *text = smmp_room_describe (room);

  smmp_ui_notice (smmp_room_get_conversation (room), "%s", text);
  return TRUE;
}

static gboolean
do_add (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  return smmp_room_add (room, g_ptr_array_index (words, 1), error);
}

static gboolean
do_remove (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  return smmp_room_remove (room, g_ptr_array_index (words, 1), error);
}

static gboolean
do_rekey (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  return smmp_room_rekey (room, error);
}

static gboolean
do_end (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  smmp_room_end (room);
  return TRUE;
}

static gboolean
do_fingerprint (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  const char *nick = words->len > 1 ? g_ptr_array_index (words, 1) : NULL;
  g_autofree char *fp = smmp_room_fingerprint (room, nick, error);

  if (fp == NULL)
    return FALSE;
  smmp_ui_notice (smmp_room_get_conversation (room), "%s: %s", nick != NULL ? nick : "you", fp);
  return TRUE;
}

static gboolean
do_trust (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  g_autoptr (GString) fp = g_string_new (NULL);

  /* A fingerprint is usually pasted in its five groups. */
  for (guint i = 2; i < words->len; i++)
    g_string_append (fp, g_ptr_array_index (words, i));
  return smmp_room_trust (room, g_ptr_array_index (words, 1), fp->str, error);
}

static gboolean
do_distrust (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  return smmp_room_distrust (room, g_ptr_array_index (words, 1), error);
}

static gboolean
do_msg (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  return smmp_room_send_private (room, g_ptr_array_index (words, 1), rest, error);
}

static gboolean do_help (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error);

static const Command commands[] = {
  { "start", "start [nick...]",
    "set up an encrypted session with the nicknames given, or with everyone in the room",
    do_start, 0, -1 },
  { "status", "status",
    "the session: members, their fingerprints and trust, generation and epoch, the "
    "verification code",
    do_status, 0, 0 },
  { "add", "add <nick>", "a new key agreement with the members and <nick>", do_add, 1, 1 },
  { "remove", "remove <nick>", "a new key agreement without <nick>", do_remove, 1, 1 },
  { "rekey", "rekey", "a new key agreement with the same members (fresh keys)", do_rekey, 0, 0 },
  { "end", "end", "forget the session here; what you type afterwards is sent in clear",
    do_end, 0, 0 },
  { "fingerprint", "fingerprint [nick]", "your identity key's fingerprint, or <nick>'s",
    do_fingerprint, 0, 1 },
  { "trust", "trust <nick> <fingerprint>",
    "mark <nick>'s key as verified, after comparing the fingerprint with them", do_trust, 2, -1 },
  { "distrust", "distrust <nick>", "mark <nick>'s key as not trusted", do_distrust, 1, 1 },
  { "msg", "msg <nick> <text>",
    "an encrypted one-on-one message to a member of the session", do_msg, 2, -1 },
  { "help", "help [command]", "this help", do_help, 0, 1 },
};

static gboolean
do_help (SmmpRoom *room, GPtrArray *words, const char *rest, GError **error)
{
  GString *s = g_string_new ("commands (nicknames with spaces in double quotes):");
  const char *only = words->len > 1 ? g_ptr_array_index (words, 1) : NULL;

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (only == NULL || strcmp (only, commands[i].name) == 0)
      g_string_append_printf (s, "\n/smmp %s: %s", commands[i].usage, commands[i].help);
  smmp_ui_notice (smmp_room_get_conversation (room), "%s", s->str);
  g_string_free (s, TRUE);
  return TRUE;
}

/* The arguments as the user typed them.  Finch gives libpurple the typed
 * line as the command's markup, so decoding it would eat what looks like
 * a tag or an entity ("<b>", "&amp;") although Finch sends the same text
 * as a message literally. */
static char *
typed_text (const char *markup)
{
  if (g_strcmp0 (purple_core_get_ui (), "gnt-purple") == 0)
    return g_strdup (markup != NULL ? markup : "");
  return smmp_ui_markup_to_text (markup);
}

static PurpleCmdRet
on_smmp (PurpleConversation *conv, const gchar *cmd, gchar **args, gchar **error_out,
         void *data)
{
  g_autofree char *line = typed_text (args != NULL ? args[0] : NULL);
  g_autoptr (GPtrArray) words = NULL;
  g_autoptr (GError) error = NULL;
  const char *rest = "";
  const char *name;
  SmmpRoom *room = smmp_room_get (conv, TRUE);

  if (room == NULL)
    {
      *error_out = g_strdup ("SMMP works in XMPP chat rooms only");
      return PURPLE_CMD_RET_FAILED;
    }
  words = split_words (line, &rest);
  name = words->len > 0 ? g_ptr_array_index (words, 0) : "help";
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      const Command *c = &commands[i];
      gint n = (gint) words->len - 1;

      if (strcmp (name, c->name) != 0)
        continue;
      if (n < c->min_words || (c->max_words >= 0 && n > c->max_words))
        smmp_ui_error (conv, "usage: /smmp %s", c->usage);
      else if (!c->run (room, words, rest, &error))
        smmp_ui_error (conv, "/smmp %s: %s", c->name,
                       error != NULL ? error->message : "failed");
      /* Errors are shown by us, the same way in both UIs. */
      return PURPLE_CMD_RET_OK;
    }
  smmp_ui_error (conv, "no such command: /smmp %s (see /smmp help)", name);
  return PURPLE_CMD_RET_OK;
}

void
smmp_commands_register (void)
{
  smmp_cmd = purple_cmd_register (
    "smmp", "s", PURPLE_CMD_P_PLUGIN,
    PURPLE_CMD_FLAG_CHAT | PURPLE_CMD_FLAG_PRPL_ONLY | PURPLE_CMD_FLAG_ALLOW_WRONG_ARGS,
    "prpl-jabber", on_smmp,
    "smmp &lt;command&gt;: SMMP group encryption. start [nick...], status, add &lt;nick&gt;, "
    "remove &lt;nick&gt;, rekey, end, fingerprint [nick], trust &lt;nick&gt; "
    "&lt;fingerprint&gt;, distrust &lt;nick&gt;, msg &lt;nick&gt; &lt;text&gt;, help",
    NULL);
}

void
smmp_commands_unregister (void)
{
  if (smmp_cmd != 0)
    purple_cmd_unregister (smmp_cmd);
  smmp_cmd = 0;
}
