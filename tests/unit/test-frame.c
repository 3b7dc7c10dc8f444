/* test-frame.c: encoding and strict decoding of SMMP frames.
 *
 * Malformed inputs are made by editing valid encodings byte by byte.  The
 * layouts relied on (offsets in bytes; every frame starts with the header):
 *
 *   header   version(1) type(1) sid(16)                        [0..17]
 *   INVITE   n(1), n x { len(1) handle(len) }                  unsigned
 *   ANSWER   B(32) R(32) S(32) sig(64)
 *   ROSTER   signer(1) n(1), n x { len(1) handle(len) B(32) R(32) S(32) },
 *            n_out(1), n_out x { len(1) handle(len) }, sig(64)
 *   AUTH     sender(1) H(384) MAC(32) x m, sig(64)
 *   KEY      sender(1) K(384) sig(64)
 *   CONFIRM  sender(1) confirm(32) sig(64)
 *   ABORT    sender(1) reason(1) sig(64)
 *
 * Signed frames (all but INVITE) end in a 64-byte Ed25519 signature over
 * every byte before it; DATA frames (test_verify_signature_rule) over a
 * label and a BLAKE2b-512 digest of them.
 */
#include "smmp-bd.h"
#include "smmp-error.h"
#include "smmp-frame.h"
#include "smmp-init.h"

#include <sodium.h>
#include <string.h>

#define HDR SMMP_FRAME_HEADER_BYTES
#define SIG SMMP_SIGNATURE_BYTES
#define ELEM SMMP_BD_ELEMENT_BYTES

/* ---- fixtures -------------------------------------------------------- */

static guint8 sid[SMMP_SID_BYTES];
static guint8 sign_pk[crypto_sign_PUBLICKEYBYTES];
static guint8 sign_sk[crypto_sign_SECRETKEYBYTES];
static guint8 other_pk[crypto_sign_PUBLICKEYBYTES];
static guint8 element[ELEM];
static guint8 answer_keys[3][SMMP_KEY_PUBLIC_BYTES];
static guint8 confirm_value[SMMP_MAC_BYTES];
#define N_AUTH_MACS 3
static guint8 auth_macs[N_AUTH_MACS * SMMP_MAC_BYTES];

/* INVITE: [18] n=3, [19] 5 "alice" [20..24], [25] 5 "bobby" [26..30],
 * [31] 4 "Zo\xc3\xab" [32..35]; 36 bytes. */
static const char *const invite_handles[] = { "alice", "bobby", "Zo\xc3\xab" };
#define INVITE_HANDLE0 20
#define INVITE_HANDLE1 26
#define INVITE_HANDLE2 32
#define INVITE_LEN 36

/* ROSTER: three entries with 5-byte handles, identity keys ascending by
 * their first byte; entry i starts at ROSTER_ENTRY(i); then n_out = 2 with
 * two 4-byte outsiders. */
#define N_ROSTER 3
static const char *const roster_handles[N_ROSTER] = { "alice", "bobby", "carol" };
static const char *const roster_outsiders[] = { "dave", "erin" };
static guint8 roster_keys[N_ROSTER][3][SMMP_KEY_PUBLIC_BYTES];
static SmmpRosterEntry roster_entries[N_ROSTER];
#define ROSTER_SIGNER 1
#define ROSTER_ENTRY_BYTES (1 + 5 + 3 * SMMP_KEY_PUBLIC_BYTES)
#define ROSTER_ENTRY(i) (HDR + 2 + (i) * ROSTER_ENTRY_BYTES)
#define ROSTER_B(i) (ROSTER_ENTRY (i) + 1 + 5)
#define ROSTER_N_OUT ROSTER_ENTRY (N_ROSTER)
#define ROSTER_OUT(i) (ROSTER_N_OUT + 1 + (i) * 5)
#define ROSTER_LEN (ROSTER_OUT (2) + SIG)

#define AUTH_SENDER 2
#define AUTH_MACS_AT (HDR + 1 + ELEM)
#define AUTH_LEN (AUTH_MACS_AT + N_AUTH_MACS * SMMP_MAC_BYTES + SIG)

enum { F_INVITE, F_ANSWER, F_ROSTER, F_AUTH, F_KEY, F_CONFIRM, F_ABORT, N_FRAMES };

static const SmmpFrameType frame_types[N_FRAMES] = {
  SMMP_FRAME_INVITE, SMMP_FRAME_ANSWER, SMMP_FRAME_ROSTER, SMMP_FRAME_AUTH,
  SMMP_FRAME_KEY, SMMP_FRAME_CONFIRM, SMMP_FRAME_ABORT,
};

static void
fixtures_init (void)
{
  guint8 sk2[crypto_sign_SECRETKEYBYTES];

  randombytes_buf (sid, sizeof sid);
  g_assert_cmpint (crypto_sign_keypair (sign_pk, sign_sk), ==, 0);
  g_assert_cmpint (crypto_sign_keypair (other_pk, sk2), ==, 0);
  randombytes_buf (element, sizeof element);
  randombytes_buf (answer_keys, sizeof answer_keys);
  randombytes_buf (confirm_value, sizeof confirm_value);
  randombytes_buf (auth_macs, sizeof auth_macs);
  randombytes_buf (roster_keys, sizeof roster_keys);
  for (guint i = 0; i < N_ROSTER; i++)
    {
      roster_keys[i][0][0] = (guint8) (0x10 * (i + 1)); /* ascending B */
      roster_entries[i].handle = (char *) roster_handles[i];
      roster_entries[i].identity_key = roster_keys[i][0];
      roster_entries[i].ratchet_key = roster_keys[i][1];
      roster_entries[i].signing_key = roster_keys[i][2];
    }
}

static GBytes *
encode_valid (guint which)
{
  switch (which)
    {
    case F_INVITE:
      return smmp_frame_encode_invite (sid, invite_handles, G_N_ELEMENTS (invite_handles));
    case F_ANSWER:
      return smmp_frame_encode_answer (sid, answer_keys[0], answer_keys[1],
                                       answer_keys[2], sign_sk);
    case F_ROSTER:
      return smmp_frame_encode_roster (sid, ROSTER_SIGNER, roster_entries, N_ROSTER,
                                       roster_outsiders,
                                       G_N_ELEMENTS (roster_outsiders), sign_sk);
    case F_AUTH:
      return smmp_frame_encode_auth (sid, AUTH_SENDER, element, auth_macs,
                                     N_AUTH_MACS, sign_sk);
    case F_KEY:
      return smmp_frame_encode_key (sid, 4, element, sign_sk);
    case F_CONFIRM:
      return smmp_frame_encode_confirm (sid, 0, confirm_value, sign_sk);
    case F_ABORT:
      return smmp_frame_encode_abort (sid, 3, SMMP_ERROR_CONFIRM_FAILED, sign_sk);
    }
  g_assert_not_reached ();
}

