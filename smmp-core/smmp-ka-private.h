/* smmp-ka-private.h: test-only access to a key agreement's own session
 * signing key, so that the simulator can play a malicious insider (who by
 * definition holds its own keys).  Not installed; the plugin never includes
 * it. */
#ifndef SMMP_KA_PRIVATE_H
#define SMMP_KA_PRIVATE_H

#include "smmp-ka.h"

G_BEGIN_DECLS

/* The Ed25519 secret key (64 bytes) of @ka's own session signing key, or
 * NULL once the agreement has ended. */
const guint8 *smmp_ka_testing_sign_secret (const SmmpKeyAgreement *ka);

G_END_DECLS

#endif /* SMMP_KA_PRIVATE_H */
