/* test-bd.c: the ffdhe3072 group prime and Burmester-Desmedt arithmetic. */
#include "smmp-bd.h"
#include "smmp-init.h"

#include <gcrypt.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------- */

static gcry_mpi_t
prime_from_text (void)
{
  gcry_mpi_t p = NULL;

  g_assert_cmpint (gcry_mpi_scan (&p, GCRYMPI_FMT_HEX, smmp_bd_prime_hex, 0, NULL),
                   ==, 0);
  return p;
}

/* Writes @m as a 384-byte big-endian integer (left-padded with zeros). */
static void
mpi_to_element (gcry_mpi_t m, guint8 out[SMMP_BD_ELEMENT_BYTES])
{
  size_t len = 0;

  g_assert_cmpint (gcry_mpi_print (GCRYMPI_FMT_USG, NULL, 0, &len, m), ==, 0);
  g_assert_cmpuint (len, <=, SMMP_BD_ELEMENT_BYTES);
  memset (out, 0, SMMP_BD_ELEMENT_BYTES);
  if (len > 0)
    g_assert_cmpint (gcry_mpi_print (GCRYMPI_FMT_USG,
                                     out + SMMP_BD_ELEMENT_BYTES - len, len,
                                     NULL, m), ==, 0);
}

static gcry_mpi_t
element_to_mpi (const guint8 element[SMMP_BD_ELEMENT_BYTES])
{
  gcry_mpi_t m = NULL;

  g_assert_cmpint (gcry_mpi_scan (&m, GCRYMPI_FMT_USG, element,
                                  SMMP_BD_ELEMENT_BYTES, NULL), ==, 0);
  return m;
}

/* ---- (a) the prime against RFC 7919 A.2's formula -------------------- */

/* Extra precision for the series of e; 2942 bits are kept. */
#define E_PRECISION 3100
#define E_KEPT_BITS 2942

/* floor(2^2942 * e), from e = sum over k >= 0 of 1/k!: the sum of
 * floor(2^P / k!) at P = E_PRECISION bits, shifted right by P - 2942.
 * floor(floor(x / a) / b) = floor(x / (a b)), so each term is the previous
 * one divided by k.  The sum falls short of 2^P e by less than (terms + 2);
 * the test checks that this cannot reach the bits that are kept. */
static gcry_mpi_t
floor_2_2942_e (void)
{
  gcry_mpi_t term = gcry_mpi_new (0);
  gcry_mpi_t sum = gcry_mpi_new (0);
  gcry_mpi_t divisor = gcry_mpi_new (0);
  gcry_mpi_t quotient = gcry_mpi_new (0);
  gcry_mpi_t kept = gcry_mpi_new (0);
  gcry_mpi_t low = gcry_mpi_new (0);
  gcry_mpi_t bound = gcry_mpi_new (0);
  guint terms = 1;

  gcry_mpi_set_ui (term, 0);
  gcry_mpi_set_bit (term, E_PRECISION); /* 2^P / 0! */
  gcry_mpi_set (sum, term);
  for (gulong k = 1; gcry_mpi_cmp_ui (term, 0) != 0; k++)
    {
      gcry_mpi_t swap;

      gcry_mpi_set_ui (divisor, k);
      gcry_mpi_div (quotient, NULL, term, divisor, 0);
      swap = term;
      term = quotient;
      quotient = swap;
      gcry_mpi_add (sum, sum, term);
      terms++;
      g_assert_cmpuint (terms, <, 2000);
    }

  gcry_mpi_rshift (kept, sum, E_PRECISION - E_KEPT_BITS);

  /* low = sum - kept * 2^(P-2942); require low + terms + 2 < 2^(P-2942). */
  gcry_mpi_lshift (low, kept, E_PRECISION - E_KEPT_BITS);
  gcry_mpi_sub (low, sum, low);
  gcry_mpi_add_ui (low, low, terms + 2);
  gcry_mpi_set_ui (bound, 0);
  gcry_mpi_set_bit (bound, E_PRECISION - E_KEPT_BITS);
  g_assert_cmpint (gcry_mpi_cmp (low, bound), <, 0);

  /* 2^2942 * e lies between 2^2943 and 2^2944. */
  g_assert_cmpuint (gcry_mpi_get_nbits (kept), ==, E_KEPT_BITS + 2);

  gcry_mpi_release (term);
  gcry_mpi_release (sum);
  gcry_mpi_release (divisor);
  gcry_mpi_release (quotient);
  gcry_mpi_release (low);
  gcry_mpi_release (bound);
  return kept;
}

