/* smmp-ui.h: what a person sees of SMMP in a conversation, the same in
 * Pidgin and in Finch.
 *
 * Everything goes through libpurple's conversation API (no GTK, no GNT),
 * so the one plugin file serves both.  Notices are system lines, never
 * logged: they can carry fingerprints and verification codes.  Decrypted
 * messages are shown as messages from their sender and logged only when
 * the user asked for it.
 *
 * Ownership: conversations are borrowed; returned strings belong to the
 * caller (g_free).
 */
#ifndef SMMP_UI_H
#define SMMP_UI_H

#include <glib.h>
#include <time.h>

#include <conversation.h>

G_BEGIN_DECLS

/* A system line from plain @format (escaped here), prefixed "SMMP: ". */
void smmp_ui_notice (PurpleConversation *conv, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* The same, marked as an error: a refused frame, a failed session. */
void smmp_ui_error (PurpleConversation *conv, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* A trust warning: an identity key that changed, or one the user
 * distrusted.  Shown as an error line that no one can mistake for chat. */
void smmp_ui_warning (PurpleConversation *conv, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* A decrypted group message from @who (plain UTF-8 @text).  @own: it is
 * ours (sent flag); @log: let libpurple log it; @when: 0 for now. */
void smmp_ui_show_message (PurpleConversation *conv, const char *who, const char *text,
                           gboolean own, gboolean log, gboolean delayed, time_t when);

/* A decrypted one-on-one message from @who, shown in the room as a
 * whisper (libpurple's flag for private lines in a chat). */
void smmp_ui_show_private (PurpleConversation *conv, const char *who, const char *text,
                           gboolean own, gboolean log);

/* Plain text from what a UI hands us: Pidgin gives HTML ("a&lt;b"), Finch
 * the raw line ("a<b").  Real tags are removed (<br> becomes a newline),
 * known entities decoded; a '<' or '&' that starts nothing is kept. */
char *smmp_ui_markup_to_text (const char *markup);

/* HTML for plain @text: escaped, newlines as <br>. */
char *smmp_ui_text_to_markup (const char *text);

G_END_DECLS

#endif /* SMMP_UI_H */
