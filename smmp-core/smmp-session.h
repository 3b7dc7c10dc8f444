/* smmp-session.h: one member's SMMP session in one room: key agreement,
 * then the conversation (paper VI-VIII; rulings R6, R10).
 *
 * Feed it every frame the room delivers, in the room's order, the member's
 * own reflected frames included; pop the frames it wants broadcast and the
 * events it reports.  Texts submitted with smmp_session_send() are queued
 * and sent one at a time: a member has one data frame in flight (R6).  A
 * frame built on a state that another frame overtook in the room is not
 * applied by anyone; its sender seals the same text again on the current
 * state and sends it by itself, so concurrent typing loses nothing.
 */
#ifndef SMMP_SESSION_H
#define SMMP_SESSION_H

#include <glib.h>

#include "smmp-event.h"
#include "smmp-identity.h"
#include "smmp-ka.h"
#include "smmp-state.h"

G_BEGIN_DECLS

typedef struct _SmmpSession SmmpSession;

/* A session for the member known in the room as @self_handle.  @identity
 * is borrowed and must outlive the session. */
SmmpSession *smmp_session_new (const SmmpIdentity *identity, const char *self_handle);
void smmp_session_free (SmmpSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmmpSession, smmp_session_free)

/* The others re-keyed without this member (the caller saw an invitation
 * that leaves it out, 6.8): nothing more is sealed under the confirmed
 * session, which nobody else reads now.  Texts wait for the next session
 * this member is in; the one in flight goes back to the head of the
 * queue, to be sealed again there (its message id keeps it from showing
 * twice).  Not saved: after a restore the caller finds out again. */
void smmp_session_mark_replaced (SmmpSession *session);

/* Invites @invited to a new key agreement (a first session, or a re-key:
 * the confirmed session, if any, serves until the new one is up). */
gboolean smmp_session_start (SmmpSession *session, const char *const *invited,
                             guint n_invited, GError **error);

/* Feeds one frame from the room.  Invitations that name this member are
 * answered.  Returns TRUE if the frame changed anything. */
gboolean smmp_session_receive (SmmpSession *session, const char *sender_handle,
                               GBytes *frame);

/* The key agreement's deadline has passed (see smmp_ka_expire()). */
void smmp_session_expire (SmmpSession *session);

/* Queues @text (UTF-8) for the group.  It is sent when the session is up
 * and no other frame of this member is in flight; until then it waits,
 * never dropped.  FALSE with @error for an empty or oversized text. */
gboolean smmp_session_send (SmmpSession *session, const char *text, GError **error);

/* The transport may have lost frames (a disconnect, a restart): the
 * session asks for catch-up (SMMP_EVENT_CATCHUP_NEEDED). */
void smmp_session_report_gap (SmmpSession *session);

/* Feeds one frame from the room's archive (history or XEP-0313), in room
 * order, while catching up.  Checked like a live frame; frames already
 * applied, from before the session or from another session are ignored
 * (R12). */
gboolean smmp_session_receive_archived (SmmpSession *session, const char *sender_handle,
                                        GBytes *frame);

/* The caller has fed, through smmp_session_receive_archived() and in room
 * order, every archived frame it could find since the member stopped.  @complete
 * is FALSE when the archive was unavailable or may miss frames: the member
 * then needs a resync (R12: resync only when catch-up cannot be had). */
void smmp_session_catch_up_done (SmmpSession *session, gboolean complete);

/* The frame in flight has waited longer than the caller's deadline (the
 * room may have dropped it): send the same frame again. */
void smmp_session_resend_due (SmmpSession *session);
/* Periodic re-key (R10): TRUE when the confirmed session has applied
 * @max_messages messages or has been up for @max_ms (the caller's clock
 * says @up_for_ms); 0 turns a limit off.  The caller then calls
 * smmp_session_start() with the room's members.  Only a new key agreement
 * gives post-compromise security; a resync does not. */
gboolean smmp_session_rekey_is_due (const SmmpSession *session, guint max_messages,
                                    gint64 up_for_ms, gint64 max_ms);

/* TRUE while a data frame of this member waits for the room. */
gboolean smmp_session_has_in_flight (const SmmpSession *session);

/* The resync back-off has passed: if a resync is still needed (nobody
 * else's came first), broadcast one (X.B.1.6-8). */
void smmp_session_resync_due (SmmpSession *session);

/* The session as JSON (ruling R13): the confirmed state, its one-on-one
 * ratchets, texts not yet sent and the frame in flight.  A key agreement under way is not kept (a
 * restart in the middle of one makes it fail; a re-key follows).  Secrets
 * and queued plaintext are inside: wipe the text, store it with mode 0600 by
 * atomic replace, after every accepted frame. */
char *smmp_session_to_json (const SmmpSession *session);

/* A session read back from smmp_session_to_json().  It reports a gap at
 * once (SMMP_EVENT_CATCHUP_NEEDED): frames may have passed while it was
 * away.  The frame in flight is offered again: if the room had it
 * already, the copy is ignored.  NULL with @error (SMMP_ERROR_STORAGE);
 * a caller that cannot restore starts a new key agreement instead. */
SmmpSession *smmp_session_restore (const SmmpIdentity *identity, const char *self_handle,
                                   const char *json, GError **error);

/* One-on-one inside the session (paper IX; R11).  Seals @text for the
 * member @to_handle of the confirmed session at once (it does not wait for
 * the room's order); pop the frame with smmp_session_pop_private_frame()
 * and deliver it to that member alone.  FALSE with @error when there is
 * no session (SMMP_ERROR_NO_SESSION) or @to_handle is not another member
 * or the text is unusable (SMMP_ERROR_INVALID).  The sender gets no event
 * for its own one-on-one message. */
gboolean smmp_session_send_private (SmmpSession *session, const char *to_handle,
                                    const char *text, GError **error);

/* The next one-on-one frame to deliver, or NULL.  @to_handle (optional)
 * gets the recipient's handle; free it with g_free(). */
GBytes *smmp_session_pop_private_frame (SmmpSession *session, char **to_handle);

/* Feeds a one-on-one frame that @sender_handle sent to this member alone.
 * A message opens as SMMP_EVENT_PRIVATE_MESSAGE; anything else is a
 * SMMP_EVENT_FRAME_REJECTED.  Returns TRUE if the session changed (save it). */
gboolean smmp_session_receive_private (SmmpSession *session, const char *sender_handle,
                                       GBytes *frame);

GBytes *smmp_session_pop_frame (SmmpSession *session);
SmmpEvent *smmp_session_pop_event (SmmpSession *session);

/* TRUE once a key agreement has been confirmed. */
gboolean smmp_session_is_up (const SmmpSession *session);
/* The confirmed state, or NULL; owned by @session. */
const SmmpGroupState *smmp_session_get_state (const SmmpSession *session);
/* The key agreement under way, or NULL; owned by @session. */
SmmpKeyAgreement *smmp_session_get_key_agreement (SmmpSession *session);
/* Texts waiting to be sent, the one in flight included. */
guint smmp_session_get_queued (const SmmpSession *session);
/* How many times a text was sealed again because another frame overtook it. */
guint smmp_session_get_retries (const SmmpSession *session);

G_END_DECLS

#endif /* SMMP_SESSION_H */