static SmmpFrame *
decode_ok (const guint8 *data, gsize len)
{
  GError *error = NULL;
  SmmpFrame *f = smmp_frame_decode (data, len, &error);

  g_assert_no_error (error);
  g_assert_nonnull (f);
  return f;
}

/* Both decoders refuse @data with @code, and do not crash. */
static void
expect_reject (const guint8 *data, gsize len, SmmpErrorCode code)
{
  GError *error = NULL;
  GBytes *bytes = g_bytes_new (data, len);
  SmmpFrame *f = smmp_frame_decode (data, len, &error);

  g_assert_null (f);
  g_assert_error (error, SMMP_ERROR, (gint) code);
  g_clear_error (&error);

  f = smmp_frame_decode_bytes (bytes, &error);
  g_assert_null (f);
  g_assert_error (error, SMMP_ERROR, (gint) code);
  g_clear_error (&error);
  g_bytes_unref (bytes);
}

static GByteArray *
editable (GBytes *bytes)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  GByteArray *a = g_byte_array_sized_new ((guint) len);

  g_byte_array_append (a, data, (guint) len);
  return a;
}

/* Checks the fields every frame has. */
static void
check_common (const SmmpFrame *f, GBytes *encoded, SmmpFrameType type)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (encoded, &len);
  gsize flen = 0;
  const guint8 *fdata = g_bytes_get_data (f->bytes, &flen);

  g_assert_cmpmem (fdata, flen, data, len);
  g_assert_cmpuint (f->version, ==, SMMP_PROTOCOL_VERSION);
  g_assert_cmpint (f->type, ==, type);
  g_assert_cmpmem (f->sid, SMMP_SID_BYTES, sid, sizeof sid);
  g_assert_true (f->sid == fdata + 2);
  if (type == SMMP_FRAME_INVITE)
    {
      g_assert_null (f->signature);
      g_assert_cmpuint (f->signed_len, ==, 0);
      g_assert_false (smmp_frame_verify (f, sign_pk));
    }
  else
    {
      g_assert_nonnull (f->signature);
      g_assert_cmpuint (f->signed_len, ==, len - SIG);
      g_assert_true (f->signature == fdata + len - SIG);
      g_assert_true (smmp_frame_verify (f, sign_pk));
      g_assert_false (smmp_frame_verify (f, other_pk));
    }
}

/* Decodes @encoded through both entry points and hands each result to
 * @check. */
static void
round_trip (GBytes *encoded, SmmpFrameType type, void (*check) (const SmmpFrame *))
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (encoded, &len);
  GError *error = NULL;
  SmmpFrame *f;

  f = smmp_frame_decode_bytes (encoded, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f);
  check_common (f, encoded, type);
  check (f);
  smmp_frame_free (f);

  f = smmp_frame_decode (data, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f);
  check_common (f, encoded, type);
  check (f);
  smmp_frame_free (f);
}

/* ---- round trips -------------------------------------------------------- */

static void
check_invite (const SmmpFrame *f)
{
  g_assert_cmpuint (f->handles->len, ==, G_N_ELEMENTS (invite_handles));
  for (guint i = 0; i < f->handles->len; i++)
    g_assert_cmpstr (g_ptr_array_index (f->handles, i), ==, invite_handles[i]);
  g_assert_cmpuint (f->n_entries, ==, 0);
  g_assert_null (f->entries);
}

static void
test_invite_round_trip (void)
{
  GBytes *b = encode_valid (F_INVITE);

  g_assert_cmpuint (g_bytes_get_size (b), ==, INVITE_LEN);
  g_assert_cmpstr (smmp_frame_type_name (SMMP_FRAME_INVITE), ==, "invite");
  round_trip (b, SMMP_FRAME_INVITE, check_invite);
  g_bytes_unref (b);
}

static void
check_answer (const SmmpFrame *f)
{
  g_assert_cmpmem (f->identity_key, 32, answer_keys[0], 32);
  g_assert_cmpmem (f->ratchet_key, 32, answer_keys[1], 32);
  g_assert_cmpmem (f->signing_key, 32, answer_keys[2], 32);
  g_assert_cmpuint (f->handles->len, ==, 0);
}

static void
test_answer_round_trip (void)
{
  GBytes *b = encode_valid (F_ANSWER);

  g_assert_cmpuint (g_bytes_get_size (b), ==, HDR + 3 * 32 + SIG);
  g_assert_cmpstr (smmp_frame_type_name (SMMP_FRAME_ANSWER), ==, "answer");
  round_trip (b, SMMP_FRAME_ANSWER, check_answer);
  g_bytes_unref (b);
}

static void
check_roster (const SmmpFrame *f)
{
  g_assert_cmpuint (f->sender, ==, ROSTER_SIGNER);
  g_assert_cmpuint (f->n_entries, ==, N_ROSTER);
  for (guint i = 0; i < N_ROSTER; i++)
    {
      g_assert_cmpstr (f->entries[i].handle, ==, roster_handles[i]);
      g_assert_cmpmem (f->entries[i].identity_key, 32, roster_keys[i][0], 32);
      g_assert_cmpmem (f->entries[i].ratchet_key, 32, roster_keys[i][1], 32);
      g_assert_cmpmem (f->entries[i].signing_key, 32, roster_keys[i][2], 32);
    }
  g_assert_cmpuint (f->handles->len, ==, G_N_ELEMENTS (roster_outsiders));
  for (guint i = 0; i < f->handles->len; i++)
    g_assert_cmpstr (g_ptr_array_index (f->handles, i), ==, roster_outsiders[i]);
}

static void
check_roster_no_outsiders (const SmmpFrame *f)
{
  g_assert_cmpuint (f->n_entries, ==, N_ROSTER);
  g_assert_cmpuint (f->handles->len, ==, 0);
}

