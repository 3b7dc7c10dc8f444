/* smmp-error.c: the error domain of the SMMP core. */
#include "smmp-error.h"

G_DEFINE_QUARK (smmp-error-quark, smmp_error)

const char *
smmp_error_code_name (SmmpErrorCode code)
{
  switch (code)
    {
    case SMMP_ERROR_MALFORMED: return "malformed";
    case SMMP_ERROR_TOO_LARGE: return "too-large";
    case SMMP_ERROR_VERSION: return "version";
    case SMMP_ERROR_NOT_FOR_SESSION: return "not-for-session";
    case SMMP_ERROR_FORGED: return "forged";
    case SMMP_ERROR_REPLAYED: return "replayed";
    case SMMP_ERROR_AUTH_FAILED: return "auth-failed";
    case SMMP_ERROR_BAD_ELEMENT: return "bad-element";
    case SMMP_ERROR_CONFIRM_FAILED: return "confirm-failed";
    case SMMP_ERROR_TIMEOUT: return "timeout";
    case SMMP_ERROR_REFUSED: return "refused";
    case SMMP_ERROR_NOT_INVITED: return "not-invited";
    case SMMP_ERROR_UNEXPECTED: return "unexpected";
    case SMMP_ERROR_INVALID: return "invalid";
    case SMMP_ERROR_STORAGE: return "storage";
    case SMMP_ERROR_STALE: return "stale";
    case SMMP_ERROR_UNDECRYPTABLE: return "undecryptable";
    case SMMP_ERROR_STALE_KEY: return "stale-key";
    case SMMP_ERROR_NO_SESSION: return "no-session";
    }
  return "unknown";
}
