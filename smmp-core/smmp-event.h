/* smmp-event.h: what the core tells its caller.
 *
 * The core never does I/O.  Each call that feeds it input may queue frames to
 * broadcast and events; the caller pops them and acts (sends, shows,
 * saves).  Events are owned by whoever pops them.
 */
#ifndef SMMP_EVENT_H
#define SMMP_EVENT_H

#include <glib.h>

#include "smmp-error.h"

G_BEGIN_DECLS

typedef enum {
  /* The initiator fixed who takes part: @handles in index order; @outsiders
   * were invited and did not answer (no plugin, or too slow). */
  SMMP_EVENT_ROSTER_FIXED = 1,
  /* Key agreement confirmed by every member: the session is up.
   * @handles lists the members in index order. */
  SMMP_EVENT_SESSION_UP,
  /* Key agreement ended without a session.  @code and @message say why;
   * @handles names the members held responsible (silent, refusing, or whose
   * proof failed), possibly none. */
  SMMP_EVENT_SESSION_FAILED,
  /* One frame was refused; the session goes on.  @handle is who the room
   * said sent it. */
  SMMP_EVENT_FRAME_REJECTED,
  /* A message for the group, decrypted and in room order: @handle sent
   * @text; @epoch is the state it was applied at.  The sender gets its own
   * messages this way too, when the room reflects them. */
  SMMP_EVENT_MESSAGE,
  /* This member is behind (a gap was reported, or a frame came from a
   * state it has not reached): feed it the room's archive from where it
   * stopped, then call smmp_session_catch_up_done(). */
  SMMP_EVENT_CATCHUP_NEEDED,
  /* Catch-up ended; @code is 0 when it closed the gap. */
  SMMP_EVENT_CATCHUP_DONE,
  /* Keys are out of step and the archive could not help: after a random
   * back-off call smmp_session_resync_due(). */
  SMMP_EVENT_RESYNC_NEEDED,
  /* @handle's resync was applied: a new generation; messages this member
   * missed before it are lost to it. */
  SMMP_EVENT_RESYNCED,
  /* Frames signed by members no longer open under this member's v: only a
   * new key agreement helps (smmp_session_start()). */
  SMMP_EVENT_REKEY_NEEDED,
  /* A new session replaced the old one (R10): @handles joined it and
   * @outsiders were members of the old one and are not in the new. */
  SMMP_EVENT_MEMBERS_CHANGED,
  /* A one-on-one message to this member alone (R11): @handle sent @text. */
  SMMP_EVENT_PRIVATE_MESSAGE,
} SmmpEventType;

typedef struct {
  SmmpEventType type;
  SmmpErrorCode code;   /* SESSION_FAILED and FRAME_REJECTED; 0 otherwise */
  char *message;        /* a sentence a person can read; never NULL */
  char *handle;         /* FRAME_REJECTED: the sender; otherwise NULL */
  GPtrArray *handles;   /* of char*; never NULL, may be empty */
  GPtrArray *outsiders; /* of char*; never NULL, may be empty */
  char *text;           /* MESSAGE, PRIVATE_MESSAGE: the text, UTF-8; otherwise NULL */
  guint32 generation;   /* MESSAGE: the state's generation and epoch */
  guint32 epoch;
} SmmpEvent;

/* Creates an event; @message is copied.  For the core's own use. */
SmmpEvent *smmp_event_new (SmmpEventType type, SmmpErrorCode code,
                           const char *handle, const char *message);

void smmp_event_free (SmmpEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmmpEvent, smmp_event_free)

/* "session-up", "frame-rejected", ... */
const char *smmp_event_type_name (SmmpEventType type);

G_END_DECLS

#endif /* SMMP_EVENT_H */