static void
test_roster_round_trip (void)
{
  GBytes *b = encode_valid (F_ROSTER);

  g_assert_cmpuint (g_bytes_get_size (b), ==, ROSTER_LEN);
  g_assert_cmpstr (smmp_frame_type_name (SMMP_FRAME_ROSTER), ==, "roster");
  round_trip (b, SMMP_FRAME_ROSTER, check_roster);
  g_bytes_unref (b);

  b = smmp_frame_encode_roster (sid, 0, roster_entries, N_ROSTER, NULL, 0, sign_sk);
  round_trip (b, SMMP_FRAME_ROSTER, check_roster_no_outsiders);
  g_bytes_unref (b);
}

static void
check_auth (const SmmpFrame *f)
{
  g_assert_cmpuint (f->sender, ==, AUTH_SENDER);
  g_assert_cmpmem (f->element, ELEM, element, ELEM);
  g_assert_cmpuint (f->n_macs, ==, N_AUTH_MACS);
  g_assert_cmpmem (f->macs, N_AUTH_MACS * SMMP_MAC_BYTES, auth_macs, sizeof auth_macs);
}

static void
test_auth_round_trip (void)
{
  GBytes *b = encode_valid (F_AUTH);
  guint8 *many = g_malloc0 ((SMMP_MAX_MEMBERS - 1) * SMMP_MAC_BYTES);
  SmmpFrame *f;
  gsize len = 0;
  const guint8 *data;

  g_assert_cmpuint (g_bytes_get_size (b), ==, AUTH_LEN);
  g_assert_cmpstr (smmp_frame_type_name (SMMP_FRAME_AUTH), ==, "auth");
  round_trip (b, SMMP_FRAME_AUTH, check_auth);
  g_bytes_unref (b);

  /* Two members: one MAC.  The largest group: 127 MACs. */
  b = smmp_frame_encode_auth (sid, 0, element, auth_macs, 1, sign_sk);
  data = g_bytes_get_data (b, &len);
  f = decode_ok (data, len);
  g_assert_cmpuint (f->n_macs, ==, 1);
  g_assert_cmpmem (f->macs, SMMP_MAC_BYTES, auth_macs, SMMP_MAC_BYTES);
  g_assert_true (smmp_frame_verify (f, sign_pk));
  smmp_frame_free (f);
  g_bytes_unref (b);

  for (guint i = 0; i < SMMP_MAX_MEMBERS - 1; i++)
    many[i * SMMP_MAC_BYTES] = (guint8) i;
  b = smmp_frame_encode_auth (sid, 127, element, many, SMMP_MAX_MEMBERS - 1, sign_sk);
  data = g_bytes_get_data (b, &len);
  f = decode_ok (data, len);
  g_assert_cmpuint (f->sender, ==, 127);
  g_assert_cmpuint (f->n_macs, ==, SMMP_MAX_MEMBERS - 1);
  g_assert_cmpmem (f->macs, (SMMP_MAX_MEMBERS - 1) * SMMP_MAC_BYTES,
                   many, (SMMP_MAX_MEMBERS - 1) * SMMP_MAC_BYTES);
  g_assert_true (smmp_frame_verify (f, sign_pk));
  smmp_frame_free (f);
  g_bytes_unref (b);
  g_free (many);
}

static void
check_key (const SmmpFrame *f)
{
  g_assert_cmpuint (f->sender, ==, 4);
  g_assert_cmpmem (f->element, ELEM, element, ELEM);
}

static void
test_key_round_trip (void)
{
  GBytes *b = encode_valid (F_KEY);

  g_assert_cmpuint (g_bytes_get_size (b), ==, HDR + 1 + ELEM + SIG);
  g_assert_cmpstr (smmp_frame_type_name (SMMP_FRAME_KEY), ==, "key");
  round_trip (b, SMMP_FRAME_KEY, check_key);
  g_bytes_unref (b);
}

static void
check_confirm (const SmmpFrame *f)
{
  g_assert_cmpuint (f->sender, ==, 0);
  g_assert_cmpmem (f->confirm, SMMP_MAC_BYTES, confirm_value, sizeof confirm_value);
}

static void
test_confirm_round_trip (void)
{
  GBytes *b = encode_valid (F_CONFIRM);

  g_assert_cmpuint (g_bytes_get_size (b), ==, HDR + 1 + SMMP_MAC_BYTES + SIG);
  g_assert_cmpstr (smmp_frame_type_name (SMMP_FRAME_CONFIRM), ==, "confirm");
  round_trip (b, SMMP_FRAME_CONFIRM, check_confirm);
  g_bytes_unref (b);
}

static void
check_abort (const SmmpFrame *f)
{
  g_assert_cmpuint (f->sender, ==, 3);
  g_assert_cmpuint (f->reason, ==, SMMP_ERROR_CONFIRM_FAILED);
}

static void
test_abort_round_trip (void)
{
  GBytes *b = encode_valid (F_ABORT);

  g_assert_cmpuint (g_bytes_get_size (b), ==, HDR + 2 + SIG);
  g_assert_cmpstr (smmp_frame_type_name (SMMP_FRAME_ABORT), ==, "abort");
  round_trip (b, SMMP_FRAME_ABORT, check_abort);
  g_bytes_unref (b);
}

/* ---- signatures -------------------------------------------------------- */

/* Flipping one byte of a signed frame makes verification fail.  Every
 * header byte, the start of the body and the whole signature are tried,
 * and every 13th byte in between.  A flip that changes the structure may
 * make decoding fail instead; a flip in the signature never does. */
static void
test_verify_flipped (void)
{
  for (guint which = F_ANSWER; which < N_FRAMES; which++)
    {
      GBytes *b = encode_valid (which);
      GByteArray *a = editable (b);
      gsize len = a->len;
      guint decoded = 0;

      for (gsize pos = 0; pos < len; pos++)
        {
          GError *error = NULL;
          SmmpFrame *f;

          if (!(pos < HDR + 8 || pos + SIG + 8 >= len || pos % 13 == 0))
            continue;
          a->data[pos] ^= 0x01;
          f = smmp_frame_decode (a->data, a->len, &error);
          if (f == NULL)
            {
              g_assert_cmpuint (pos, <, len - SIG);
              g_assert_nonnull (error);
              g_clear_error (&error);
            }
          else
            {
              g_assert_no_error (error);
              g_assert_false (smmp_frame_verify (f, sign_pk));
              smmp_frame_free (f);
              decoded++;
            }
          a->data[pos] ^= 0x01;
        }
      /* At least the whole signature and the sid were tried. */
      g_assert_cmpuint (decoded, >=, SIG + SMMP_SID_BYTES);

      /* Unchanged again: verifies. */
      {
        SmmpFrame *f = decode_ok (a->data, a->len);

        g_assert_true (smmp_frame_verify (f, sign_pk));
        smmp_frame_free (f);
      }
      g_byte_array_unref (a);
      g_bytes_unref (b);
    }
}

