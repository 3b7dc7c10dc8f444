/* smmp-state.h: a member's state in a confirmed session (paper V, VI.10).
 *
 * Produced by a successful key agreement.  Holds the ratchet state
 * (RK, HK, NHK, mk, v, conv_digest, r_j, r_j^init, {R_i}, {R_i^init}) in
 * libsodium guarded memory, and the roster: each member's handle, identity
 * key and session signing key.  The master key MK is never part of it.
 */
#ifndef SMMP_STATE_H
#define SMMP_STATE_H

#include <glib.h>

#include "smmp-kdf.h"

G_BEGIN_DECLS

typedef struct _SmmpGroupState SmmpGroupState;

void smmp_group_state_free (SmmpGroupState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmmpGroupState, smmp_group_state_free)

guint smmp_group_state_get_size (const SmmpGroupState *state);
guint smmp_group_state_get_self (const SmmpGroupState *state);
/* Resyncs applied (R9), and data frames applied in this generation (R6). */
guint32 smmp_group_state_get_generation (const SmmpGroupState *state);
guint32 smmp_group_state_get_epoch (const SmmpGroupState *state);
/* The session id, SMMP_SID_BYTES, owned by @state. */
const guint8 *smmp_group_state_get_sid (const SmmpGroupState *state);
/* Member @index's handle, identity key B and signing key; owned by @state. */
const char *smmp_group_state_get_handle (const SmmpGroupState *state, guint index);
const guint8 *smmp_group_state_get_identity_key (const SmmpGroupState *state, guint index);
const guint8 *smmp_group_state_get_signing_key (const SmmpGroupState *state, guint index);

/* The group verification code (MLS's authentication secret): members who
 * read the same code to each other out of band share the same session.
 * Six groups of five digits.  Free with g_free(). */
char *smmp_group_state_get_verification_code (const SmmpGroupState *state);

/* A one-way digest of everything all members must hold alike (keys, digest,
 * ratchet keys, roster).  Two members agree iff their digests are equal:
 * for tests and for the simulator's convergence check. */
void smmp_group_state_shared_digest (const SmmpGroupState *state,
                                     guint8 out[SMMP_HASH_BYTES]);

/* The whole state as a JSON object (ruling R13), secrets included: the
 * caller owns the text and must wipe it (sodium_memzero) before g_free(),
 * and store it with mode 0600 by atomic replace.  MK is never part of it. */
char *smmp_group_state_to_json (const SmmpGroupState *state);

/* Reads what smmp_group_state_to_json() wrote.  NULL with @error
 * (SMMP_ERROR_STORAGE) for anything else. */
SmmpGroupState *smmp_group_state_from_json (const char *json, GError **error);

G_END_DECLS

#endif /* SMMP_STATE_H */
