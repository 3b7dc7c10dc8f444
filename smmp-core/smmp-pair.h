/* smmp-pair.h: one-on-one messages between two members of a session
 * (paper IX; ruling R11).
 *
 * A two-party double ratchet (a DH ratchet over X25519 with a symmetric
 * chain per direction), seeded from the group state as the paper suggests:
 * the pair's first root key comes from ECDH(r_i, R_j) of the ratchet keys
 * agreed at key agreement (a resync does not change those), which only
 * the two of them can compute, bound to the session id and both identity
 * keys.  The member with the higher index may send before it has heard
 * anything; the one with the lower index starts its first chain with a new
 * ratchet key.  Messages that cross, arrive late or out of order open with
 * keys kept for skipped messages (at most SMMP_PAIR_MAX_SKIPPED).
 * docs/PROTOCOL.md gives the key schedule byte for byte.
 *
 * An SmmpPair belongs to one confirmed session: a new key agreement starts
 * every pair afresh.  All its secrets live in one guarded block.
 */
#ifndef SMMP_PAIR_H
#define SMMP_PAIR_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "smmp-frame.h"
#include "smmp-state.h"

G_BEGIN_DECLS

/* Message keys kept for messages not yet received, and the most one
 * message may skip. */
#define SMMP_PAIR_MAX_SKIPPED 64

typedef struct _SmmpPair SmmpPair;

/* The pair of this member of @state and member @peer (not itself). */
SmmpPair *smmp_pair_new (const SmmpGroupState *state, guint peer);
void smmp_pair_free (SmmpPair *pair);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmmpPair, smmp_pair_free)

guint smmp_pair_get_peer (const SmmpPair *pair);

/* Seals @text (UTF-8, as smmp_text_is_valid()) into a PRIVATE frame for the
 * peer, signed with this member's session key, and steps the sending chain.
 * NULL with @error (SMMP_ERROR_INVALID) for an unusable text. */
GBytes *smmp_pair_seal (SmmpPair *pair, const SmmpGroupState *state, const char *text,
                        GError **error);

/* Opens a PRIVATE @frame from the peer to this member, whose session,
 * sender, recipient and signature the caller has checked.  The pair
 * changes only when the text is returned.  NULL with @error:
 * SMMP_ERROR_REPLAYED (its key was used or dropped already),
 * SMMP_ERROR_UNDECRYPTABLE, SMMP_ERROR_TOO_LARGE (it skips too many
 * messages), SMMP_ERROR_MALFORMED (padding or text). */
char *smmp_pair_open (SmmpPair *pair, const SmmpGroupState *state,
                      const SmmpFrame *frame, GError **error);

/* The pair as members of the JSON object being built (secrets included:
 * see smmp_session_to_json()), and read back for the member of @state. */
void smmp_pair_build (const SmmpPair *pair, JsonBuilder *builder);
SmmpPair *smmp_pair_read (JsonObject *object, const SmmpGroupState *state, GError **error);

G_END_DECLS

#endif /* SMMP_PAIR_H */
