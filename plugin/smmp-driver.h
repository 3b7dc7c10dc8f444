/* smmp-driver.h: runs one SmmpSession on the GLib main loop.
 *
 * The core reads no clock and does no I/O.  The driver is the part of the
 * client that owes it both: after every call it pops the frames the
 * session wants broadcast and hands them to the caller's send callback,
 * pops the events and hands them to the event callback, and keeps the
 * deadlines the protocol leaves to the implementation (key-agreement
 * rounds, resending a frame the room may have lost, the random resync
 * back-off, periodic re-keys).  Nothing here knows about libpurple, so it
 * is tested with in-process rooms.
 *
 * Ownership: the driver owns its SmmpSession (given at construction) and
 * frees it.  Frames and events handed to callbacks are borrowed for the
 * duration of the call.  The identity the session borrows must outlive the
 * driver.
 *
 * Re-entrancy: callbacks may call any smmp_driver_* function of the same
 * driver, smmp_driver_free() included; a free from inside a callback takes
 * effect when the outermost call returns, and no callback is made after it.
 */
#ifndef SMMP_DRIVER_H
#define SMMP_DRIVER_H

#include <glib.h>

#include "smmp-session.h"

G_BEGIN_DECLS

typedef struct _SmmpDriver SmmpDriver;

typedef struct {
  /* The initiator's deadline for answers; it must be shorter than an
   * invitee's deadline for the roster (PROTOCOL.md 5.19). */
  guint answer_timeout_ms;
  guint roster_timeout_ms;
  /* Each later round (authentication, key, confirmation). */
  guint round_timeout_ms;
  /* Our data frame has waited this long for the room: send it again. */
  guint resend_timeout_ms;
  /* The resync back-off is drawn uniformly from [min, max]. */
  guint resync_backoff_min_ms;
  guint resync_backoff_max_ms;
  /* Periodic re-key (R10): checked every @rekey_check_ms (0: never);
   * 0 turns a limit off. */
  guint rekey_check_ms;
  guint rekey_max_messages;
  guint rekey_max_minutes;
} SmmpDriverConfig;

/* Defaults for a real room: seconds, not milliseconds. */
void smmp_driver_config_init (SmmpDriverConfig *config);

typedef struct {
  /* Broadcast @frame to the room (armour it first).  Required. */
  void (*send) (SmmpDriver *driver, GBytes *frame, gpointer user_data);
  /* Deliver a one-on-one @frame to @to_handle alone.  Optional: without it
   * one-on-one frames are dropped. */
  void (*send_private) (SmmpDriver *driver, const char *to_handle, GBytes *frame,
                        gpointer user_data);
  /* Show or act on @event.  Required. */
  void (*event) (SmmpDriver *driver, const SmmpEvent *event, gpointer user_data);
  /* The session changed: write smmp_session_to_json() now.  Called before
   * the frames of the same call are sent, so that a crash cannot lose a
   * frame that is already in the room.  Optional. */
  void (*save) (SmmpDriver *driver, gpointer user_data);
  /* A periodic re-key is due: the caller starts one with the room's
   * members.  Reported once per confirmed session.  Optional. */
  void (*rekey_due) (SmmpDriver *driver, gpointer user_data);
} SmmpDriverCallbacks;

/* Takes @session (transfer full).  @config and @callbacks are copied.
 * Nothing is dispatched yet: call smmp_driver_dispatch() once the caller
 * is ready for callbacks (a restored session has an event waiting). */
SmmpDriver *smmp_driver_new (SmmpSession *session, const SmmpDriverConfig *config,
                             const SmmpDriverCallbacks *callbacks, gpointer user_data);
/* Removes every timer and frees the session. NULL is allowed. */
void smmp_driver_free (SmmpDriver *driver);

/* Borrowed; valid until smmp_driver_free(). */
SmmpSession *smmp_driver_get_session (SmmpDriver *driver);
const SmmpDriverConfig *smmp_driver_get_config (SmmpDriver *driver);
/* New limits and deadlines (a preference changed); running timers keep
 * their old length. */
void smmp_driver_set_config (SmmpDriver *driver, const SmmpDriverConfig *config);

/* When the confirmed session came up, in g_get_real_time() microseconds,
 * or 0 when none; set it after a restore if the caller saved it. */
gint64 smmp_driver_get_up_since (SmmpDriver *driver);
void smmp_driver_set_up_since (SmmpDriver *driver, gint64 real_time_us);

/* The session's calls, each followed by a dispatch.  See smmp-session.h. */
gboolean smmp_driver_start (SmmpDriver *driver, const char *const *invited,
                            guint n_invited, GError **error);
gboolean smmp_driver_receive (SmmpDriver *driver, const char *sender_handle, GBytes *frame);
gboolean smmp_driver_receive_archived (SmmpDriver *driver, const char *sender_handle,
                                       GBytes *frame);
void smmp_driver_catch_up_done (SmmpDriver *driver, gboolean complete);
void smmp_driver_report_gap (SmmpDriver *driver);
gboolean smmp_driver_send (SmmpDriver *driver, const char *text, GError **error);
gboolean smmp_driver_send_private (SmmpDriver *driver, const char *to_handle,
                                   const char *text, GError **error);
gboolean smmp_driver_receive_private (SmmpDriver *driver, const char *sender_handle,
                                      GBytes *frame);

/* Pops and hands out whatever the session has queued, then re-arms the
 * timers.  The calls above do this themselves. */
void smmp_driver_dispatch (SmmpDriver *driver);

/* TRUE while a key-agreement deadline is armed (an agreement is open). */
gboolean smmp_driver_key_agreement_open (SmmpDriver *driver);

G_END_DECLS

#endif /* SMMP_DRIVER_H */
