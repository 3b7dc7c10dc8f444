/* smmp-init.h: one-time initialisation of the libraries the core stands on. */
#ifndef SMMP_INIT_H
#define SMMP_INIT_H

#include <glib.h>

G_BEGIN_DECLS

/* Initialises libsodium and, unless the host process already did, libgcrypt
 * (with its secure memory pool).  Safe to call more than once and from a
 * plugin loaded into a process that uses libgcrypt itself.  Returns FALSE,
 * with @error set, when a library cannot be initialised; nothing else in the
 * core may be used then. */
gboolean smmp_init (GError **error);

G_END_DECLS

#endif /* SMMP_INIT_H */
