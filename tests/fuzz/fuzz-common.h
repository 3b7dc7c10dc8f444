/* fuzz-common.h: what the fuzz targets and make-corpus share.
 *
 *  - FUZZ_CHECK: an invariant of the core; when it fails the target aborts,
 *    which libFuzzer reports as a crash (and the replay driver dies on).
 *  - The fixed Ed25519 key: make-corpus signs its seed frames with it and
 *    fuzz-frame verifies every decoded frame against it, so both the
 *    "signature verifies" and the "does not verify" paths are reached.
 *  - A deterministic random generator for libsodium, so that a key agreement
 *    built inside a fuzz target is the same on every run of the same input
 *    (a crash reproduces) and make-corpus writes the same corpus every time.
 *  - The record format of fuzz-ka (see fuzz-ka.c and README.md).
 */
#ifndef SMMP_FUZZ_COMMON_H
#define SMMP_FUZZ_COMMON_H

#include <glib.h>

G_BEGIN_DECLS

#define FUZZ_CHECK(expr)                                                    \
  G_STMT_START {                                                            \
    if (G_UNLIKELY (!(expr)))                                               \
      fuzz_check_failed (__FILE__, __LINE__, G_STRFUNC, #expr);             \
  } G_STMT_END

_Noreturn void fuzz_check_failed (const char *file, int line,
                                   const char *func, const char *expr);

/* Replaces libsodium's generator with a seeded, deterministic one (if
 * @deterministic) and runs smmp_init() once.  Aborts if the core cannot be
 * initialised.  Call at the top of every LLVMFuzzerTestOneInput(). */
void fuzz_init (gboolean deterministic);

/* Restarts the deterministic generator from @seed. */
void fuzz_rng_reset (guint64 seed);

/* The fixed Ed25519 key pair of the fuzz corpus (public 32 bytes, secret
 * 64 bytes), from a constant seed. */
void fuzz_fixed_sign_keypair (guint8 public_key[32], guint8 secret_key[64]);

/* ---- fuzz-ka records ---------------------------------------------------
 *
 * An input is a sequence of records, each a 3-byte header and a payload:
 *
 *   byte 0      control bits (below)
 *   bytes 1-2   payload length L, big-endian (clipped to what is left)
 *   L bytes     the frame, as the room delivers it
 *
 * A trailing header shorter than 3 bytes is ignored; at most
 * FUZZ_KA_MAX_RECORDS records are read.  An empty payload delivers nothing
 * (the record then only expires or holds).
 */
#define FUZZ_KA_RECORD_HEADER 3
#define FUZZ_KA_MAX_RECORDS 64

enum {
  FUZZ_KA_SENDER_MASK = 0x03,  /* sender handle: alice, bob, carol, mallory */
  FUZZ_KA_FIXUP = 0x04,        /* put in the session id, the sender's keys, its signature */
  FUZZ_KA_NOT_TO_ALICE = 0x08, /* do not deliver to the initiator "alice" */
  FUZZ_KA_NOT_TO_BOB = 0x10,   /* do not deliver to the invitee "bob" */
  FUZZ_KA_EXPIRE_ALICE = 0x20, /* then call smmp_ka_expire() on alice */
  FUZZ_KA_EXPIRE_BOB = 0x40,   /* then call smmp_ka_expire() on bob */
  FUZZ_KA_HOLD = 0x80,         /* do not relay the agreements' own frames yet */
};

enum {
  FUZZ_KA_ALICE = 0,
  FUZZ_KA_BOB = 1,
  FUZZ_KA_CAROL = 2,
  FUZZ_KA_MALLORY = 3,
};

/* Appends one record to @input. */
void fuzz_ka_append_record (GByteArray *input, guint8 control, GBytes *payload);

G_END_DECLS

#endif /* SMMP_FUZZ_COMMON_H */
