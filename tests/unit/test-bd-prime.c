/* test-bd-prime.c: the ffdhe3072 prime p and (p-1)/2 are both prime.
 *
 * Kept apart from test-bd.c because gcry_prime_check() runs 64 rounds of
 * Miller-Rabin on a 3072-bit number: about 2.5 s per number natively, and
 * minutes under valgrind.  test-bd.c checks that the text is the RFC 7919
 * formula's value; this program checks that the value is a safe prime. */
#include "smmp-bd.h"
#include "smmp-init.h"

#include <gcrypt.h>
#include <string.h>

static gcry_mpi_t
prime_from_text (void)
{
  gcry_mpi_t p = NULL;

  g_assert_cmpint (gcry_mpi_scan (&p, GCRYMPI_FMT_HEX, smmp_bd_prime_hex, 0, NULL),
                   ==, 0);
  g_assert_cmpuint (gcry_mpi_get_nbits (p), ==, 8 * SMMP_BD_ELEMENT_BYTES);
  return p;
}

static void
test_p_is_prime (void)
{
  gcry_mpi_t p = prime_from_text ();

  g_assert_cmpint (gcry_prime_check (p, 0), ==, 0);
  gcry_mpi_release (p);
}

static void
test_q_is_prime (void)
{
  gcry_mpi_t p = prime_from_text ();
  gcry_mpi_t q = gcry_mpi_new (0);

  gcry_mpi_sub_ui (q, p, 1);
  g_assert_false (gcry_mpi_test_bit (q, 0)); /* p - 1 is even */
  gcry_mpi_rshift (q, q, 1);
  g_assert_cmpint (gcry_prime_check (q, 0), ==, 0);
  gcry_mpi_release (p);
  gcry_mpi_release (q);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!smmp_init (NULL))
    g_error ("smmp_init failed");

  g_test_add_func ("/bd-prime/p-is-prime", test_p_is_prime);
  g_test_add_func ("/bd-prime/q-is-prime", test_q_is_prime);

  return g_test_run ();
}
