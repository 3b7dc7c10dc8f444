/* test-data-vector.c: the DATA frame of docs/PROTOCOL.md Appendix A.7.
 *
 * The frame is checked three ways: the implementation seals it byte for
 * byte; a second computation straight from sections 6.3 to 6.7, with
 * libsodium's primitives and none of the core's code, gives the same
 * bytes; and the receiver opens it and both members reach the keys the
 * appendix lists.  Whoever changes a rule that a DATA frame depends on (the
 * mask, the digest, the hmac, the signature, the layout) must change the
 * appendix and this file together. */
#include "smmp-frame.h"
#include "smmp-init.h"
#include "smmp-ratchet.h"
#include "smmp-state.h"

#include <sodium.h>
#include <string.h>

/* Appendix A.4: the session both members hold after the key agreement. */
#define SID "06cd825dc2b1538f393d5d73d6455f0b"
#define ROSTER_HASH "b9c3b9957cced78ef1cac13a405c5ad4310f4d197c19ae25d51fd35b927d27f7"
#define TRANSCRIPT_HASH "467f1cb671b7ddebb14ccfd1843f6eed8a0b2e5a317c02046e8360c85e3d9ce6"
#define VERIFICATION "fe820493942e2a85c7223a9ded1e449a6b2a"
#define RK0 "6f9353b20572842d1719fdf8e3356a65cfa9f4946e312f1ca5cd9bc705191b23"
#define HK0 "00374c6689dc71a21af3bb820c5522f6895b037bfd3867fac0301017f336be78"
#define NHK0 "fe4e56e4d1eaceb9fe0871cd5991c28dd7d06f54836427e2fe24576349687c1e"
#define MK0 "bbf0e04ced70f7917a49c1ff32258b2e6dae2013a4a2f9faea9c8591fac7f537"
#define V "3e07678f9914184ffd3d138356cb5ddadca3eb38ac15ead20269360fa3ccaa68"

typedef struct {
  const char *handle, *b_pub, *r, *r_pub, *seed, *s_pub;
} Member;

static const Member members[2] = {
  { "alice", "0303d5bd42cc5d8089327bba98d0651193ebed38da8d1a80ea6b1df689247a5b",
    "1f98b6e4a85e18fbf84e2d00965aefa89afb6165b542f71e197e7ca9561e777f",
    "bbaa69dafdd59005dfd4d04da0dd0e1111c9dfa5242fb086396e1eba91bda211",
    "a28ad4abdbf1655094ed1f4c70f869640f23bde7e7fa986bc71eac1c7f16ea76",
    "114775e7d7ba02017bb2b5435272244fa09243346a032ab7532494efd0c6dde4" },
  { "bob", "987f46565ddd0ac1e1658a8823f8f93db7915b362813040c499c5c1bc8196873",
    "cdf92d81d61f0552424cb4cf0c4c3482e8c3762f5c9da0b461fcd99f2e9d2437",
    "fbb71d3ae138f3c36ff77b67c51fc06cb1dd22975d3e621df68784267c97f951",
    "0fc8dab01f47a9d2880a8e679b465ff9168bb6409ecf4ff21c390c7bed0b7b24",
    "9fce1c59113c78861a157a1455321dd86c79386df5b95057f7228e9d53cfe5ca" },
};

/* Appendix A.7: alice (member 0) sends "hi bob" with these draws. */
#define TEXT "hi bob"
#define ID_BYTE 0x66
#define R_NEW_BYTE 0x33
#define NONCE_H_BYTE 0x44
#define NONCE_B_BYTE 0x55

#define A7_R_NEW "7b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14"
#define A7_DIGEST "221c5dcfc1b5866199036c6aa1916ddc8a257cd7b0c94bfbb7df7642918be4c9"
#define A7_MASK_TAG "c452a9cbca974f877b6d2fc2712a649d"
#define A7_MASK "8313e0a7f46c4053881cd89ad5d90ab16c79a89645b7e777d68e06f4341df6cd"
#define A7_SLOT "f81ea77ec04bb862997ca086a9aa3569f3f13f9caafeeafd76601f50ff97edd9"
#define A7_RK "c20e840199dbfee737640450124cd7f750fe3d48f549046bfab38db91c9f3d5b"
#define A7_NHK "0e62094fbf6fa33264c300b8362b8bc94c5c156f6fee6b76849b85e8ac24d7d0"
#define A7_MK "20037010788692f14e63bfe20918f4ddfe49fcd89697a95ee5dc9673475dabd5"
/* BLAKE2b-512 of the frame's bytes 0 to 235, which the signature signs
 * after ASCII0("SMMPv1 data") (R5). */