static void
test_prime_text_format (void)
{
  gsize len = strlen (smmp_bd_prime_hex);

  g_assert_cmpuint (len, ==, 2 * SMMP_BD_ELEMENT_BYTES);
  for (gsize i = 0; i < len; i++)
    g_assert_true (g_ascii_isdigit (smmp_bd_prime_hex[i])
                   || (smmp_bd_prime_hex[i] >= 'A' && smmp_bd_prime_hex[i] <= 'F'));
}

static void
test_prime_matches_rfc7919_formula (void)
{
  gcry_mpi_t from_text = prime_from_text ();
  gcry_mpi_t p = gcry_mpi_new (0);
  gcry_mpi_t t = gcry_mpi_new (0);
  gcry_mpi_t e_part = floor_2_2942_e ();

  /* p = 2^3072 - 2^3008 + {[2^2942 * e] + 2625351} * 2^64 - 1 */
  gcry_mpi_set_ui (p, 0);
  gcry_mpi_set_bit (p, 3072);
  gcry_mpi_set_ui (t, 0);
  gcry_mpi_set_bit (t, 3008);
  gcry_mpi_sub (p, p, t);
  gcry_mpi_add_ui (e_part, e_part, 2625351);
  gcry_mpi_mul_2exp (e_part, e_part, 64);
  gcry_mpi_add (p, p, e_part);
  gcry_mpi_sub_ui (p, p, 1);

  g_assert_cmpuint (gcry_mpi_get_nbits (p), ==, 3072);
  g_assert_cmpint (gcry_mpi_cmp (p, from_text), ==, 0);

  gcry_mpi_release (from_text);
  gcry_mpi_release (p);
  gcry_mpi_release (t);
  gcry_mpi_release (e_part);
}

/* ---- (b) a safe prime: see test-bd-prime.c ---------------------------- */

/* ---- (c) element validation ------------------------------------------ */

static void
test_element_validity (void)
{
  gcry_mpi_t p = prime_from_text ();
  gcry_mpi_t m = gcry_mpi_new (0);
  guint8 e[SMMP_BD_ELEMENT_BYTES];

  memset (e, 0, sizeof e);                      /* 0 */
  g_assert_false (smmp_bd_element_is_valid (e));
  e[SMMP_BD_ELEMENT_BYTES - 1] = 1;             /* 1 */
  g_assert_false (smmp_bd_element_is_valid (e));
  e[SMMP_BD_ELEMENT_BYTES - 1] = 2;             /* 2 */
  g_assert_true (smmp_bd_element_is_valid (e));
  e[SMMP_BD_ELEMENT_BYTES - 1] = 3;             /* 3 */
  g_assert_true (smmp_bd_element_is_valid (e));

  gcry_mpi_sub_ui (m, p, 2);                    /* p - 2 */
  mpi_to_element (m, e);
  g_assert_true (smmp_bd_element_is_valid (e));
  gcry_mpi_sub_ui (m, p, 1);                    /* p - 1 */
  mpi_to_element (m, e);
  g_assert_false (smmp_bd_element_is_valid (e));
  mpi_to_element (p, e);                        /* p */
  g_assert_false (smmp_bd_element_is_valid (e));
  gcry_mpi_add_ui (m, p, 1);                    /* p + 1 */
  mpi_to_element (m, e);
  g_assert_false (smmp_bd_element_is_valid (e));
  memset (e, 0xff, sizeof e);                   /* 2^3072 - 1 */
  g_assert_false (smmp_bd_element_is_valid (e));

  gcry_mpi_release (p);
  gcry_mpi_release (m);
}

static void
test_element_is_one (void)
{
  gcry_mpi_t p = prime_from_text ();
  guint8 e[SMMP_BD_ELEMENT_BYTES];

  memset (e, 0, sizeof e);
  g_assert_false (smmp_bd_element_is_one (e));  /* 0 */
  e[SMMP_BD_ELEMENT_BYTES - 1] = 1;
  g_assert_true (smmp_bd_element_is_one (e));   /* 1 */
  e[SMMP_BD_ELEMENT_BYTES - 2] = 1;
  g_assert_false (smmp_bd_element_is_one (e));  /* 2^8 + 1 */
  e[SMMP_BD_ELEMENT_BYTES - 2] = 0;
  e[0] = 1;
  g_assert_false (smmp_bd_element_is_one (e));  /* 2^3064 + 1 */
  e[0] = 0;
  e[SMMP_BD_ELEMENT_BYTES - 1] = 2;
  g_assert_false (smmp_bd_element_is_one (e));  /* 2 */
  memset (e, 0xff, sizeof e);
  g_assert_false (smmp_bd_element_is_one (e));  /* 2^3072 - 1 */
  mpi_to_element (p, e);
  g_assert_false (smmp_bd_element_is_one (e));  /* p (= 0 mod p, not 1) */

  gcry_mpi_release (p);
}

