/* smmp-init.c: one-time initialisation of libsodium and libgcrypt. */
#include "smmp-init.h"
#include "smmp-error.h"

#include <gcrypt.h>
#include <sodium.h>

#define SMMP_GCRYPT_MIN_VERSION "1.8.0"
#define SMMP_GCRYPT_SECMEM_BYTES (64 * 1024)

gboolean
smmp_init (GError **error)
{
  static gsize done = 0;
  static gboolean ok = FALSE;

  if (g_once_init_enter (&done))
    {
      ok = sodium_init () >= 0;
      if (ok && !gcry_control (GCRYCTL_INITIALIZATION_FINISHED_P))
        {
          /* We own libgcrypt's set-up only when nobody else in the process
           * finished it; a host that did keeps its own settings. */
          ok = gcry_check_version (SMMP_GCRYPT_MIN_VERSION) != NULL;
          if (ok)
            {
              gcry_control (GCRYCTL_SUSPEND_SECMEM_WARN);
              gcry_control (GCRYCTL_INIT_SECMEM, SMMP_GCRYPT_SECMEM_BYTES, 0);
              gcry_control (GCRYCTL_RESUME_SECMEM_WARN);
              gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
            }
        }
      g_once_init_leave (&done, 1);
    }
  if (!ok)
    g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                         "cannot initialise libsodium or libgcrypt");
  return ok;
}