#define A7_FRAME_DIGEST \
  "7dffe91eec104b35f4444314791513c24a09f7457c649dfa68fb8dc1653900e0" \
  "0f6f1ea03cdabf8fc140fa74bc218bef36d4884211811d606901c2789322c181"
#define A7_FRAME \
  "011006cd825dc2b1538f393d5d73d6455f0b0002000000000000000044444444" \
  "4444444444444444444444444444444444444444b7c61f900b01544e6301ae34" \
  "317a5ec28f9ceb175787ae76f57be1e33b3dfe7bca9c0a90c31c664f918eab65" \
  "124a3e2a555555555555555555555555555555555555555555555555ab53811c" \
  "9f6f05350f10f9fe6337cd502b0be4e0938b9a252303bceffbaa1ec15d26a910" \
  "ed740c32ee2da570bf92f1243e8a937f41f6fd3618349d14141742bd5933c508" \
  "a54748bd3945ade490afa503bb2836784a4e48b925f7e03da93a686ac91f0633" \
  "c72fdf3f6ff3bc91c697422d7b963a1e6fe6e3c18dd349f7847c45acf92e3db1" \
  "a74e2938246a6bf774f0bbcff596191236d71f46c1aa2c7b72d55dd3917b4fa6" \
  "644b5ffe351a98dbd9abee00"

/* Decodes @hex (no separators) into @out of exactly @len bytes. */
static void
unhex (const char *hex, guint8 *out, gsize len)
{
  g_assert_cmpuint (strlen (hex), ==, 2 * len);
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      out[i] = (guint8) ((hi << 4) | lo);
    }
}

static char *
hex_to_base64 (const char *hex)
{
  const gsize len = strlen (hex) / 2;
  g_autofree guint8 *bytes = g_malloc (len);

  unhex (hex, bytes, len);
  return g_base64_encode (bytes, len);
}

static void
assert_bytes_hex (const guint8 *bytes, gsize len, const char *hex)
{
  g_autofree guint8 *want = g_malloc (strlen (hex) / 2 + 1);

  g_assert_cmpuint (len, ==, strlen (hex) / 2);
  unhex (hex, want, len);
  g_assert_cmpmem (bytes, len, want, len);
}

/* ---- a fixed generator: each draw is one byte value repeated ------------ */

static const guint8 draws[] = { R_NEW_BYTE, NONCE_H_BYTE, NONCE_B_BYTE };
static guint n_draws;

static const char *
fixed_name (void)
{
  return "fixed";
}

static uint32_t
fixed_random (void)
{
  g_assert_not_reached ();
  return 0;
}

/* Sealing draws r_new, the header nonce and the body nonce, in the order
 * of 6.7. */
static void
fixed_buf (void *const buf, const size_t size)
{
  g_assert_cmpuint (n_draws, <, G_N_ELEMENTS (draws));
  memset (buf, draws[n_draws++], size);
}

static randombytes_implementation fixed_rng = {
  fixed_name, fixed_random, NULL, NULL, fixed_buf, NULL
};

/* ---- the members' states ------------------------------------------------ */

static char *
member_json (guint i)
{
  const Member *m = &members[i];
  g_autofree char *b = hex_to_base64 (m->b_pub), *s = hex_to_base64 (m->s_pub);
  g_autofree char *r = hex_to_base64 (m->r_pub);

  return g_strdup_printf ("{\"handle\":\"%s\",\"identity_key\":\"%s\",\"signing_key\":\"%s\","
                          "\"ratchet_key\":\"%s\",\"ratchet_key_init\":\"%s\","
                          "\"ratchet_key_agreed\":\"%s\"}",
                          m->handle, b, s, r, r, r);
}

/* Member @self of A.4's session on its initial state: generation 0,
 * epoch 0, conv_digest zero. */