/* A frame signed by another key, or with a zeroed signature, fails. */
static void
test_verify_wrong_signer (void)
{
  guint8 pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];
  GBytes *b;
  GByteArray *a;
  SmmpFrame *f;

  g_assert_cmpint (crypto_sign_keypair (pk2, sk2), ==, 0);
  b = smmp_frame_encode_confirm (sid, 1, confirm_value, sk2);
  a = editable (b);
  f = decode_ok (a->data, a->len);
  g_assert_true (smmp_frame_verify (f, pk2));
  g_assert_false (smmp_frame_verify (f, sign_pk));
  smmp_frame_free (f);

  memset (a->data + a->len - SIG, 0, SIG);
  f = decode_ok (a->data, a->len);
  g_assert_false (smmp_frame_verify (f, pk2));
  smmp_frame_free (f);

  g_byte_array_unref (a);
  g_bytes_unref (b);
}

/* A conversation frame's layout (6.3, 6.4, 6.16) with random bytes where
 * the numbers and ciphertexts go, without its signature: DATA for N = 3
 * with a 64-byte body, RESYNC, PRIVATE with a 64-byte body. */
static GByteArray *
conversation_layout (SmmpFrameType type)
{
  static const guint8 numbers[] = { 1, 3, 0, 0, 0, 2, 0, 0, 0, 9 }; /* sender, N, g, e */
  static const guint8 pair[] = { 2, 0 };                              /* sender, recipient */
  GByteArray *a = g_byte_array_new ();
  guint8 head[2] = { SMMP_PROTOCOL_VERSION, (guint8) type }, rest[512];
  gsize rest_len;

  g_byte_array_append (a, head, 2);
  g_byte_array_append (a, sid, SMMP_SID_BYTES);
  if (type == SMMP_FRAME_PRIVATE)
    {
      g_byte_array_append (a, pair, sizeof pair);
      rest_len = SMMP_KEY_PUBLIC_BYTES + 8 + SMMP_NONCE_BYTES + 64 + SMMP_AEAD_TAG_BYTES;
    }
  else
    {
      g_byte_array_append (a, numbers, sizeof numbers);
      rest_len = type == SMMP_FRAME_RESYNC
                   ? SMMP_NONCE_BYTES + SMMP_RESYNC_CT_BYTES
                   : SMMP_NONCE_BYTES + 2 * SMMP_KEY_PUBLIC_BYTES + SMMP_AEAD_TAG_BYTES
                       + SMMP_NONCE_BYTES + 64 + SMMP_AEAD_TAG_BYTES + SMMP_MAC_BYTES;
    }
  g_assert_cmpuint (rest_len, <=, sizeof rest);
  randombytes_buf (rest, rest_len);
  g_byte_array_append (a, rest, (guint) rest_len);
  return a;
}

/* R5: a DATA frame is signed over ASCII0("SMMPv1 data") || BLAKE2b-512 of
 * its bytes before the signature, RESYNC and PRIVATE over those bytes
 * themselves; a signature made by the other rule does not verify.  Every
 * byte the prehash covers is covered by the signature. */
static void
test_verify_signature_rule (void)
{
  static const SmmpFrameType types[] = {
    SMMP_FRAME_DATA, SMMP_FRAME_RESYNC, SMMP_FRAME_PRIVATE
  };

  for (guint k = 0; k < G_N_ELEMENTS (types); k++)
    {
      GByteArray *a = conversation_layout (types[k]);
      const gsize signed_len = a->len;
      guint8 sig[SIG], by_rule[SIG], other_rule[SIG];
      guint8 message[SMMP_DATA_SIGNED_BYTES];
      SmmpFrame *f;

      /* The data rule, computed here from libsodium alone. */
      memcpy (message, "SMMPv1 data", 12);
      g_assert_cmpint (crypto_generichash_blake2b (message + 12, 64, a->data, signed_len,
                                                   NULL, 0), ==, 0);
      g_assert_cmpuint (sizeof message, ==, 12 + 64);
      if (types[k] == SMMP_FRAME_DATA)
        {
          crypto_sign_detached (by_rule, NULL, message, sizeof message, sign_sk);
          crypto_sign_detached (other_rule, NULL, a->data, signed_len, sign_sk);
        }
      else
        {
          crypto_sign_detached (by_rule, NULL, a->data, signed_len, sign_sk);
          crypto_sign_detached (other_rule, NULL, message, sizeof message, sign_sk);
        }
      /* Ed25519 is deterministic: the core's signature is that one. */
      smmp_frame_sign (a->data, signed_len, sign_sk, sig);
      g_assert_cmpmem (sig, SIG, by_rule, SIG);

      g_byte_array_append (a, sig, SIG);
      f = decode_ok (a->data, a->len);
      g_assert_cmpint (f->type, ==, types[k]);
      g_assert_cmpuint (f->signed_len, ==, signed_len);
      g_assert_true (smmp_frame_verify (f, sign_pk));
      g_assert_false (smmp_frame_verify (f, other_pk));
      smmp_frame_free (f);

      memcpy (a->data + signed_len, other_rule, SIG);
      f = decode_ok (a->data, a->len);
      g_assert_false (smmp_frame_verify (f, sign_pk));
      smmp_frame_free (f);
      memcpy (a->data + signed_len, sig, SIG);

      if (types[k] == SMMP_FRAME_DATA)
        for (gsize pos = 0; pos < signed_len; pos++)
          {
            GError *error = NULL;

            a->data[pos] ^= 0x80;
            f = smmp_frame_decode (a->data, a->len, &error);
            if (f == NULL)
              g_clear_error (&error);
            else
              {
                g_assert_false (smmp_frame_verify (f, sign_pk));
                smmp_frame_free (f);
              }
            a->data[pos] ^= 0x80;
          }
      g_byte_array_unref (a);
    }
}

/* ---- rejections -------------------------------------------------------- */

/* Every strict prefix of every frame type is refused as malformed.
 *
 * One exception is in the format itself: AUTH carries no MAC count (it is
 * implied by the length), so a prefix that is shorter by a multiple of 32
 * bytes and still holds at least one MAC parses as an AUTH with fewer MACs
 * (its last 64 bytes taken as the signature).  Such a prefix must not
 * verify and must hold fewer MACs than the original (or be refused). */
