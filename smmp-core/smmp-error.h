/* smmp-error.h: the error domain of the SMMP core.
 *
 * Every rejection the core makes carries one of these codes and a sentence a
 * person can read.  The codes are stable: the plugin maps them to notices.
 */
#ifndef SMMP_ERROR_H
#define SMMP_ERROR_H

#include <glib.h>

G_BEGIN_DECLS

#define SMMP_ERROR (smmp_error_quark ())

typedef enum {
  SMMP_ERROR_MALFORMED = 1,   /* bytes that do not parse as a frame */
  SMMP_ERROR_TOO_LARGE,       /* over a hard size bound, refused before decoding */
  SMMP_ERROR_VERSION,         /* a protocol version this build does not speak */
  SMMP_ERROR_NOT_FOR_SESSION, /* another session's frame, or one from before it */
  SMMP_ERROR_FORGED,          /* a signature that does not verify */
  SMMP_ERROR_REPLAYED,        /* a frame already seen, or one sent again under a new guise */
  SMMP_ERROR_AUTH_FAILED,     /* a triple-DH MAC that does not verify: impersonation or MITM */
  SMMP_ERROR_BAD_ELEMENT,     /* a group element or curve point out of range */
  SMMP_ERROR_CONFIRM_FAILED,  /* key confirmation failed: members hold different keys */
  SMMP_ERROR_TIMEOUT,         /* a round's deadline passed; the error names who was silent */
  SMMP_ERROR_REFUSED,         /* another member refused the session */
  SMMP_ERROR_NOT_INVITED,     /* a frame from someone outside the invitation or roster */
  SMMP_ERROR_UNEXPECTED,      /* a well-formed frame that has no place in the current state */
  SMMP_ERROR_INVALID,         /* a caller's argument is not acceptable */
  SMMP_ERROR_STORAGE,         /* serialised state that cannot be read back */
  SMMP_ERROR_STALE,           /* built on an older state: not applied (R6) */
  SMMP_ERROR_UNDECRYPTABLE,   /* keys out of step: a resync is needed (paper VIII.3) */
  SMMP_ERROR_STALE_KEY,       /* signed by a member, but not under our v: re-key (R5) */
  SMMP_ERROR_NO_SESSION,      /* no confirmed session to send or read with */
} SmmpErrorCode;

GQuark smmp_error_quark (void);

/* A short, stable name for @code ("forged", "replayed", ...). Never NULL. */
const char *smmp_error_code_name (SmmpErrorCode code);

G_END_DECLS

#endif /* SMMP_ERROR_H */