static SmmpGroupState *
make_state (guint self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *m0 = member_json (0), *m1 = member_json (1);
  g_autofree char *sid = hex_to_base64 (SID), *roster = hex_to_base64 (ROSTER_HASH);
  g_autofree char *transcript = hex_to_base64 (TRANSCRIPT_HASH);
  g_autofree char *verification = hex_to_base64 (VERIFICATION);
  g_autofree char *digest = g_base64_encode ((const guint8 *) "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                                             "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32);
  g_autofree char *rk = hex_to_base64 (RK0), *hk = hex_to_base64 (HK0);
  g_autofree char *nhk = hex_to_base64 (NHK0), *mk = hex_to_base64 (MK0);
  g_autofree char *v = hex_to_base64 (V), *r = hex_to_base64 (members[self].r);
  guint8 seed[32], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  g_autofree char *sign = NULL, *json = NULL;
  SmmpGroupState *state;

  unhex (members[self].seed, seed, sizeof seed);
  crypto_sign_seed_keypair (pk, sk, seed);
  assert_bytes_hex (pk, sizeof pk, members[self].s_pub);
  sign = g_base64_encode (sk, sizeof sk);
  json = g_strdup_printf (
    "{\"type\":\"smmp-group-state\",\"version\":1,\"sid\":\"%s\",\"roster_hash\":\"%s\","
    "\"transcript_hash\":\"%s\",\"verification\":\"%s\",\"conv_digest\":\"%s\","
    "\"resync_required\":0,\"generation\":0,\"epoch\":0,\"self\":%u,\"members\":[%s,%s],"
    "\"rk\":\"%s\",\"hk\":\"%s\",\"nhk\":\"%s\",\"mk\":\"%s\",\"v\":\"%s\",\"r\":\"%s\","
    "\"r_init\":\"%s\",\"r_agreed\":\"%s\",\"sign_secret\":\"%s\"}",
    sid, roster, transcript, verification, digest, self, m0, m1, rk, hk, nhk, mk, v, r, r, r,
    sign);
  state = smmp_group_state_from_json (json, &error);
  g_assert_no_error (error);
  g_assert_nonnull (state);
  sodium_memzero (sk, sizeof sk);
  sodium_memzero (json, strlen (json));
  return state;
}

/* One 32-byte value of a saved state, by name. */
static void
state_field (const SmmpGroupState *state, const char *name, guint8 out[32])
{
  g_autofree char *json = smmp_group_state_to_json (state);
  g_autofree char *key = g_strdup_printf ("\"%s\":\"", name);
  const char *start = strstr (json, key), *end;
  g_autofree char *b64 = NULL;
  g_autofree guint8 *bytes = NULL;
  gsize len = 0;

  g_assert_nonnull (start);
  start += strlen (key);
  end = strchr (start, '"');
  g_assert_nonnull (end);
  b64 = g_strndup (start, (gsize) (end - start));
  bytes = g_base64_decode (b64, &len);
  g_assert_cmpuint (len, ==, 32);
  memcpy (out, bytes, 32);
  sodium_memzero (json, strlen (json));
}

static SmmpPending *
seal_a7 (const SmmpGroupState *alice)
{
  g_autoptr (GError) error = NULL;
  guint8 id[SMMP_MESSAGE_ID_BYTES];
  SmmpPending *pending;

  memset (id, ID_BYTE, sizeof id);
  n_draws = 0;
  g_assert_cmpint (randombytes_set_implementation (&fixed_rng), ==, 0);
  pending = smmp_ratchet_seal_with_id (alice, TEXT, id, &error);
  g_assert_cmpint (randombytes_set_implementation (&randombytes_sysrandom_implementation), ==, 0);
  g_assert_no_error (error);
  g_assert_nonnull (pending);
  g_assert_cmpuint (n_draws, ==, G_N_ELEMENTS (draws));
  return pending;
}

/* ---- the tests ---------------------------------------------------------- */

/* The implementation seals the appendix's frame, byte for byte. */
static void
test_seal (void)
{
  SmmpGroupState *alice = make_state (0);
  SmmpPending *pending = seal_a7 (alice);
  gsize len = 0;
  const guint8 *frame = g_bytes_get_data (pending->frame, &len);

  assert_bytes_hex (pending->ratchet_public, 32, A7_R_NEW);
  assert_bytes_hex (frame, len, A7_FRAME);
  smmp_pending_free (pending);
  smmp_group_state_free (alice);
}

/* The same frame from sections 6.3 to 6.7 alone, with libsodium's
 * primitives and none of the core's code. */