static void
test_reject_truncated (void)
{
  for (guint which = 0; which < N_FRAMES; which++)
    {
      GBytes *b = encode_valid (which);
      gsize len = 0;
      const guint8 *data = g_bytes_get_data (b, &len);

      for (gsize cut = 0; cut < len; cut++)
        {
          gboolean auth_alias = which == F_AUTH && (len - cut) % SMMP_MAC_BYTES == 0
                                && (len - cut) < N_AUTH_MACS * SMMP_MAC_BYTES;

          if (auth_alias)
            {
              GError *error = NULL;
              SmmpFrame *f = smmp_frame_decode (data, cut, &error);

              if (f == NULL)
                {
                  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_MALFORMED);
                  g_clear_error (&error);
                  continue;
                }
              g_assert_no_error (error);
              g_assert_cmpuint (f->n_macs, ==, N_AUTH_MACS - (len - cut) / SMMP_MAC_BYTES);
              g_assert_false (smmp_frame_verify (f, sign_pk));
              smmp_frame_free (f);
            }
          else
            expect_reject (data, cut, SMMP_ERROR_MALFORMED);
        }
      g_bytes_unref (b);
    }
}

static void
test_reject_trailing_byte (void)
{
  for (guint which = 0; which < N_FRAMES; which++)
    {
      GBytes *b = encode_valid (which);
      GByteArray *a = editable (b);
      static const guint8 extra[] = { 0x00, 0x41, 0xff };

      for (gsize i = 0; i < G_N_ELEMENTS (extra); i++)
        {
          g_byte_array_append (a, &extra[i], 1);
          expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
          g_byte_array_set_size (a, a->len - 1);
        }
      g_byte_array_unref (a);
      g_bytes_unref (b);
    }
}

static void
test_reject_version (void)
{
  static const guint8 versions[] = { 0, 2, 3, 0xff };

  for (guint which = 0; which < N_FRAMES; which++)
    {
      GBytes *b = encode_valid (which);
      GByteArray *a = editable (b);

      g_assert_cmpuint (a->data[0], ==, SMMP_PROTOCOL_VERSION);
      g_assert_cmpuint (a->data[1], ==, frame_types[which]);
      for (gsize i = 0; i < G_N_ELEMENTS (versions); i++)
        {
          a->data[0] = versions[i];
          expect_reject (a->data, a->len, SMMP_ERROR_VERSION);
        }
      /* The version is judged before the type. */
      a->data[0] = 2;
      a->data[1] = 0x99;
      expect_reject (a->data, a->len, SMMP_ERROR_VERSION);
      g_byte_array_unref (a);
      g_bytes_unref (b);
    }
  /* A bare header of another version. */
  {
    guint8 header[HDR] = { 2, SMMP_FRAME_ABORT };

    expect_reject (header, sizeof header, SMMP_ERROR_VERSION);
  }
}

static void
test_reject_unknown_type (void)
{
  static const guint8 types[] = { 0x00, 0x08, 0x0f, 0x13, 0x7f, 0x81, 0xff };

  for (guint which = 0; which < N_FRAMES; which++)
    {
      GBytes *b = encode_valid (which);
      GByteArray *a = editable (b);

      for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
        {
          a->data[1] = types[i];
          expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
        }
      g_byte_array_unref (a);
      g_bytes_unref (b);
    }
}

static void
test_reject_too_large (void)
{
  guint8 *big = g_malloc0 (SMMP_FRAME_MAX_BYTES + 2);
  GBytes *bytes;
  GError *error = NULL;

  /* A header that would otherwise be read: version 1, AUTH. */
  big[0] = SMMP_PROTOCOL_VERSION;
  big[1] = SMMP_FRAME_AUTH;

  expect_reject (big, SMMP_FRAME_MAX_BYTES + 1, SMMP_ERROR_TOO_LARGE);
  expect_reject (big, SMMP_FRAME_MAX_BYTES + 2, SMMP_ERROR_TOO_LARGE);

  bytes = g_bytes_new_static (big, SMMP_FRAME_MAX_BYTES + 1);
  g_assert_null (smmp_frame_decode_bytes (bytes, &error));
  g_assert_error (error, SMMP_ERROR, SMMP_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_bytes_unref (bytes);

  /* Exactly the limit is looked at (and is malformed: the MAC area,
   * 65536 - 18 - 1 - 384 - 64 bytes, is not a multiple of 32). */
  expect_reject (big, SMMP_FRAME_MAX_BYTES, SMMP_ERROR_MALFORMED);
  g_free (big);
}

static void
test_reject_roster_order (void)
{
  GBytes *b = encode_valid (F_ROSTER);
  GByteArray *a = editable (b);

  g_assert_cmpuint (a->len, ==, ROSTER_LEN);
  g_assert_cmpuint (a->data[ROSTER_B (1)], ==, 0x20);

  /* B_1 equal to B_0: not strictly ascending. */
  memcpy (a->data + ROSTER_B (1), a->data + ROSTER_B (0), 32);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  memcpy (a->data + ROSTER_B (1), roster_keys[1][0], 32);
  smmp_frame_free (decode_ok (a->data, a->len));

  /* B_2 below B_1. */
  a->data[ROSTER_B (2)] = 0x05;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  a->data[ROSTER_B (2)] = 0x30;
  smmp_frame_free (decode_ok (a->data, a->len));

  /* B_1 and B_2 differing only in their last byte: the whole key is
   * compared. */
  memcpy (a->data + ROSTER_B (1), a->data + ROSTER_B (2), 32);
  a->data[ROSTER_B (1) + 31] = 0xff;
  a->data[ROSTER_B (2) + 31] = 0x00;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  a->data[ROSTER_B (1) + 31] = 0x00;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED); /* equal */
  a->data[ROSTER_B (2) + 31] = 0x01;
  {
    SmmpFrame *f = decode_ok (a->data, a->len);

    g_assert_cmpuint (f->n_entries, ==, N_ROSTER);
    smmp_frame_free (f);
  }

  g_byte_array_unref (a);
  g_bytes_unref (b);
}

