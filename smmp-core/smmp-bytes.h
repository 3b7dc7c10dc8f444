/* smmp-bytes.h: big-endian integers in frames, for the core's own modules. */
#ifndef SMMP_BYTES_H
#define SMMP_BYTES_H

#include <glib.h>

static inline void
smmp_put_be32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

static inline guint32
smmp_read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/* TRUE iff the @len bytes at @text are all of standard base64's alphabet
 * with its padding.  libsodium 1.0.18 decodes bytes >= 0x80 as if they were
 * '/': every strict reader checks this first. */
static inline gboolean
smmp_base64_alphabet_ok (const char *text, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '/' && text[i] != '=')
      return FALSE;
  return TRUE;
}

#endif /* SMMP_BYTES_H */