static void
test_recompute (void)
{
  static const char mask_label[] = "SMMPv1 mask";     /* with its 0x00 */
  static const char digest_label[] = "SMMPv1 digest"; /* with its 0x00 */
  static const char data_label[] = "SMMPv1 data";     /* with its 0x00 */
  guint8 r_a[32], r_b[32], big_r_a[32], big_r_b[32], r_new[32], big_r_new[32];
  guint8 dh_ab[32], dh_ba[32], text_hash[32], digest[32], tag[32], mask[32], slot[32];
  guint8 hk[32], mk[32], v[32], seed[32], pk[32], sk[64], zeros[32] = { 0 };
  guint8 prefix[52], header_ct[32 + 16], body[64], body_ct[64 + 16], mac[32];
  guint8 frame[300], numbers[9] = { 0 }, signed_msg[sizeof data_label + 64];
  gsize off = 0;
  crypto_hash_sha256_state h;
  crypto_auth_hmacsha256_state hm;

  unhex (members[0].r, r_a, 32);
  unhex (members[1].r, r_b, 32);
  unhex (members[0].r_pub, big_r_a, 32);
  unhex (members[1].r_pub, big_r_b, 32);
  unhex (HK0, hk, 32);
  unhex (MK0, mk, 32);
  unhex (V, v, 32);
  unhex (members[0].seed, seed, 32);
  memset (r_new, R_NEW_BYTE, sizeof r_new);

  /* 6.7 step 1: R_new = X25519(r_new, 9). */
  g_assert_cmpint (crypto_scalarmult_base (big_r_new, r_new), ==, 0);
  assert_bytes_hex (big_r_new, 32, A7_R_NEW);

  /* 6.6: digest' = H("SMMPv1 digest", 0^32 || u8(0) || u32be(0) || u32be(0)
   * || SHA-256(text)). */
  crypto_hash_sha256 (text_hash, (const guint8 *) TEXT, strlen (TEXT));
  crypto_hash_sha256_init (&h);
  crypto_hash_sha256_update (&h, (const guint8 *) digest_label, sizeof digest_label);
  crypto_hash_sha256_update (&h, zeros, 32);
  crypto_hash_sha256_update (&h, numbers, sizeof numbers);
  crypto_hash_sha256_update (&h, text_hash, 32);
  crypto_hash_sha256_final (&h, digest);
  assert_bytes_hex (digest, 32, A7_DIGEST);

  /* 6.6: both sides compute one DH value; the mask is HChaCha20 keyed
   * with it, of the first 16 bytes of H("SMMPv1 mask", digest'). */
  g_assert_cmpint (crypto_scalarmult (dh_ab, r_a, big_r_b), ==, 0);
  g_assert_cmpint (crypto_scalarmult (dh_ba, r_b, big_r_a), ==, 0);
  g_assert_cmpmem (dh_ab, 32, dh_ba, 32);
  crypto_hash_sha256_init (&h);
  crypto_hash_sha256_update (&h, (const guint8 *) mask_label, sizeof mask_label);
  crypto_hash_sha256_update (&h, digest, 32);
  crypto_hash_sha256_final (&h, tag);
  assert_bytes_hex (tag, 16, A7_MASK_TAG);
  g_assert_cmpint (crypto_core_hchacha20 (mask, tag, dh_ab, NULL), ==, 0);
  assert_bytes_hex (mask, 32, A7_MASK);
  for (guint b = 0; b < 32; b++)
    slot[b] = big_r_new[b] ^ mask[b];
  assert_bytes_hex (slot, 32, A7_SLOT);

  /* 6.7 steps 2 and 5: the prefix, then the one slot under HK. */
  prefix[0] = 0x01;
  prefix[1] = 0x10;
  unhex (SID, prefix + 2, 16);
  prefix[18] = 0;          /* sender */
  prefix[19] = 2;          /* N */
  memset (prefix + 20, 0, 8); /* generation, epoch */
  memset (prefix + 28, NONCE_H_BYTE, 24);
  crypto_aead_xchacha20poly1305_ietf_encrypt (header_ct, NULL, slot, 32, prefix, 52, NULL,
                                              prefix + 28, hk);
  memcpy (frame + off, prefix, 52);
  off += 52;
  memcpy (frame + off, header_ct, sizeof header_ct);
  off += sizeof header_ct;
  memset (frame + off, NONCE_B_BYTE, 24);
  off += 24;

  /* 6.5 and 6.7 step 6: id || u32be(L) || text || zeros, P = 64, under mk
   * with everything before the body ciphertext as associated data. */
  memset (body, 0, sizeof body);
  memset (body, ID_BYTE, 16);
  body[19] = (guint8) strlen (TEXT);
  memcpy (body + 20, TEXT, strlen (TEXT));
  crypto_aead_xchacha20poly1305_ietf_encrypt (body_ct, NULL, body, sizeof body, frame, off,
                                              NULL, frame + off - 24, mk);
  memcpy (frame + off, body_ct, sizeof body_ct);
  off += sizeof body_ct;

  /* 6.7 step 7: HMAC(v, prefix || tag_h || tag_b). */
  crypto_auth_hmacsha256_init (&hm, v, 32);
  crypto_auth_hmacsha256_update (&hm, prefix, 52);
  crypto_auth_hmacsha256_update (&hm, header_ct + 32, 16);
  crypto_auth_hmacsha256_update (&hm, body_ct + 64, 16);
  crypto_auth_hmacsha256_final (&hm, mac);
  memcpy (frame + off, mac, 32);
  off += 32;

  /* 6.7 step 8 and R5: alice's session signature over the label with its
   * 0x00 and BLAKE2b-512 of all of it. */
  memcpy (signed_msg, data_label, sizeof data_label);
  g_assert_cmpint (crypto_generichash_blake2b (signed_msg + sizeof data_label, 64, frame, off,
                                               NULL, 0), ==, 0);
  assert_bytes_hex (signed_msg + sizeof data_label, 64, A7_FRAME_DIGEST);
  crypto_sign_seed_keypair (pk, sk, seed);
  crypto_sign_detached (frame + off, NULL, signed_msg, sizeof signed_msg, sk);
  off += 64;
  g_assert_cmpuint (off, ==, sizeof frame);
  assert_bytes_hex (frame, off, A7_FRAME);
  sodium_memzero (sk, sizeof sk);
}

