/* smmp-commands.h: the /smmp command of XMPP chats.  Registered while the
 * plugin is loaded; owns nothing beyond its command id. */
#ifndef SMMP_COMMANDS_H
#define SMMP_COMMANDS_H

#include <glib.h>

G_BEGIN_DECLS

void smmp_commands_register (void);
void smmp_commands_unregister (void);

G_END_DECLS

#endif /* SMMP_COMMANDS_H */