/* ---- (d) Burmester-Desmedt agreement ---------------------------------- */

static void
check_bd_group (guint n)
{
  SmmpBdSecret **secrets = g_new0 (SmmpBdSecret *, n);
  guint8 *h = g_malloc (n * SMMP_BD_ELEMENT_BYTES);
  guint8 *k = g_malloc (n * SMMP_BD_ELEMENT_BYTES);
  guint8 *z = g_malloc (n * SMMP_BD_ELEMENT_BYTES);
  guint8 *tampered = g_malloc (SMMP_BD_ELEMENT_BYTES);
  const guint8 **kp = g_new (const guint8 *, n);
  gcry_mpi_t p = prime_from_text ();
  gcry_mpi_t product = gcry_mpi_set_ui (NULL, 1);

#define H(i) (h + (gsize) (i) * SMMP_BD_ELEMENT_BYTES)
#define K(i) (k + (gsize) (i) * SMMP_BD_ELEMENT_BYTES)
#define Z(i) (z + (gsize) (i) * SMMP_BD_ELEMENT_BYTES)

  for (guint i = 0; i < n; i++)
    {
      secrets[i] = smmp_bd_secret_generate (H (i));
      g_assert_nonnull (secrets[i]);
      g_assert_true (smmp_bd_element_is_valid (H (i)));
    }

  /* Round 2: K_i = (H_{i+1} / H_{i-1})^{h_i}. */
  for (guint i = 0; i < n; i++)
    {
      guint prev = (i + n - 1) % n, next = (i + 1) % n;
      gcry_mpi_t ki;

      memset (K (i), 0xaa, SMMP_BD_ELEMENT_BYTES);
      smmp_bd_round_key (secrets[i], H (prev), H (next), K (i));
      if (n == 2)
        g_assert_true (smmp_bd_element_is_one (K (i))); /* prev == next */
      else
        g_assert_true (smmp_bd_element_is_valid (K (i)));
      kp[i] = K (i);

      ki = element_to_mpi (K (i));
      gcry_mpi_mulm (product, product, ki, p);
      gcry_mpi_release (ki);
    }
  /* The exponents of the K_i telescope: their product is 1. */
  g_assert_cmpint (gcry_mpi_cmp_ui (product, 1), ==, 0);

  /* Every member computes the same Z. */
  for (guint i = 0; i < n; i++)
    {
      guint prev = (i + n - 1) % n;

      memset (Z (i), 0x55, SMMP_BD_ELEMENT_BYTES);
      smmp_bd_shared_value (secrets[i], n, i, H (prev), kp, Z (i));
      g_assert_cmpmem (Z (i), SMMP_BD_ELEMENT_BYTES, Z (0), SMMP_BD_ELEMENT_BYTES);
    }
  g_assert_true (smmp_bd_element_is_valid (Z (0)));
  for (guint i = 0; i < n; i++)
    g_assert_true (memcmp (Z (0), H (i), SMMP_BD_ELEMENT_BYTES) != 0);

  /* A changed K_0 breaks agreement: member i uses K_i ... K_{i+n-2}, so
   * every member except member 1 (for whom K_0 is K_{i-1}) gets another Z. */
  memcpy (tampered, K (0), SMMP_BD_ELEMENT_BYTES);
  tampered[SMMP_BD_ELEMENT_BYTES - 1] ^= 0x02;
  g_assert_true (smmp_bd_element_is_valid (tampered));
  kp[0] = tampered;
  for (guint i = 0; i < n; i++)
    {
      guint prev = (i + n - 1) % n;
      guint8 *zt = g_malloc (SMMP_BD_ELEMENT_BYTES);

      smmp_bd_shared_value (secrets[i], n, i, H (prev), kp, zt);
      if (i == 1)
        g_assert_cmpmem (zt, SMMP_BD_ELEMENT_BYTES, Z (0), SMMP_BD_ELEMENT_BYTES);
      else
        g_assert_true (memcmp (zt, Z (0), SMMP_BD_ELEMENT_BYTES) != 0);
      g_free (zt);
    }

#undef H
#undef K
#undef Z

  for (guint i = 0; i < n; i++)
    smmp_bd_secret_free (secrets[i]);
  gcry_mpi_release (p);
  gcry_mpi_release (product);
  g_free (secrets);
  g_free (h);
  g_free (k);
  g_free (z);
  g_free (tampered);
  g_free (kp);
}

