/* smmp-bd.h: Burmester-Desmedt group key agreement arithmetic (paper VI.1,
 * VI.8, VI.9) in the RFC 7919 ffdhe3072 group, with libgcrypt MPIs.
 *
 * Group elements cross the wire as 384-byte big-endian integers.  Private
 * exponents are 275 bits (RFC 7919 Appendix A.2), drawn from libsodium's
 * generator and held only in libgcrypt secure memory.
 */
#ifndef SMMP_BD_H
#define SMMP_BD_H

#include <glib.h>

G_BEGIN_DECLS

#define SMMP_BD_ELEMENT_BYTES 384
#define SMMP_BD_EXPONENT_BITS 275
#define SMMP_BD_GENERATOR 2

/* The prime p of ffdhe3072 in upper-case hex, as RFC 7919 A.2 publishes it. */
extern const char smmp_bd_prime_hex[];

/* A private exponent h_j.  Opaque; free with smmp_bd_secret_free(). */
typedef struct _SmmpBdSecret SmmpBdSecret;

/* Draws h from libsodium's generator and writes H = g^h mod p. */
SmmpBdSecret *smmp_bd_secret_generate (guint8 public_out[SMMP_BD_ELEMENT_BYTES]);

/* Zeroes and frees.  NULL is allowed. */
void smmp_bd_secret_free (SmmpBdSecret *secret);

/* Range validation of a received element: TRUE iff 1 < y < p-1
 * (RFC 7919 section 5.1). */
gboolean smmp_bd_element_is_valid (const guint8 element[SMMP_BD_ELEMENT_BYTES]);

/* TRUE iff @element encodes the integer 1. */
gboolean smmp_bd_element_is_one (const guint8 element[SMMP_BD_ELEMENT_BYTES]);

/* Round 2 (VI.8): K = (H_next / H_prev)^h mod p.  Both inputs must have
 * passed smmp_bd_element_is_valid(). */
void smmp_bd_round_key (const SmmpBdSecret *secret,
                        const guint8 h_prev[SMMP_BD_ELEMENT_BYTES],
                        const guint8 h_next[SMMP_BD_ELEMENT_BYTES],
                        guint8 k_out[SMMP_BD_ELEMENT_BYTES]);

/* The shared value (VI.9) for member @self of @n:
 *   Z = H_{self-1}^{n h} * K_self^{n-1} * K_{self+1}^{n-2} * ... * K_{self-2}
 * @k holds the n round keys by index (k[self] included).  @z_out receives Z
 * and should be guarded memory: it is the master secret's input. */
void smmp_bd_shared_value (const SmmpBdSecret *secret, guint n, guint self,
                           const guint8 h_prev[SMMP_BD_ELEMENT_BYTES],
                           const guint8 *const *k,
                           guint8 z_out[SMMP_BD_ELEMENT_BYTES]);

G_END_DECLS

#endif /* SMMP_BD_H */
