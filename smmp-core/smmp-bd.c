/* smmp-bd.c: Burmester-Desmedt arithmetic over ffdhe3072 with libgcrypt. */
#include "smmp-bd.h"

#include <gcrypt.h>
#include <sodium.h>
#include <string.h>

/* RFC 7919 A.2: p = 2^3072 - 2^3008 + {[2^2942 * e] + 2625351} * 2^64 - 1.
 * tests/test-bd.c checks this text against that formula and that p and
 * (p-1)/2 are prime. */
const char smmp_bd_prime_hex[] =
  "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
  "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
  "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
  "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
  "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
  "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
  "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
  "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
  "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
  "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
  "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
  "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B66C62E37FFFFFFFFFFFFFFFF";

struct _SmmpBdSecret {
  gcry_mpi_t h; /* secure MPI */
};

typedef struct {
  gcry_mpi_t p;
  gcry_mpi_t p_minus_1;
  gcry_mpi_t g;
} Group;

static const Group *
group_get (void)
{
  static gsize once = 0;
  static Group group;

  if (g_once_init_enter (&once))
    {
      if (gcry_mpi_scan (&group.p, GCRYMPI_FMT_HEX, smmp_bd_prime_hex, 0, NULL) != 0)
        g_error ("smmp: cannot parse the group prime");
      group.p_minus_1 = gcry_mpi_new (0);
      gcry_mpi_sub_ui (group.p_minus_1, group.p, 1);
      group.g = gcry_mpi_set_ui (NULL, SMMP_BD_GENERATOR);
      g_once_init_leave (&once, 1);
    }
  return &group;
}

static gcry_mpi_t
element_read (const guint8 element[SMMP_BD_ELEMENT_BYTES], gboolean secure)
{
  gcry_mpi_t m = NULL;

  if (gcry_mpi_scan (&m, GCRYMPI_FMT_USG, element, SMMP_BD_ELEMENT_BYTES, NULL) != 0)
    g_error ("smmp: cannot read a group element");
  if (secure)
    gcry_mpi_set_flag (m, GCRYMPI_FLAG_SECURE);
  return m;
}

/* Writes @m as a fixed-width big-endian integer. */
static void
element_write (gcry_mpi_t m, guint8 out[SMMP_BD_ELEMENT_BYTES])
{
  size_t len = 0;

  gcry_mpi_print (GCRYMPI_FMT_USG, NULL, 0, &len, m);
  g_assert (len <= SMMP_BD_ELEMENT_BYTES);
  memset (out, 0, SMMP_BD_ELEMENT_BYTES - len);
  if (gcry_mpi_print (GCRYMPI_FMT_USG, out + SMMP_BD_ELEMENT_BYTES - len, len,
                      NULL, m) != 0)
    g_error ("smmp: cannot write a group element");
}

SmmpBdSecret *
smmp_bd_secret_generate (guint8 public_out[SMMP_BD_ELEMENT_BYTES])
{
  const Group *group = group_get ();
  const gsize nbytes = (SMMP_BD_EXPONENT_BITS + 7) / 8;
  SmmpBdSecret *secret = g_new0 (SmmpBdSecret, 1);
  guint8 *random = sodium_malloc (nbytes);
  gcry_mpi_t pub = gcry_mpi_new (0);

  if (random == NULL)
    g_error ("smmp: out of guarded memory");
  secret->h = gcry_mpi_snew (SMMP_BD_EXPONENT_BITS);
  do
    {
      /* Bits are set one by one so that h is never in ordinary memory. */
      randombytes_buf (random, nbytes);
      gcry_mpi_set_ui (secret->h, 0);
      for (guint bit = 0; bit < SMMP_BD_EXPONENT_BITS; bit++)
        if (random[bit / 8] & (1u << (bit % 8)))
          gcry_mpi_set_bit (secret->h, bit);
    }
  while (gcry_mpi_cmp_ui (secret->h, 2) < 0);
  sodium_free (random);

  gcry_mpi_powm (pub, group->g, secret->h, group->p);
  element_write (pub, public_out);
  gcry_mpi_release (pub);
  return secret;
}

void
smmp_bd_secret_free (SmmpBdSecret *secret)
{
  if (secret == NULL)
    return;
  gcry_mpi_release (secret->h); /* secure MPIs are wiped on release */
  g_free (secret);
}

gboolean
smmp_bd_element_is_valid (const guint8 element[SMMP_BD_ELEMENT_BYTES])
{
  const Group *group = group_get ();
  gcry_mpi_t y = element_read (element, FALSE);
  gboolean ok = gcry_mpi_cmp_ui (y, 1) > 0 && gcry_mpi_cmp (y, group->p_minus_1) < 0;

  gcry_mpi_release (y);
  return ok;
}

gboolean
smmp_bd_element_is_one (const guint8 element[SMMP_BD_ELEMENT_BYTES])
{
  for (gsize i = 0; i + 1 < SMMP_BD_ELEMENT_BYTES; i++)
    if (element[i] != 0)
      return FALSE;
  return element[SMMP_BD_ELEMENT_BYTES - 1] == 1;
}

void
smmp_bd_round_key (const SmmpBdSecret *secret,
                   const guint8 h_prev[SMMP_BD_ELEMENT_BYTES],
                   const guint8 h_next[SMMP_BD_ELEMENT_BYTES],
                   guint8 k_out[SMMP_BD_ELEMENT_BYTES])
{
  const Group *group = group_get ();
  gcry_mpi_t prev = element_read (h_prev, FALSE);
  gcry_mpi_t next = element_read (h_next, FALSE);
  gcry_mpi_t ratio = gcry_mpi_new (0);
  gcry_mpi_t k = gcry_mpi_new (0);

  if (!gcry_mpi_invm (ratio, prev, group->p))
    g_error ("smmp: element has no inverse (not validated?)");
  gcry_mpi_mulm (ratio, ratio, next, group->p);
  gcry_mpi_powm (k, ratio, secret->h, group->p);
  element_write (k, k_out);

  gcry_mpi_release (prev);
  gcry_mpi_release (next);
  gcry_mpi_release (ratio);
  gcry_mpi_release (k);
}

void
smmp_bd_shared_value (const SmmpBdSecret *secret, guint n, guint self,
                      const guint8 h_prev[SMMP_BD_ELEMENT_BYTES],
                      const guint8 *const *k,
                      guint8 z_out[SMMP_BD_ELEMENT_BYTES])
{
  const Group *group = group_get ();
  gcry_mpi_t prev = element_read (h_prev, FALSE);
  gcry_mpi_t a = gcry_mpi_snew (0);
  gcry_mpi_t z = gcry_mpi_snew (0);

  /* With A_0 = H_{self-1}^h = g^{h_{self-1} h_self} and
   * A_t = A_{t-1} * K_{self+t-1} = g^{h_{self+t-1} h_{self+t}},
   * Z = A_0 * A_1 * ... * A_{n-1}: the paper's product, computed with one
   * short exponentiation and 2(n-1) multiplications. */
  gcry_mpi_powm (a, prev, secret->h, group->p);
  gcry_mpi_set (z, a);
  for (guint t = 1; t < n; t++)
    {
      gcry_mpi_t kt = element_read (k[(self + t - 1) % n], FALSE);

      gcry_mpi_mulm (a, a, kt, group->p);
      gcry_mpi_mulm (z, z, a, group->p);
      gcry_mpi_release (kt);
    }
  element_write (z, z_out);

  gcry_mpi_release (prev);
  gcry_mpi_release (a);
  gcry_mpi_release (z);
}