static void
test_reject_roster_duplicates (void)
{
  GBytes *b = encode_valid (F_ROSTER);
  GByteArray *a = editable (b);

  /* Entry 1's handle "bobby" becomes "alice". */
  memcpy (a->data + ROSTER_ENTRY (1) + 1, "alice", 5);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  /* Entry 2's handle "carol" becomes "alice" (entry 1 restored). */
  memcpy (a->data + ROSTER_ENTRY (1) + 1, "bobby", 5);
  memcpy (a->data + ROSTER_ENTRY (2) + 1, "alice", 5);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  memcpy (a->data + ROSTER_ENTRY (2) + 1, "carol", 5);

  /* Outsider "erin" becomes "dave". */
  g_assert_cmpuint (a->data[ROSTER_OUT (1)], ==, 4);
  memcpy (a->data + ROSTER_OUT (1) + 1, "dave", 4);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  memcpy (a->data + ROSTER_OUT (1) + 1, "erin", 4);

  /* Restored: accepted. */
  {
    SmmpFrame *f = decode_ok (a->data, a->len);

    g_assert_true (smmp_frame_verify (f, sign_pk));
    smmp_frame_free (f);
  }
  g_byte_array_unref (a);
  g_bytes_unref (b);
}

static void
test_reject_roster_signer (void)
{
  GBytes *b = encode_valid (F_ROSTER);
  GByteArray *a = editable (b);
  SmmpFrame *f;

  g_assert_cmpuint (a->data[HDR], ==, ROSTER_SIGNER);
  a->data[HDR] = N_ROSTER - 1; /* the last index: fine */
  f = decode_ok (a->data, a->len);
  g_assert_cmpuint (f->sender, ==, N_ROSTER - 1);
  smmp_frame_free (f);

  a->data[HDR] = N_ROSTER; /* == n */
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  a->data[HDR] = 0xff;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  g_byte_array_unref (a);
  g_bytes_unref (b);
}

/* A roster of @n members with ascending keys, through the encoder. */
static GBytes *
roster_of (guint n)
{
  SmmpRosterEntry *entries = g_new0 (SmmpRosterEntry, n);
  guint8 *keys = g_malloc0 ((gsize) n * 32);
  char **handles = g_new0 (char *, n);
  GBytes *b;

  for (guint i = 0; i < n; i++)
    {
      keys[i * 32] = (guint8) (i >> 8);
      keys[i * 32 + 1] = (guint8) i;
      handles[i] = g_strdup_printf ("member%03u", i);
      entries[i].handle = handles[i];
      entries[i].identity_key = keys + i * 32;
      entries[i].ratchet_key = keys + i * 32;
      entries[i].signing_key = keys + i * 32;
    }
  b = smmp_frame_encode_roster (sid, 0, entries, n, NULL, 0, sign_sk);
  for (guint i = 0; i < n; i++)
    g_free (handles[i]);
  g_free (handles);
  g_free (keys);
  g_free (entries);
  return b;
}

static void
test_reject_roster_count (void)
{
  GBytes *b = encode_valid (F_ROSTER);
  GByteArray *a = editable (b);
  gsize len = 0;
  const guint8 *data;
  SmmpFrame *f;

  /* Edited count byte: n = 1 (signer 0), n = 0. */
  a->data[HDR] = 0;
  a->data[HDR + 1] = 1;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  a->data[HDR + 1] = 0;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  g_byte_array_unref (a);
  g_bytes_unref (b);

  /* Otherwise well-formed rosters of 1 and of 129 members; 2 and 128 are
   * the bounds that are accepted. */
  b = roster_of (1);
  data = g_bytes_get_data (b, &len);
  expect_reject (data, len, SMMP_ERROR_MALFORMED);
  g_bytes_unref (b);

  b = roster_of (2);
  data = g_bytes_get_data (b, &len);
  f = decode_ok (data, len);
  g_assert_cmpuint (f->n_entries, ==, 2);
  smmp_frame_free (f);
  g_bytes_unref (b);

  b = roster_of (SMMP_MAX_MEMBERS);
  data = g_bytes_get_data (b, &len);
  f = decode_ok (data, len);
  g_assert_cmpuint (f->n_entries, ==, SMMP_MAX_MEMBERS);
  g_assert_cmpstr (f->entries[SMMP_MAX_MEMBERS - 1].handle, ==, "member127");
  smmp_frame_free (f);
  g_bytes_unref (b);

  b = roster_of (SMMP_MAX_MEMBERS + 1);
  data = g_bytes_get_data (b, &len);
  expect_reject (data, len, SMMP_ERROR_MALFORMED);
  g_bytes_unref (b);
}

static void
test_reject_invite_count (void)
{
  static const char *const one[] = { "alice" };
  GBytes *b = smmp_frame_encode_invite (sid, one, 1);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (b, &len);
  char *many[SMMP_MAX_MEMBERS + 1];
  GByteArray *a;
  SmmpFrame *f;

  /* One handle: the initiator alone is no group. */
  expect_reject (data, len, SMMP_ERROR_MALFORMED);
  g_bytes_unref (b);

  /* Edited count byte of the valid invite: 1, 0, 2 (too few handles read:
   * trailing bytes) and 4 (too many). */
  b = encode_valid (F_INVITE);
  a = editable (b);
  a->data[HDR] = 1;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  a->data[HDR] = 0;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  a->data[HDR] = 2;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  a->data[HDR] = 4;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  g_byte_array_unref (a);
  g_bytes_unref (b);

  /* 128 handles are accepted, 129 are not. */
  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    many[i] = g_strdup_printf ("h%03u", i);
  b = smmp_frame_encode_invite (sid, (const char *const *) many, SMMP_MAX_MEMBERS);
  data = g_bytes_get_data (b, &len);
  f = decode_ok (data, len);
  g_assert_cmpuint (f->handles->len, ==, SMMP_MAX_MEMBERS);
  g_assert_cmpstr (g_ptr_array_index (f->handles, SMMP_MAX_MEMBERS - 1), ==, "h127");
  smmp_frame_free (f);
  g_bytes_unref (b);
  b = smmp_frame_encode_invite (sid, (const char *const *) many, SMMP_MAX_MEMBERS + 1);
  data = g_bytes_get_data (b, &len);
  expect_reject (data, len, SMMP_ERROR_MALFORMED);
  g_bytes_unref (b);
  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    g_free (many[i]);

  /* The same handle twice. */
  {
    static const char *const twice[] = { "alice", "bobby", "alice" };

    b = smmp_frame_encode_invite (sid, twice, 3);
    data = g_bytes_get_data (b, &len);
    expect_reject (data, len, SMMP_ERROR_MALFORMED);
    g_bytes_unref (b);
  }
}

