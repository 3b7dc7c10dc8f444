/* smmp-mam.h: reading a room's archive (XEP-0313, urn:xmpp:mam:2) to catch
 * a session up after a restart or a disconnection (R12).
 *
 * libpurple 2.14's XMPP plugin knows nothing of MAM: the query is sent raw
 * (the protocol's send_raw) and the results are taken out of the stream
 * through the "jabber-receiving-xmlnode" signal before libpurple sees
 * them, so they are never shown.  Pages are followed (RSM) until the
 * server says the result is complete.
 *
 * Ownership: a query belongs to the module until it ends; the caller may
 * cancel it, after which no callback is made.  Strings passed to callbacks
 * are borrowed for the call.
 */
#ifndef SMMP_MAM_H
#define SMMP_MAM_H

#include <glib.h>
#include <time.h>

#include <connection.h>

G_BEGIN_DECLS

typedef struct _SmmpMamQuery SmmpMamQuery;

/* One archived groupchat message: @nick sent @body (plain text) at @stamp. */
typedef void (*SmmpMamMessageFunc) (const char *nick, const char *body, time_t stamp,
                                    gpointer user_data);
/* The query ended: @ok is FALSE when the archive failed or timed out;
 * @complete is TRUE only when the server said the result is complete. */
typedef void (*SmmpMamDoneFunc) (gboolean ok, gboolean complete, gpointer user_data);

/* Connects the stanza hook; @plugin is the owner of the connection. */
void smmp_mam_init (void *plugin);
/* Ends every query without callbacks. */
void smmp_mam_shutdown (void);

/* Asks the archive of @room_jid for every message since @start (unix time,
 * 0 for everything).  NULL if the connection cannot send raw XML. */
SmmpMamQuery *smmp_mam_query (PurpleConnection *gc, const char *room_jid, time_t start,
                              guint timeout_ms, SmmpMamMessageFunc on_message,
                              SmmpMamDoneFunc on_done, gpointer user_data);
void smmp_mam_cancel (SmmpMamQuery *query);

G_END_DECLS

#endif /* SMMP_MAM_H */
