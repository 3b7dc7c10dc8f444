/* smmp-ka.h: authenticated group key agreement (paper VI; rulings R1, R2,
 * R5, R7, R8) as a pure state machine.
 *
 * Set-up over a room that reflects every frame to every occupant in one
 * order:
 *
 *   initiator  INVITE   session id, invited handles
 *   invitees   ANSWER   B_j, R_j, session signing key S_j (signed)
 *   initiator  ROSTER   members sorted by B, indices fixed; outsiders named
 *   everyone   AUTH     H_j and a triple-DH MAC for every other member
 *   everyone   KEY      K_j = (H_{j+1} / H_{j-1})^{h_j}
 *   everyone   CONFIRM  hmac(KDF(MK, confirm), transcript || j)
 *
 * Feed it every frame of the room with smmp_ka_receive() (its own reflected
 * frames included), and smmp_ka_expire() when the caller's round deadline
 * passes.  After each call pop the frames to broadcast and the events.
 * Nothing here does I/O or reads a clock.
 */
#ifndef SMMP_KA_H
#define SMMP_KA_H

#include <glib.h>

#include "smmp-event.h"
#include "smmp-identity.h"
#include "smmp-state.h"

G_BEGIN_DECLS

typedef struct _SmmpKeyAgreement SmmpKeyAgreement;

typedef enum {
  SMMP_KA_COLLECTING = 1, /* initiator: waiting for answers */
  SMMP_KA_AWAIT_ROSTER,   /* invitee: answered, waiting for the roster */
  SMMP_KA_AUTH,           /* round 2: collecting H_j and MACs */
  SMMP_KA_KEY,            /* round 3: collecting K_j */
  SMMP_KA_CONFIRM,        /* collecting key confirmations */
  SMMP_KA_DONE,           /* every member confirmed: the state is ready */
  SMMP_KA_FAILED,         /* ended without a session; see the event */
} SmmpKaPhase;

/* Starts a key agreement as initiator with the @n_invited occupants named
 * in @invited (not including @self_handle).  Queues the INVITE frame.
 * @identity is borrowed and must outlive the agreement.  NULL with @error
 * set when the invitation is not acceptable (no one invited, a handle
 * repeated or unusable, too many members). */
SmmpKeyAgreement *smmp_ka_initiate (const SmmpIdentity *identity,
                                    const char *self_handle,
                                    const char *const *invited, guint n_invited,
                                    GError **error);

/* Answers an INVITE frame that @sender_handle sent.  Queues the ANSWER.
 * NULL with @error set when the frame is not an acceptable invitation for
 * @self_handle (SMMP_ERROR_NOT_INVITED when it does not name us). */
SmmpKeyAgreement *smmp_ka_accept (const SmmpIdentity *identity,
                                  const char *self_handle,
                                  const char *sender_handle, GBytes *invite,
                                  GError **error);

void smmp_ka_free (SmmpKeyAgreement *ka);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmmpKeyAgreement, smmp_ka_free)

/* Feeds one frame as the room delivered it, from @sender_handle.  Returns
 * TRUE if the frame advanced the agreement; FALSE if it was ignored (own
 * reflection, a frame for someone else) or refused, in which case an event
 * says why.  Refusals that make the session impossible end it. */
gboolean smmp_ka_receive (SmmpKeyAgreement *ka, const char *sender_handle,
                          GBytes *frame);

/* The caller's deadline for the current phase has passed.  The initiator
 * closes the invitation with whoever answered; in any other phase the
 * agreement fails, naming who was silent. */
void smmp_ka_expire (SmmpKeyAgreement *ka);

/* Next frame to broadcast to the room, or NULL.  Caller owns it. */
GBytes *smmp_ka_pop_frame (SmmpKeyAgreement *ka);

/* Next event, or NULL.  Caller owns it. */
SmmpEvent *smmp_ka_pop_event (SmmpKeyAgreement *ka);

SmmpKaPhase smmp_ka_get_phase (const SmmpKeyAgreement *ka);
const char *smmp_ka_phase_name (SmmpKaPhase phase);

/* The session id, SMMP_SID_BYTES, owned by @ka. */
const guint8 *smmp_ka_get_sid (const SmmpKeyAgreement *ka);

/* After SMMP_KA_DONE: hands over the confirmed state (once; NULL after
 * that or in any other phase). */
SmmpGroupState *smmp_ka_take_state (SmmpKeyAgreement *ka);

/* Reads the session id of any frame without decoding the rest, to route it
 * to the right agreement.  FALSE when @frame is too short to carry one. */
gboolean smmp_frame_peek_sid (GBytes *frame, guint8 sid_out[16]);

/* For audits and tests: how many master keys (MK) exist in the whole
 * process right now.  MK is made and erased within one call, so outside the
 * core this is always 0. */
guint smmp_ka_master_keys_alive (void);

G_END_DECLS

#endif /* SMMP_KA_H */
