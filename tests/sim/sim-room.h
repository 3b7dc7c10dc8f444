/* sim-room.h: an in-process room for many SMMP members.
 *
 * The room is a total-order broadcast, like an XMPP MUC: every frame a
 * member posts enters one log, and every member (the sender included) reads
 * the log in order.  The seed drives only the schedule: which member posts
 * next and which member reads next.  Key material always comes from
 * libsodium.  When nothing is left to do, members whose key agreement is
 * still open are told their deadline passed, as the plugin's timer would.
 *
 * A post hook lets a test play a hostile room: drop, replace or equivocate
 * (deliver different frames to different members).
 */
#ifndef SIM_ROOM_H
#define SIM_ROOM_H

#include <glib.h>

#include "smmp.h"

G_BEGIN_DECLS

typedef struct _SimRoom SimRoom;

typedef struct {
  char *handle;
  SmmpIdentity *identity;
  SmmpSession *session;
  SmmpKeyAgreement *ka;    /* the session's agreement, borrowed */
  SmmpGroupState *state;   /* the session's confirmed state, borrowed */
  GPtrArray *events;       /* of SmmpEvent*: everything the engine reported */
  GPtrArray *delivered;    /* of char*: "handle: text", in the order shown */
  GQueue outbox;           /* of SimPending*: frames not yet in the room */
  guint cursor;            /* next log entry to read */
  guint depth;             /* causal depth of what this member has seen */
  gint64 cpu_ns;           /* time spent inside the engine */
  guint64 bytes_sent;
  guint64 wire_bytes_sent; /* armoured, as a room would carry them */
  guint frames_sent;
  gboolean attacker;       /* a hostile insider: not counted as honest */
  /* conversation housekeeping the member's client owes its engine */
  gboolean want_catch_up;
  gboolean want_rekey;
  guint resync_countdown;  /* steps of back-off left; 0: none pending */
  const SmmpKeyAgreement *waited_ka; /* the agreement quiet_waits counts for
                                      * (compared only: a new one at a reused
                                      * address just waits less) */
  guint quiet_waits;       /* quiet spells it has waited through */
  guint drops;             /* deliveries to this member the room lost */
  guint gap_from;          /* first log entry of the gap, or G_MAXUINT */
  guint catch_ups, rekeys; /* asked for */
  guint restarts;
} SimMember;

/* Called when a member's frame reaches the room.  The default appends it
 * for everyone; a hook decides instead (sim_room_append() as it likes). */
typedef void (*SimPostHook) (SimRoom *room, guint sender, GBytes *frame,
                             gpointer data);

SimRoom *sim_room_new (guint n_members, guint64 seed);
/* A room of @n_members whose first member invited all the others and whose
 * session is up everywhere (asserted). */
SimRoom *sim_room_new_up (guint n_members, guint64 seed);
void sim_room_free (SimRoom *room);

guint sim_room_size (SimRoom *room);
SimMember *sim_room_member (SimRoom *room, guint index);
GRand *sim_room_rand (SimRoom *room);

void sim_room_set_post_hook (SimRoom *room, SimPostHook hook, gpointer data);

/* Puts @frame into the room's order as sent by @sender.  @recipients is NULL
 * (everyone) or an array of sim_room_size() booleans. */
void sim_room_append (SimRoom *room, guint sender, GBytes *frame,
                      const gboolean *recipients);

/* Member @initiator invites all the others. */
gboolean sim_room_start_ka (SimRoom *room, guint initiator, GError **error);

/* Conversation frames (DATA, RESYNC) delivered to a member are lost with
 * probability @drop; the member's client notices (as after a disconnect)
 * and catches up from the room's archive when @archive, else resyncs. */
void sim_room_set_losses (SimRoom *room, double drop, gboolean archive);

/* Member @index's client stops and starts again: its session is saved to
 * JSON and read back, frames it had not yet posted are lost, and it goes on
 * reading the room where it stopped.  FALSE if the state did not read
 * back. */
gboolean sim_room_restart (SimRoom *room, guint index);

/* Resync frames posted, and re-keys started, in the whole room. */
guint sim_room_count_resyncs (SimRoom *room);

/* Member @initiator invites only the @n_invited members listed. */
gboolean sim_room_start_ka_with (SimRoom *room, guint initiator, const guint *invited,
                                 guint n_invited);

/* Member @index types @text. */
gboolean sim_room_send (SimRoom *room, guint index, const char *text);

/* Runs the schedule for at most @steps posts and reads; FALSE when nothing
 * was left to do (deadlines are not expired here). */
gboolean sim_room_step (SimRoom *room, guint steps);

/* Runs the schedule until nothing is left to do. */
void sim_room_run (SimRoom *room);

/* TRUE iff every honest member showed the same messages in the same order. */
gboolean sim_room_same_transcript (SimRoom *room);

/* Forgets every member's agreement, state, outbox and the room's log;
 * identities stay.  Returns the old log (of GBytes*, in order) with the
 * senders in @senders (of guint), for a replay. */
GPtrArray *sim_room_reset (SimRoom *room, GArray **senders);

/* Honest members whose session is up, and honest members that refused. */
guint sim_room_count_up (SimRoom *room);
guint sim_room_count_failed (SimRoom *room);
/* TRUE iff every honest member is up and all hold the same shared state. */
gboolean sim_room_converged (SimRoom *room);
/* The longest causal chain of frames in the log. */
guint sim_room_max_depth (SimRoom *room);
/* How many events of @type with @code (0: any) honest members reported. */
guint sim_room_count_events (SimRoom *room, SmmpEventType type, SmmpErrorCode code);

G_END_DECLS

#endif /* SIM_ROOM_H */
