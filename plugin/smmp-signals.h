/* smmp-signals.h: the libpurple signals the plugin listens to, each routed
 * to the room it concerns (smmp-room.h).  The plugin handle owns the
 * connections; libpurple drops them when the plugin unloads. */
#ifndef SMMP_SIGNALS_H
#define SMMP_SIGNALS_H

#include <glib.h>

G_BEGIN_DECLS

void smmp_signals_connect (void *plugin);
/* Rooms joined before the plugin was loaded become known now. */
void smmp_signals_adopt_open_chats (void);

G_END_DECLS

#endif /* SMMP_SIGNALS_H */
