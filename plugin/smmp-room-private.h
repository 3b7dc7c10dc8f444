/* smmp-room-private.h: what the files of a room share (smmp-room.c: the
 * room, its driver, frames in and out; smmp-room-events.c: the session's
 * events, catch-up and automatic re-keys; smmp-room-admin.c: what the
 * commands do).  Not for other modules.
 */
#ifndef SMMP_ROOM_PRIVATE_H
#define SMMP_ROOM_PRIVATE_H

#include "smmp-room.h"

#include "smmp-driver.h"
#include "smmp-frame.h"
#include "smmp-mam.h"
#include "smmp-store.h"

G_BEGIN_DECLS

/* An invitation held for the user's answer (auto_accept off). */
typedef struct {
  char *nick;
  GBytes *frame;
} SmmpHeldInvite;

struct _SmmpRoom {
  PurpleAccount *account;
  char *name;                  /* room@server, lower case */
  char *owner;                 /* the account's bare JID: identity and store */
  PurpleConversation *conv;    /* borrowed; NULL once libpurple destroyed it */
  gboolean in_room;
  guint join_idle;

  SmmpDriver *driver;          /* NULL until the room is used for SMMP */
  char *self_handle;           /* the handle our session knows us by */
  GHashTable *aliases;         /* current nick -> session handle */

  /* catch-up */
  SmmpMamQuery *mam;
  gboolean catch_up_pending;   /* the core is catching up; no query runs */
  gboolean away_with_session;  /* we left while a session was up */
  guint archive_fed;
  gint64 last_frame_us;        /* real time of the last live frame fed */
  gint64 restored_up_since;
  gint64 saved_at;             /* unix seconds the restored state was saved */
  time_t feed_time;            /* the archived frame being fed: its time */
  gboolean feed_delayed;

  /* an automatic key agreement: after a member left, when a re-key is
   * due or needed */
  guint auto_timer;
  gboolean auto_first;         /* we are the member that starts it */
  guint8 auto_sid[16];         /* the session when it was scheduled */
  gboolean auto_had_session;

  GHashTable *told;            /* "sender\ncode\nmessage" rejections shown */
  gboolean told_outsider;
  /* re-keyed without us (smmp-room-return.c) */
  gboolean left_out;           /* removed while here: no automatic re-key */
  gboolean returning;          /* asking to be let back in */
  gint64 rejoined_us;          /* monotonic time we came back with a session */
  GPtrArray *replaced_by;      /* handles of the session that replaced ours
                                * while we were away; NULL if none */
  gboolean told_save_failed;
  GSList *held_invites;        /* of SmmpHeldInvite* */
};

extern SmmpStore *smmp_room_store;
extern const SmmpDriverCallbacks smmp_room_driver_callbacks;

char *smmp_bare_jid (const char *jid);
const char *smmp_room_own_nick (SmmpRoom *room);
const char *smmp_room_nick_to_handle (SmmpRoom *room, const char *nick);
const char *smmp_room_handle_to_nick (SmmpRoom *room, const char *handle);
gboolean smmp_room_has_occupant (SmmpRoom *room, const char *nick);
gint smmp_room_member_index (SmmpRoom *room, const char *handle);
gboolean smmp_room_ka_open (SmmpRoom *room);
gboolean smmp_room_has_saved_session (SmmpRoom *room);
const SmmpIdentity *smmp_room_identity (SmmpRoom *room, GError **error);
void smmp_room_config (SmmpDriverConfig *config);
/* The trust store's name for a member: "jid:<real bare JID>" when the room
 * shows it, else "nick:<room>/<handle>".  g_free. */
char *smmp_room_peer_id (SmmpRoom *room, const char *handle);
/* How a notice names an occupant: "nick (bare JID)" when the room shows
 * the real JID, since anyone may take a nickname its owner left; else the
 * nickname.  g_free. */
char *smmp_room_describe_occupant (SmmpRoom *room, const char *nick);

/* Whether @frame (decoded, may be NULL) is an INVITE that names us among
 * the invited. */
gboolean smmp_room_invitation_names_us (SmmpRoom *room, const SmmpFrame *frame);

/* smmp-room-return.c.  We are back in the room with a session. */
void smmp_room_mark_rejoined (SmmpRoom *room);
/* Looks at a frame from @nick, live (@archived_at 0) or from the archive:
 * an invitation from a member of our session without us means we were
 * removed, or re-keyed out while away. */
void smmp_room_check_exclusion (SmmpRoom *room, const char *nick, GBytes *frame,
                                time_t archived_at);
/* Re-keyed out while away: asks the new session's members present to let
 * us back in (a key agreement with them). */
void smmp_room_return_if_left (SmmpRoom *room);
/* After a text was queued: says it is held, if we were removed. */
void smmp_room_tell_held (SmmpRoom *room);
/* Forgets all of it (a session is up, the room ends or goes away). */
void smmp_room_return_clear (SmmpRoom *room);

/* Makes the driver: the saved session restored, or (if @fresh_ok) a new
 * one.  Dispatches what a restore queued. */
gboolean smmp_room_ensure_driver (SmmpRoom *room, gboolean fresh_ok, GError **error);

/* A frame for a room without a driver: a saved session takes it, or an
 * invitation naming us makes a session (or waits for the user).  TRUE
 * when the driver now exists and should be fed the frame. */
gboolean smmp_room_adopt_frame (SmmpRoom *room, const char *nick, GBytes *frame);
void smmp_held_invite_free (SmmpHeldInvite *held);

void smmp_room_on_event (SmmpDriver *driver, const SmmpEvent *event, gpointer user_data);
/* One notice per sender and reason until the next session (takes @message). */
void smmp_room_tell_rejection (SmmpRoom *room, const char *nick, int code, char *message);
void smmp_room_start_catch_up (SmmpRoom *room);
/* A re-key with the members still in the room, started by the one of
 * lowest index at once and by the others after a fallback delay if
 * nothing came. */
void smmp_room_schedule_rekey (SmmpRoom *room, const char *why);
/* The current nicks of the session's members in the room, self excluded,
 * minus @without (NULL) plus @with (NULL). */
GPtrArray *smmp_room_present_members (SmmpRoom *room, const char *without, const char *with);

G_END_DECLS

#endif /* SMMP_ROOM_PRIVATE_H */