static void
test_bd_agreement (gconstpointer data)
{
  check_bd_group (GPOINTER_TO_UINT (data));
}

/* The round key depends on which neighbour is prev and which is next:
 * swapping them gives the inverse, (H0/H2)^h instead of (H2/H0)^h. */
static void
test_bd_round_key_direction (void)
{
  guint8 *h = g_malloc (3 * SMMP_BD_ELEMENT_BYTES);
  guint8 *k1 = g_malloc (SMMP_BD_ELEMENT_BYTES);
  guint8 *k2 = g_malloc (SMMP_BD_ELEMENT_BYTES);
  SmmpBdSecret *s[3];
  gcry_mpi_t p = prime_from_text ();
  gcry_mpi_t a, b, prod = gcry_mpi_new (0);

  for (guint i = 0; i < 3; i++)
    s[i] = smmp_bd_secret_generate (h + i * SMMP_BD_ELEMENT_BYTES);
  smmp_bd_round_key (s[1], h, h + 2 * SMMP_BD_ELEMENT_BYTES, k1);
  smmp_bd_round_key (s[1], h + 2 * SMMP_BD_ELEMENT_BYTES, h, k2);
  g_assert_true (memcmp (k1, k2, SMMP_BD_ELEMENT_BYTES) != 0);
  /* (H2/H0)^h * (H0/H2)^h = 1 */
  a = element_to_mpi (k1);
  b = element_to_mpi (k2);
  gcry_mpi_mulm (prod, a, b, p);
  g_assert_cmpint (gcry_mpi_cmp_ui (prod, 1), ==, 0);

  for (guint i = 0; i < 3; i++)
    smmp_bd_secret_free (s[i]);
  smmp_bd_secret_free (NULL);
  gcry_mpi_release (a);
  gcry_mpi_release (b);
  gcry_mpi_release (prod);
  gcry_mpi_release (p);
  g_free (h);
  g_free (k1);
  g_free (k2);
}

/* ---- (e) generated public elements ------------------------------------ */

#define N_GENERATED 4

static void
test_generated_elements (void)
{
  guint8 *pub = g_malloc (N_GENERATED * SMMP_BD_ELEMENT_BYTES);

  for (guint i = 0; i < N_GENERATED; i++)
    {
      guint8 *e = pub + i * SMMP_BD_ELEMENT_BYTES;
      SmmpBdSecret *s;

      memset (e, 0, SMMP_BD_ELEMENT_BYTES);
      s = smmp_bd_secret_generate (e);
      g_assert_nonnull (s);
      g_assert_true (smmp_bd_element_is_valid (e));
      g_assert_false (smmp_bd_element_is_one (e));
      for (guint j = 0; j < i; j++)
        g_assert_true (memcmp (e, pub + j * SMMP_BD_ELEMENT_BYTES,
                               SMMP_BD_ELEMENT_BYTES) != 0);
      smmp_bd_secret_free (s);
    }
  g_free (pub);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!smmp_init (NULL))
    g_error ("smmp_init failed");

  g_test_add_func ("/bd/prime/text-format", test_prime_text_format);
  g_test_add_func ("/bd/prime/rfc7919-formula", test_prime_matches_rfc7919_formula);
  g_test_add_func ("/bd/element/validity", test_element_validity);
  g_test_add_func ("/bd/element/is-one", test_element_is_one);
  g_test_add_data_func ("/bd/agreement/n2", GUINT_TO_POINTER (2), test_bd_agreement);
  g_test_add_data_func ("/bd/agreement/n3", GUINT_TO_POINTER (3), test_bd_agreement);
  g_test_add_data_func ("/bd/agreement/n4", GUINT_TO_POINTER (4), test_bd_agreement);
  g_test_add_data_func ("/bd/agreement/n5", GUINT_TO_POINTER (5), test_bd_agreement);
  g_test_add_func ("/bd/round-key/direction", test_bd_round_key_direction);
  g_test_add_func ("/bd/generate/valid-and-distinct", test_generated_elements);

  return g_test_run ();
}
