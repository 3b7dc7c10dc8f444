/* smmp-ui.c: system lines and decrypted messages in a conversation, for
 * Pidgin and Finch alike. */
#include "smmp-ui.h"

#include <stdarg.h>
#include <string.h>

#include <util.h>

static void G_GNUC_PRINTF (3, 0)
write_line (PurpleConversation *conv, PurpleMessageFlags extra, const char *format,
            va_list args)
{
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  g_autofree char *html = NULL;

  if (conv == NULL)
    return;
  text = g_strdup_vprintf (format, args);
  line = g_strconcat ("SMMP: ", text, NULL);
  html = smmp_ui_text_to_markup (line);
  /* Never logged: notices carry fingerprints and verification codes, and
   * a log is read long after the session it describes. */
  purple_conversation_write (conv, NULL, html,
                             PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG
                               | PURPLE_MESSAGE_NO_LINKIFY | extra,
                             time (NULL));
}

void
smmp_ui_notice (PurpleConversation *conv, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  write_line (conv, 0, format, args);
  va_end (args);
}

void
smmp_ui_error (PurpleConversation *conv, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  write_line (conv, PURPLE_MESSAGE_ERROR, format, args);
  va_end (args);
}

void
smmp_ui_warning (PurpleConversation *conv, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  smmp_ui_error (conv, "WARNING: %s", text);
}

void
smmp_ui_show_message (PurpleConversation *conv, const char *who, const char *text,
                      gboolean own, gboolean log, gboolean delayed, time_t when)
{
  g_autofree char *html = smmp_ui_text_to_markup (text);
  PurpleMessageFlags flags = own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV;

  if (conv == NULL || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return;
  if (!log)
    flags |= PURPLE_MESSAGE_NO_LOG;
  if (delayed)
    flags |= PURPLE_MESSAGE_DELAYED;
  purple_conv_chat_write (PURPLE_CONV_CHAT (conv), who, html, flags,
                          when != 0 ? when : time (NULL));
}

void
smmp_ui_show_private (PurpleConversation *conv, const char *who, const char *text,
                      gboolean own, gboolean log)
{
  g_autofree char *html = smmp_ui_text_to_markup (text);
  PurpleMessageFlags flags = PURPLE_MESSAGE_WHISPER
                             | (own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV);

  if (conv == NULL || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return;
  if (!log)
    flags |= PURPLE_MESSAGE_NO_LOG;
  purple_conv_chat_write (PURPLE_CONV_CHAT (conv), who, html, flags, time (NULL));
}

char *
smmp_ui_text_to_markup (const char *text)
{
  GString *out = g_string_sized_new (strlen (text) + 16);

  /* Only what HTML needs: g_markup_escape_text() would also write
   * "&apos;", which not every libpurple UI decodes. */
  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '&':
        g_string_append (out, "&amp;");
        break;
      case '<':
        g_string_append (out, "&lt;");
        break;
      case '>':
        g_string_append (out, "&gt;");
        break;
      case '"':
        g_string_append (out, "&quot;");
        break;
      case '\n':
        g_string_append (out, "<br>");
        break;
      case '\r':
        break;
      default:
        g_string_append_c (out, *p);
      }
  return g_string_free (out, FALSE);
}

/* Length of a tag at @p ("<b>", "</font>", "<br/>"), or 0 if what starts
 * at @p is not one: a tag name starts with a letter, and the tag ends at a
 * '>' before any other '<'. */
static gsize
tag_length (const char *p, gboolean *is_break)
{
  const char *q = p + 1;
  const char *name;

  if (*q == '/')
    q++;
  if (!g_ascii_isalpha (*q))
    return 0;
  name = q;
  while (*q != '\0' && *q != '>' && *q != '<')
    q++;
  if (*q != '>')
    return 0;
  *is_break = g_ascii_strncasecmp (name, "br", 2) == 0 && !g_ascii_isalnum (name[2]);
  return (gsize) (q - p) + 1;
}

/* Length of an entity at @p and its character, or 0. */
static gsize
entity_length (const char *p, gunichar *out)
{
  static const struct {
    const char *name;
    gunichar c;
  } named[] = {
    { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
    { "&apos;", '\'' }, { "&nbsp;", 0xA0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (named); i++)
    if (strncmp (p, named[i].name, strlen (named[i].name)) == 0)
      {
        *out = named[i].c;
        return strlen (named[i].name);
      }
  if (p[1] == '#')
    {
      gboolean hex = p[2] == 'x' || p[2] == 'X';
      const char *q = p + (hex ? 3 : 2);
      guint64 value = 0;
      const char *start = q;

      while (hex ? g_ascii_isxdigit (*q) : g_ascii_isdigit (*q))
        {
          value = value * (hex ? 16 : 10)
                  + (guint64) (hex ? g_ascii_xdigit_value (*q) : g_ascii_digit_value (*q));
          if (value > 0x10FFFF)
            return 0;
          q++;
        }
      if (q == start || *q != ';' || value == 0 || !g_unichar_validate ((gunichar) value))
        return 0;
      *out = (gunichar) value;
      return (gsize) (q - p) + 1;
    }
  return 0;
}

char *
smmp_ui_markup_to_text (const char *markup)
{
  GString *out;

  if (markup == NULL)
    return g_strdup ("");
  out = g_string_sized_new (strlen (markup));
  for (const char *p = markup; *p != '\0';)
    {
      gboolean is_break = FALSE;
      gunichar c = 0;
      gsize n;

      if (*p == '<' && (n = tag_length (p, &is_break)) > 0)
        {
          if (is_break)
            g_string_append_c (out, '\n');
          p += n;
        }
      else if (*p == '&' && (n = entity_length (p, &c)) > 0)
        {
          g_string_append_unichar (out, c);
          p += n;
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}
