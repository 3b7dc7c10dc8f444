/* smmp-room.h: one secured chat room (an account and a room JID).
 *
 * A room holds the SmmpDriver of its session, the handle the session knows
 * us by, and the nicknames of members who renamed themselves since the
 * session began.  It turns what libpurple delivers into session calls
 * (smmp-signals.c routes the signals here) and the session's events into
 * what the user sees (ui/smmp-ui.h), and saves the session after every
 * change.
 *
 * A room is "secured" while its session is up, a key agreement is under
 * way, or texts wait for a session: then nothing typed in it leaves in
 * clear.
 *
 * Ownership: the registry (smmp_rooms_init/shutdown) owns every room; the
 * functions below borrow them.  A room borrows its conversation, which
 * libpurple may destroy (smmp_room_conversation_gone()); it outlives it so
 * that a reopened window finds its session again.
 */
#ifndef SMMP_ROOM_H
#define SMMP_ROOM_H

#include <glib.h>
#include <time.h>

#include <account.h>
#include <conversation.h>

#include "smmp-store.h"

G_BEGIN_DECLS

#define SMMP_PREFS_ROOT "/plugins/core/smmp"
#define SMMP_PREF_AUTO_ACCEPT SMMP_PREFS_ROOT "/auto_accept"
#define SMMP_PREF_LOG_DECRYPTED SMMP_PREFS_ROOT "/log_decrypted"
#define SMMP_PREF_REKEY_MESSAGES SMMP_PREFS_ROOT "/rekey_messages"
#define SMMP_PREF_REKEY_MINUTES SMMP_PREFS_ROOT "/rekey_minutes"
/* Key-agreement round deadline in ms (0: the default); tests shorten it. */
#define SMMP_PREF_TIMEOUT_MS SMMP_PREFS_ROOT "/timeout_ms"

typedef struct _SmmpRoom SmmpRoom;

/* The registry.  @store is borrowed until shutdown. */
void smmp_rooms_init (SmmpStore *store);
/* Saves nothing more (every change was saved), frees every room and
 * wipes the identities held in memory. */
void smmp_rooms_shutdown (void);
/* The room of @conv (a chat of prpl-jabber), made if @create. */
SmmpRoom *smmp_room_get (PurpleConversation *conv, gboolean create);
/* The room named @room_jid of @account, or NULL. */
SmmpRoom *smmp_room_find (PurpleAccount *account, const char *room_jid);

PurpleConversation *smmp_room_get_conversation (SmmpRoom *room);
/* TRUE when nothing typed may leave in clear (see above). */
gboolean smmp_room_is_secured (SmmpRoom *room);

/* ---- from libpurple (smmp-signals.c) ---- */

/* We are in the room (again): a saved session is restored, or a gap
 * reported if we were away with one. */
void smmp_room_joined (SmmpRoom *room, PurpleConversation *conv);
/* We left the room or lost the connection: frames may pass unseen. */
void smmp_room_left (SmmpRoom *room);
void smmp_room_conversation_gone (SmmpRoom *room);
/* @account went offline: every room of it is left. */
void smmp_rooms_account_gone (PurpleAccount *account);
/* Outgoing text (@markup as the UI gave it).  TRUE when the room took it:
 * the caller must then send nothing. */
gboolean smmp_room_outgoing (SmmpRoom *room, const char *markup);
/* An incoming groupchat body from @nick.  TRUE when it was a frame: the
 * caller drops the message.  Otherwise @rewrite may get a replacement
 * (a plaintext marked as not encrypted; g_free). */
gboolean smmp_room_incoming (SmmpRoom *room, const char *nick, const char *markup,
                             gboolean delayed, char **rewrite);
/* A one-on-one body from @nick (a MUC private message).  TRUE when it was
 * a frame. */
gboolean smmp_room_incoming_private (SmmpRoom *room, const char *nick, const char *markup);
void smmp_room_occupant_joined (SmmpRoom *room, const char *nick);
void smmp_room_occupant_left (SmmpRoom *room, const char *nick);
void smmp_room_occupant_renamed (SmmpRoom *room, const char *old_nick, const char *new_nick);
/* Preferences changed: new limits for every room. */
void smmp_rooms_reconfigure (void);

/* ---- for the commands ---- */

/* A new key agreement with @nicks (NULL: every other occupant). */
gboolean smmp_room_start (SmmpRoom *room, const char *const *nicks, GError **error);
/* Re-key with the members, plus @nick / minus @nick / as they are. */
gboolean smmp_room_add (SmmpRoom *room, const char *nick, GError **error);
gboolean smmp_room_remove (SmmpRoom *room, const char *nick, GError **error);
gboolean smmp_room_rekey (SmmpRoom *room, GError **error);
/* Forgets this member's session here (texts still queued are dropped);
 * from now on the room talks in clear. */
void smmp_room_end (SmmpRoom *room);
/* A description for a person: session, members, fingerprints, trust,
 * generation and epoch, verification code.  g_free. */
char *smmp_room_describe (SmmpRoom *room);
/* The fingerprint of @nick (a member or occupant seen in the session), or
 * our own when @nick is NULL.  NULL with @error. */
char *smmp_room_fingerprint (SmmpRoom *room, const char *nick, GError **error);
gboolean smmp_room_trust (SmmpRoom *room, const char *nick, const char *fingerprint,
                          GError **error);
gboolean smmp_room_distrust (SmmpRoom *room, const char *nick, GError **error);
gboolean smmp_room_send_private (SmmpRoom *room, const char *nick, const char *text,
                                 GError **error);

G_END_DECLS

#endif /* SMMP_ROOM_H */
