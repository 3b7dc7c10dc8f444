/* smmp-armour.h: frames as text in a room message body (ruling R14).
 *
 * An armoured frame is a readable hint, a space, the tag "?SMMP1:", the
 * frame in standard base64 with padding, and a full stop:
 *
 *   [SMMP encrypted message: ...] ?SMMP1:AQE...==.
 *
 * An occupant without the plugin sees the hint first.  Decoding bounds the
 * text's length before it decodes anything.
 */
#ifndef SMMP_ARMOUR_H
#define SMMP_ARMOUR_H

#include <glib.h>

G_BEGIN_DECLS

#define SMMP_ARMOUR_TAG "?SMMP1:"
#define SMMP_ARMOUR_HINT \
  "[SMMP encrypted message: install the SMMP group encryption plugin for Pidgin or Finch to read it]"

/* The longest armoured text decoding will look at, hint included. */
gsize smmp_armour_max_chars (void);

/* Armours @frame.  Free with g_free(). */
char *smmp_armour_encode (GBytes *frame);

/* TRUE iff @text carries the armour tag: a message meant for SMMP, even if
 * it later fails to decode. */
gboolean smmp_armour_detect (const char *text);

/* Extracts the frame from armoured @text.  NULL with @error set
 * (SMMP_ERROR_TOO_LARGE or _MALFORMED) for anything else. */
GBytes *smmp_armour_decode (const char *text, GError **error);

G_END_DECLS

#endif /* SMMP_ARMOUR_H */