/* The appendix's frame, as bytes: its signature verifies under alice's
 * session key by the DATA rule (R5), and is no signature of the frame's
 * bytes themselves. */
static void
test_signature_rule (void)
{
  g_autoptr (GError) error = NULL;
  const gsize len = strlen (A7_FRAME) / 2;
  g_autofree guint8 *bytes = g_malloc (len);
  guint8 s_pub[32];
  SmmpFrame *frame;

  unhex (A7_FRAME, bytes, len);
  unhex (members[0].s_pub, s_pub, sizeof s_pub);
  frame = smmp_frame_decode (bytes, len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (frame->signed_len, ==, len - 64);
  g_assert_true (smmp_frame_verify (frame, s_pub));
  g_assert_cmpint (crypto_sign_verify_detached (bytes + len - 64, bytes, len - 64, s_pub), !=,
                   0);
  smmp_frame_free (frame);
}

/* bob opens the frame; both members apply it and reach the same keys. */
static void
test_open_and_apply (void)
{
  g_autoptr (GError) error = NULL;
  SmmpGroupState *alice = make_state (0), *bob = make_state (1);
  SmmpPending *pending = seal_a7 (alice);
  SmmpFrame *frame = smmp_frame_decode_bytes (pending->frame, &error);
  SmmpOpened own, opened;
  guint8 id[SMMP_MESSAGE_ID_BYTES], a[32], b[32];
  const char *names[] = { "rk", "hk", "nhk", "mk" };
  const char *want[] = { A7_RK, NHK0, A7_NHK, A7_MK };

  g_assert_no_error (error);
  g_assert_nonnull (frame);
  g_assert_true (smmp_frame_verify (frame, smmp_group_state_get_signing_key (bob, 0)));
  g_assert_true (smmp_ratchet_open (bob, frame, NULL, &opened, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (opened.text, ==, TEXT);
  memset (id, ID_BYTE, sizeof id);
  g_assert_cmpmem (opened.id, sizeof opened.id, id, sizeof id);
  assert_bytes_hex (opened.ratchet_public, 32, A7_R_NEW);
  assert_bytes_hex (opened.digest, 32, A7_DIGEST);
  g_assert_true (smmp_ratchet_open (alice, frame, pending, &own, &error));

  smmp_ratchet_apply (alice, 0, &own, pending);
  smmp_ratchet_apply (bob, 0, &opened, NULL);
  for (guint k = 0; k < G_N_ELEMENTS (names); k++)
    {
      state_field (alice, names[k], a);
      state_field (bob, names[k], b);
      g_assert_cmpmem (a, 32, b, 32);
      assert_bytes_hex (b, 32, want[k]);
    }
  smmp_opened_clear (&own);
  smmp_opened_clear (&opened);
  smmp_frame_free (frame);
  smmp_pending_free (pending);
  smmp_group_state_free (alice);
  smmp_group_state_free (bob);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (smmp_init (NULL));
  g_test_add_func ("/data-vector/seal", test_seal);
  g_test_add_func ("/data-vector/recompute", test_recompute);
  g_test_add_func ("/data-vector/signature-rule", test_signature_rule);
  g_test_add_func ("/data-vector/open-and-apply", test_open_and_apply);
  return g_test_run ();
}