/* Replaces byte @pos with @value, checks the rejection, restores it. */
static void
reject_with_byte (GByteArray *a, gsize pos, guint8 value)
{
  guint8 saved = a->data[pos];

  a->data[pos] = value;
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  a->data[pos] = saved;
}

static void
accept_with_byte (GByteArray *a, gsize pos, guint8 value)
{
  guint8 saved = a->data[pos];

  a->data[pos] = value;
  smmp_frame_free (decode_ok (a->data, a->len));
  a->data[pos] = saved;
}

static void
test_reject_handle_control (void)
{
  static const guint8 controls[] = { 0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x7f };
  GBytes *inv = encode_valid (F_INVITE);
  GBytes *ros = encode_valid (F_ROSTER);
  GByteArray *a = editable (inv);
  GByteArray *r = editable (ros);

  g_assert_cmpmem (a->data + INVITE_HANDLE0, 5, "alice", 5);
  g_assert_cmpmem (r->data + ROSTER_ENTRY (1) + 1, 5, "bobby", 5);
  g_assert_cmpmem (r->data + ROSTER_OUT (0) + 1, 4, "dave", 4);

  for (gsize i = 0; i < G_N_ELEMENTS (controls); i++)
    {
      reject_with_byte (a, INVITE_HANDLE0, controls[i]);       /* first byte */
      reject_with_byte (a, INVITE_HANDLE1 + 2, controls[i]);   /* middle */
      reject_with_byte (a, INVITE_HANDLE1 + 4, controls[i]);   /* last */
      reject_with_byte (r, ROSTER_ENTRY (1) + 3, controls[i]); /* member */
      reject_with_byte (r, ROSTER_OUT (0) + 4, controls[i]);   /* outsider */
    }
  /* Unicode controls and format characters (C1 CSI U+009B, RIGHT-TO-LEFT
   * OVERRIDE U+202E, ZERO WIDTH SPACE U+200B) are refused; a letter beyond
   * ASCII (U+00E9) is not. */
  {
    static const guint8 csi[] = { 0xc2, 0x9b }, rlo[] = { 0xe2, 0x80, 0xae },
                        zwsp[] = { 0xe2, 0x80, 0x8b }, e_acute[] = { 0xc3, 0xa9 };
    guint8 saved[3];

    memcpy (saved, a->data + INVITE_HANDLE0 + 1, 3);
    memcpy (a->data + INVITE_HANDLE0 + 1, csi, sizeof csi);
    reject_with_byte (a, INVITE_HANDLE0 + 1, csi[0]);
    memcpy (a->data + INVITE_HANDLE0 + 1, rlo, sizeof rlo);
    reject_with_byte (a, INVITE_HANDLE0 + 1, rlo[0]);
    memcpy (a->data + INVITE_HANDLE0 + 1, zwsp, sizeof zwsp);
    reject_with_byte (a, INVITE_HANDLE0 + 1, zwsp[0]);
    memcpy (a->data + INVITE_HANDLE0 + 1, saved, 3);
    memcpy (a->data + INVITE_HANDLE0 + 1, e_acute, sizeof e_acute);
    accept_with_byte (a, INVITE_HANDLE0 + 1, e_acute[0]);
    memcpy (a->data + INVITE_HANDLE0 + 1, saved, 3);
  }

  /* Printable neighbours of the refused range are accepted. */
  accept_with_byte (a, INVITE_HANDLE0 + 1, 0x20);
  accept_with_byte (a, INVITE_HANDLE0 + 1, 0x7e);
  accept_with_byte (r, ROSTER_ENTRY (1) + 3, 0x20);

  g_byte_array_unref (a);
  g_byte_array_unref (r);
  g_bytes_unref (inv);
  g_bytes_unref (ros);
}

static void
test_reject_handle_utf8 (void)
{
  GBytes *inv = encode_valid (F_INVITE);
  GBytes *ros = encode_valid (F_ROSTER);
  GByteArray *a = editable (inv);
  GByteArray *r = editable (ros);

  /* "Zo\xc3\xab": a two-byte sequence at INVITE_HANDLE2 + 2. */
  g_assert_cmpuint (a->data[INVITE_HANDLE2 - 1], ==, 4);
  g_assert_cmpuint (a->data[INVITE_HANDLE2 + 2], ==, 0xc3);

  reject_with_byte (a, INVITE_HANDLE2 + 3, 'x');     /* lead byte, no continuation */
  reject_with_byte (a, INVITE_HANDLE2 + 2, 'x');     /* lone continuation byte */
  reject_with_byte (a, INVITE_HANDLE2 + 2, 0xff);    /* never valid */
  reject_with_byte (a, INVITE_HANDLE0, 0xfe);
  reject_with_byte (a, INVITE_HANDLE0 + 4, 0xc3);    /* cut at the end */
  reject_with_byte (r, ROSTER_ENTRY (0) + 1, 0x80);  /* member handle */
  reject_with_byte (r, ROSTER_OUT (1) + 1, 0xf8);    /* outsider */

  /* Overlong NUL and a UTF-16 surrogate in "bobby". */
  {
    guint8 saved[5];

    memcpy (saved, a->data + INVITE_HANDLE1, 5);
    memcpy (a->data + INVITE_HANDLE1, "\xc0\x80" "bby", 5);
    expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
    memcpy (a->data + INVITE_HANDLE1, "\xed\xa0\x80" "by", 5);
    expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
    /* A valid three-byte sequence in the same place is fine. */
    memcpy (a->data + INVITE_HANDLE1, "\xe2\x82\xac" "by", 5);
    smmp_frame_free (decode_ok (a->data, a->len));
    memcpy (a->data + INVITE_HANDLE1, saved, 5);
  }

  g_byte_array_unref (a);
  g_byte_array_unref (r);
  g_bytes_unref (inv);
  g_bytes_unref (ros);
}

