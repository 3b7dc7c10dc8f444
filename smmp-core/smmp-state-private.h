/* smmp-state-private.h: the layout of SmmpGroupState, for the core's own
 * modules.  Not installed. */
#ifndef SMMP_STATE_PRIVATE_H
#define SMMP_STATE_PRIVATE_H

#include "smmp-frame.h"
#include "smmp-state.h"

#define SMMP_VERIFICATION_BYTES 18

/* All secrets of a member's state, in one sodium_malloc'd block. */
typedef struct {
  guint8 rk[SMMP_KEY_BYTES];
  guint8 hk[SMMP_KEY_BYTES];
  guint8 nhk[SMMP_KEY_BYTES];
  guint8 mk[SMMP_KEY_BYTES];
  guint8 v[SMMP_KEY_BYTES];
  guint8 r[SMMP_KEY_BYTES];       /* own private ratchet key r_j */
  guint8 r_init[SMMP_KEY_BYTES];  /* r_j^init */
  /* r_j as agreed at key agreement: unlike r_j^init, a resync never
   * replaces it.  The seed of one-on-one ratchets (R11). */
  guint8 r_agreed[SMMP_KEY_BYTES];
  guint8 sign_secret[SMMP_SIGN_SECRET_BYTES];
} SmmpStateSecrets;

typedef struct {
  char *handle;
  guint8 identity_key[SMMP_KEY_PUBLIC_BYTES];
  guint8 signing_key[SMMP_KEY_PUBLIC_BYTES];
  guint8 ratchet_key[SMMP_KEY_PUBLIC_BYTES];      /* R_i */
  guint8 ratchet_key_init[SMMP_KEY_PUBLIC_BYTES]; /* R_i^init */
  guint8 ratchet_key_agreed[SMMP_KEY_PUBLIC_BYTES]; /* R_i at key agreement */
} SmmpMember;

struct _SmmpGroupState {
  guint8 sid[SMMP_SID_BYTES];
  guint8 roster_hash[SMMP_HASH_BYTES];
  guint8 transcript_hash[SMMP_HASH_BYTES];
  guint8 verification[SMMP_VERIFICATION_BYTES];
  guint8 conv_digest[SMMP_HASH_BYTES];
  gboolean resync_required;
  guint32 generation;        /* resyncs applied (R9) */
  guint32 epoch;             /* data frames applied in this generation (R6) */
  guint n;
  guint self;
  SmmpMember *members;       /* n entries */
  SmmpStateSecrets *secrets; /* guarded */
};

/* An empty state for @n members with its guarded block allocated. */
SmmpGroupState *smmp_group_state_alloc (guint n);

#include <json-glib/json-glib.h>

/* The state as members of the JSON object being built / read back. */
void smmp_group_state_build (const SmmpGroupState *state, JsonBuilder *builder);
SmmpGroupState *smmp_group_state_read (JsonObject *object, GError **error);

#endif /* SMMP_STATE_PRIVATE_H */