static void
test_reject_handle_empty (void)
{
  static const char *const two[] = { "alice", "bobby" };
  GBytes *b = smmp_frame_encode_invite (sid, two, 2);
  GByteArray *a = editable (b);
  GBytes *ros = encode_valid (F_ROSTER);
  GByteArray *r = editable (ros);
  GByteArray *e;

  /* [18] 2, [19] 5 "alice", [25] 5 "bobby" -> [18] 2, [19] 0, [20] 5 "bobby" */
  g_assert_cmpuint (a->len, ==, HDR + 1 + 6 + 6);
  smmp_frame_free (decode_ok (a->data, a->len));
  g_byte_array_remove_range (a, INVITE_HANDLE0, 5);
  a->data[INVITE_HANDLE0 - 1] = 0;
  g_assert_cmpuint (a->len, ==, HDR + 1 + 1 + 6);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);

  /* The same in the roster's outsider list: "dave" -> "". */
  e = g_byte_array_new ();
  g_byte_array_append (e, r->data, ROSTER_OUT (0) + 1);
  e->data[ROSTER_OUT (0)] = 0;
  g_byte_array_append (e, r->data + ROSTER_OUT (1), r->len - ROSTER_OUT (1));
  g_assert_cmpuint (e->len, ==, r->len - 4);
  expect_reject (e->data, e->len, SMMP_ERROR_MALFORMED);
  g_byte_array_unref (e);

  /* And a member's handle: "alice" -> "" (entry 0). */
  e = g_byte_array_new ();
  g_byte_array_append (e, r->data, ROSTER_ENTRY (0) + 1);
  e->data[ROSTER_ENTRY (0)] = 0;
  g_byte_array_append (e, r->data + ROSTER_ENTRY (0) + 6, r->len - ROSTER_ENTRY (0) - 6);
  expect_reject (e->data, e->len, SMMP_ERROR_MALFORMED);
  g_byte_array_unref (e);

  g_byte_array_unref (a);
  g_byte_array_unref (r);
  g_bytes_unref (b);
  g_bytes_unref (ros);
}

/* Inserts a zero byte at @pos. */
static void
insert_zero (GByteArray *a, guint pos)
{
  static const guint8 zero = 0;

  g_byte_array_append (a, &zero, 1);
  memmove (a->data + pos + 1, a->data + pos, a->len - 1 - pos);
  a->data[pos] = 0;
}

static void
test_reject_auth_mac_length (void)
{
  GBytes *b = encode_valid (F_AUTH);
  GByteArray *a = editable (b);
  guint8 *many = g_malloc0 (SMMP_MAX_MEMBERS * SMMP_MAC_BYTES);
  gsize len = 0;
  const guint8 *data;

  g_assert_cmpuint (a->len, ==, AUTH_LEN);

  /* 95 bytes of MACs. */
  g_byte_array_remove_index (a, AUTH_MACS_AT);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  /* 97 bytes. */
  insert_zero (a, AUTH_MACS_AT);
  insert_zero (a, AUTH_MACS_AT);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  /* 96 bytes again: fine. */
  g_byte_array_remove_index (a, AUTH_MACS_AT);
  smmp_frame_free (decode_ok (a->data, a->len));
  /* 1 byte, 31 bytes, 33 bytes, none. */
  g_byte_array_remove_range (a, AUTH_MACS_AT, 95);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  insert_zero (a, AUTH_MACS_AT);
  for (guint i = 0; i < 29; i++)
    insert_zero (a, AUTH_MACS_AT);
  g_assert_cmpuint (a->len, ==, AUTH_MACS_AT + 31 + SIG);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  insert_zero (a, AUTH_MACS_AT);
  insert_zero (a, AUTH_MACS_AT);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
  g_byte_array_remove_range (a, AUTH_MACS_AT, 33);
  g_assert_cmpuint (a->len, ==, AUTH_MACS_AT + SIG);
  expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);

  /* 128 MACs (a 129-member group) are too many. */
  g_bytes_unref (b);
  b = smmp_frame_encode_auth (sid, 0, element, many, SMMP_MAX_MEMBERS, sign_sk);
  data = g_bytes_get_data (b, &len);
  expect_reject (data, len, SMMP_ERROR_MALFORMED);

  g_free (many);
  g_byte_array_unref (a);
  g_bytes_unref (b);
}

/* Fixed-size frames one byte short of their body. */
static void
test_reject_short_bodies (void)
{
  for (guint which = F_ANSWER; which < N_FRAMES; which++)
    {
      GBytes *b;
      GByteArray *a;

      if (which == F_ROSTER || which == F_AUTH)
        continue;
      b = encode_valid (which);
      a = editable (b);
      /* Drop the last body byte, keep a full-length signature. */
      g_byte_array_remove_index (a, a->len - SIG - 1);
      expect_reject (a->data, a->len, SMMP_ERROR_MALFORMED);
      g_byte_array_unref (a);
      g_bytes_unref (b);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!smmp_init (NULL))
    g_error ("smmp_init failed");
  fixtures_init ();

  g_test_add_func ("/frame/round-trip/invite", test_invite_round_trip);
  g_test_add_func ("/frame/round-trip/answer", test_answer_round_trip);
  g_test_add_func ("/frame/round-trip/roster", test_roster_round_trip);
  g_test_add_func ("/frame/round-trip/auth", test_auth_round_trip);
  g_test_add_func ("/frame/round-trip/key", test_key_round_trip);
  g_test_add_func ("/frame/round-trip/confirm", test_confirm_round_trip);
  g_test_add_func ("/frame/round-trip/abort", test_abort_round_trip);
  g_test_add_func ("/frame/verify/flipped-byte", test_verify_flipped);
  g_test_add_func ("/frame/verify/wrong-signer", test_verify_wrong_signer);
  g_test_add_func ("/frame/verify/signature-rule", test_verify_signature_rule);
  g_test_add_func ("/frame/reject/truncated", test_reject_truncated);
  g_test_add_func ("/frame/reject/trailing-byte", test_reject_trailing_byte);
  g_test_add_func ("/frame/reject/short-body", test_reject_short_bodies);
  g_test_add_func ("/frame/reject/version", test_reject_version);
  g_test_add_func ("/frame/reject/unknown-type", test_reject_unknown_type);
  g_test_add_func ("/frame/reject/too-large", test_reject_too_large);
  g_test_add_func ("/frame/reject/roster-order", test_reject_roster_order);
  g_test_add_func ("/frame/reject/roster-duplicates", test_reject_roster_duplicates);
  g_test_add_func ("/frame/reject/roster-signer", test_reject_roster_signer);
  g_test_add_func ("/frame/reject/roster-count", test_reject_roster_count);
  g_test_add_func ("/frame/reject/invite-count", test_reject_invite_count);
  g_test_add_func ("/frame/reject/handle-control", test_reject_handle_control);
  g_test_add_func ("/frame/reject/handle-utf8", test_reject_handle_utf8);
  g_test_add_func ("/frame/reject/handle-empty", test_reject_handle_empty);
  g_test_add_func ("/frame/reject/auth-mac-length", test_reject_auth_mac_length);

  return g_test_run ();
}
