/* smmp-ratchet.c: sealing, opening and applying group messages. */
#include "smmp-ratchet.h"
#include "smmp-bytes.h"
#include "smmp-error.h"
#include "smmp-kdf.h"
#include "smmp-state-private.h"

#include <sodium.h>
#include <string.h>

#define PAD_MIN 64
#define PAD_STEP_MAX 4096

/* Guarded memory for the new ratchet secret of a frame in flight.
 * sodium_malloc() maps, guards and locks fresh pages and sodium_free()
 * undoes it: about ten system calls, together as much as one X25519 or
 * more, once per message sent.  A member has one data frame in flight at a
 * time (R6), so a few blocks serve every message: released blocks are
 * wiped and kept, still guarded and locked, for the next frame. */
#define GUARDED_KEYS_KEPT 8

static GMutex guarded_keys_lock;
static guint8 *guarded_keys[GUARDED_KEYS_KEPT];
static guint n_guarded_keys;

guint8 *
smmp_guarded_key_new (void)
{
  guint8 *key = NULL;

  g_mutex_lock (&guarded_keys_lock);
  if (n_guarded_keys > 0)
    key = guarded_keys[--n_guarded_keys];
  g_mutex_unlock (&guarded_keys_lock);
  if (key == NULL)
    {
      key = sodium_malloc (SMMP_KEY_BYTES);
      if (key == NULL)
        g_error ("smmp: out of guarded memory");
    }
  return key;
}

void
smmp_guarded_key_free (guint8 *key)
{
  if (key == NULL)
    return;
  sodium_memzero (key, SMMP_KEY_BYTES);
  g_mutex_lock (&guarded_keys_lock);
  if (n_guarded_keys < GUARDED_KEYS_KEPT)
    {
      guarded_keys[n_guarded_keys++] = key;
      key = NULL;
    }
  g_mutex_unlock (&guarded_keys_lock);
  sodium_free (key);
}

void
smmp_pending_free (SmmpPending *pending)
{
  if (pending == NULL)
    return;
  g_bytes_unref (pending->frame);
  if (pending->text != NULL)
    sodium_memzero (pending->text, strlen (pending->text));
  g_free (pending->text);
  smmp_guarded_key_free (pending->ratchet_secret);
  g_free (pending);
}

void
smmp_opened_clear (SmmpOpened *opened)
{
  if (opened->text != NULL)
    sodium_memzero (opened->text, strlen (opened->text));
  g_clear_pointer (&opened->text, g_free);
  sodium_memzero (opened, sizeof *opened);
}

/* Powers of two from 64 to 4096 bytes, then whole multiples of 4096: the
 * length of a short message is hidden within a factor of two, a long one
 * within 4 KiB. */
gsize
smmp_padded_size (gsize len)
{
  gsize need = 4 + len, size = PAD_MIN;

  while (size < need && size < PAD_STEP_MAX)
    size *= 2;
  if (need <= size)
    return size;
  return (need + PAD_STEP_MAX - 1) / PAD_STEP_MAX * PAD_STEP_MAX;
}


/* The padded text lives for one call: ordinary memory, wiped after use
 * (a guarded allocation per message costs as much as an X25519). */
guint8 *
smmp_pad_text (const char *text, gsize reserve, gsize *total_len)
{
  const gsize text_len = strlen (text);
  guint8 *plain;

  *total_len = smmp_padded_size (reserve + text_len);
  plain = g_malloc0 (*total_len);
  smmp_put_be32 (plain + reserve, (guint32) text_len);
  memcpy (plain + reserve + 4, text, text_len);
  return plain;
}

char *
smmp_unpad_text (const guint8 *plain, gsize len, gsize reserve, GError **error)
{
  const guint32 text_len = len >= reserve + 4 ? smmp_read_be32 (plain + reserve) : G_MAXUINT32;
  const guint8 *text = plain + reserve + 4;

  if (len < reserve + 4 || text_len == 0 || text_len > SMMP_MAX_TEXT_BYTES
      || len != smmp_padded_size (reserve + text_len)
      || !sodium_is_zero (text + text_len, len - reserve - 4 - text_len)
      || !g_utf8_validate ((const char *) text, text_len, NULL)
      || memchr (text, 0, text_len) != NULL)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
                           "the message's padding or text is malformed");
      return NULL;
    }
  return g_strndup ((const char *) text, text_len);
}

static void
numbers_prefix (const SmmpGroupState *state, SmmpFrameType type, guint8 *prefix)
{
  prefix[0] = SMMP_PROTOCOL_VERSION;
  prefix[1] = (guint8) type;
  memcpy (prefix + 2, state->sid, SMMP_SID_BYTES);
  prefix[18] = (guint8) state->self;
  prefix[19] = (guint8) state->n;
  smmp_put_be32 (prefix + 20, state->generation);
  smmp_put_be32 (prefix + 24, state->epoch);
  randombytes_buf (prefix + 28, SMMP_NONCE_BYTES);
}

/* R3b: conv_digest' = H(label, conv_digest || sender || generation || epoch
 * || SHA-256(text)). */
static void
next_digest (const SmmpGroupState *state, guint sender, guint32 generation,
             guint32 epoch, const char *text, guint8 out[SMMP_HASH_BYTES])
{
  guint8 text_hash[SMMP_HASH_BYTES], numbers[9];
  SmmpHash hash;

  crypto_hash_sha256 (text_hash, (const guint8 *) text, strlen (text));
  numbers[0] = (guint8) sender;
  smmp_put_be32 (numbers + 1, generation);
  smmp_put_be32 (numbers + 5, epoch);
  smmp_hash_init (&hash, "SMMPv1 digest");
  smmp_hash_update (&hash, state->conv_digest, SMMP_HASH_BYTES);
  smmp_hash_update (&hash, numbers, sizeof numbers);
  smmp_hash_update (&hash, text_hash, sizeof text_hash);
  smmp_hash_final (&hash, out);
}

/* R4 (docs/PROTOCOL.md 6.6): the mask of a recipient's slot is HChaCha20
 * keyed with ECDH(r_j, R_i), from either side, of a 16-byte tag that names
 * the message (mask_tag(), once per message).  A sender takes N - 1 masks
 * per message.  Keying HChaCha20 with an X25519 output is how libsodium's
 * crypto_box derives its keys.  One call costs about 0.003 of an X25519,
 * the personalised BLAKE2b it replaced about 0.005: at N = 100, a few
 * tenths of an X25519 per message sent. */
#define MASK_TAG_BYTES crypto_core_hchacha20_INPUTBYTES

/* tag = the first 16 bytes of H("SMMPv1 mask", digest'): the label keeps
 * these masks apart from every other use of the same ECDH value (the key
 * agreement's and the one-on-one seed's), the digest makes each message's
 * masks its own, a frame sealed again after R6 included. */
static void
mask_tag (const guint8 digest[SMMP_HASH_BYTES], guint8 tag[MASK_TAG_BYTES])
{
  guint8 full[SMMP_HASH_BYTES];
  SmmpHash hash;

  smmp_hash_init (&hash, "SMMPv1 mask");
  smmp_hash_update (&hash, digest, SMMP_HASH_BYTES);
  smmp_hash_final (&hash, full);
  memcpy (tag, full, MASK_TAG_BYTES);
  sodium_memzero (full, sizeof full);
}

static gboolean
header_mask (const guint8 *own_secret, const guint8 *peer_public,
             const guint8 tag[MASK_TAG_BYTES], guint8 mask[SMMP_KEY_PUBLIC_BYTES])
{
  guint8 dh[32];
  gboolean ok = crypto_scalarmult (dh, own_secret, peer_public) == 0;

  /* A low-order point gives zeros, explicitly: every member computes the
   * same mask from it. */
  if (!ok)
    sodium_memzero (dh, sizeof dh);
  crypto_core_hchacha20 (mask, tag, dh, NULL);
  sodium_memzero (dh, sizeof dh);
  return ok;
}

/* VII.5: hmac(v, ...) over the frame's prefix and its two AEAD tags.  The
 * signature already covers every byte; the hmac only has to show that the
 * sender holds this member's v, for this frame (its nonce is in the
 * prefix), and a fixed-size input keeps it from growing with N. */
static void
frame_hmac (const SmmpGroupState *state, const guint8 *prefix, const guint8 *header_tag,
            const guint8 *body_tag, guint8 out[SMMP_MAC_BYTES])
{
  crypto_auth_hmacsha256_state st;

  crypto_auth_hmacsha256_init (&st, state->secrets->v, SMMP_KEY_BYTES);
  crypto_auth_hmacsha256_update (&st, prefix, SMMP_DATA_PREFIX_BYTES);
  crypto_auth_hmacsha256_update (&st, header_tag, SMMP_AEAD_TAG_BYTES);
  crypto_auth_hmacsha256_update (&st, body_tag, SMMP_AEAD_TAG_BYTES);
  crypto_auth_hmacsha256_final (&st, out);
  sodium_memzero (&st, sizeof st);
}

gboolean
smmp_text_is_valid (const char *text)
{
  gsize len = text != NULL ? strlen (text) : 0;

  return len > 0 && len <= SMMP_MAX_TEXT_BYTES && g_utf8_validate (text, (gssize) len, NULL);
}

SmmpPending *
smmp_ratchet_seal (const SmmpGroupState *state, const char *text, GError **error)
{
  guint8 id[SMMP_MESSAGE_ID_BYTES];

  randombytes_buf (id, sizeof id);
  return smmp_ratchet_seal_with_id (state, text, id, error);
}

SmmpPending *
smmp_ratchet_seal_with_id (const SmmpGroupState *state, const char *text,
                           const guint8 id[SMMP_MESSAGE_ID_BYTES], GError **error)
{
  const guint n = state->n, self = state->self;
  guint8 prefix[SMMP_DATA_PREFIX_BYTES];
  guint8 digest[SMMP_HASH_BYTES], tag[MASK_TAG_BYTES], mac[SMMP_MAC_BYTES];
  guint8 sig[SMMP_SIGNATURE_BYTES];
  guint8 body_nonce[SMMP_NONCE_BYTES];
  g_autofree guint8 *slots = NULL, *header_ct = NULL, *body_ct = NULL;
  guint8 *plain;
  gsize slots_len, plain_len;
  GByteArray *w;
  SmmpPending *pending;

  if (!smmp_text_is_valid (text))
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                   "a message must be 1 to %d bytes of UTF-8", SMMP_MAX_TEXT_BYTES);
      return NULL;
    }

  pending = g_new0 (SmmpPending, 1);
  pending->text = g_strdup (text);
  memcpy (pending->id, id, SMMP_MESSAGE_ID_BYTES);
  pending->generation = state->generation;
  pending->epoch = state->epoch;
  pending->ratchet_secret = smmp_guarded_key_new ();
  /* VII.2: a new ephemeral ratchet key. */
  randombytes_buf (pending->ratchet_secret, SMMP_KEY_BYTES);
  crypto_scalarmult_base (pending->ratchet_public, pending->ratchet_secret);

  numbers_prefix (state, SMMP_FRAME_DATA, prefix);

  /* VII.3-4 with R3b and R4: the new R, masked for each recipient. */
  next_digest (state, self, state->generation, state->epoch, text, digest);
  mask_tag (digest, tag);
  slots_len = (gsize) (n - 1) * SMMP_KEY_PUBLIC_BYTES;
  slots = g_malloc (slots_len);
  for (guint i = 0, slot = 0; i < n; i++)
    {
      guint8 *out = slots + (gsize) slot * SMMP_KEY_PUBLIC_BYTES;

      if (i == self)
        continue;
      /* A low-order R_i was refused at key agreement and cannot arise from
       * the ratchet, so the result is used as it is. */
      (void) header_mask (state->secrets->r, state->members[i].ratchet_key, tag, out);
      for (guint b = 0; b < SMMP_KEY_PUBLIC_BYTES; b++)
        out[b] ^= pending->ratchet_public[b];
      slot++;
    }
  header_ct = g_malloc (slots_len + SMMP_AEAD_TAG_BYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (header_ct, NULL, slots, slots_len,
                                              prefix, sizeof prefix, NULL,
                                              prefix + 28, state->secrets->hk);

  w = g_byte_array_sized_new (SMMP_DATA_PREFIX_BYTES + slots_len + 256);
  g_byte_array_append (w, prefix, sizeof prefix);
  g_byte_array_append (w, header_ct, (guint) (slots_len + SMMP_AEAD_TAG_BYTES));
  randombytes_buf (body_nonce, sizeof body_nonce);
  g_byte_array_append (w, body_nonce, sizeof body_nonce);

  /* The body once for everyone: the message id, then the padded text. */
  plain = smmp_pad_text (text, SMMP_MESSAGE_ID_BYTES, &plain_len);
  memcpy (plain, id, SMMP_MESSAGE_ID_BYTES);
  body_ct = g_malloc (plain_len + SMMP_AEAD_TAG_BYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (body_ct, NULL, plain, plain_len,
                                              w->data, w->len, NULL, body_nonce,
                                              state->secrets->mk);
  sodium_memzero (plain, plain_len);
  g_free (plain);
  g_byte_array_append (w, body_ct, (guint) (plain_len + SMMP_AEAD_TAG_BYTES));

  /* VII.5 and R5: hmac under v, then the session signature, over a
   * BLAKE2b-512 digest of the frame (smmp_frame_sign()). */
  frame_hmac (state, w->data, w->data + SMMP_DATA_PREFIX_BYTES + slots_len,
              w->data + w->len - SMMP_AEAD_TAG_BYTES, mac);
  g_byte_array_append (w, mac, sizeof mac);
  smmp_frame_sign (w->data, w->len, state->secrets->sign_secret, sig);
  g_byte_array_append (w, sig, sizeof sig);
  g_assert (w->len <= SMMP_FRAME_MAX_BYTES);
  pending->frame = g_byte_array_free_to_bytes (w);
  sodium_memzero (digest, sizeof digest);
  sodium_memzero (tag, sizeof tag);
  sodium_memzero (slots, slots_len);
  return pending;
}

static gboolean
undecryptable (GError **error, const char *what)
{
  g_set_error (error, SMMP_ERROR, SMMP_ERROR_UNDECRYPTABLE,
               "the %s does not decrypt: this member's keys are out of step", what);
  return FALSE;
}

gboolean
smmp_ratchet_open (const SmmpGroupState *state, const SmmpFrame *frame,
                   const SmmpPending *own, SmmpOpened *out, GError **error)
{
  const guint8 *data = g_bytes_get_data (frame->bytes, NULL);
  const guint s = frame->sender;
  guint8 mac[SMMP_MAC_BYTES], mask[SMMP_KEY_PUBLIC_BYTES], tag[MASK_TAG_BYTES];
  g_autofree guint8 *slots = NULL;
  guint8 *plain = NULL;
  gsize slots_len, plain_len;
  gboolean ok = FALSE;

  memset (out, 0, sizeof *out);
  if (own != NULL)
    {
      /* Our own reflection, byte for byte what we sealed. */
      out->text = g_strdup (own->text);
      memcpy (out->id, own->id, SMMP_MESSAGE_ID_BYTES);
      memcpy (out->ratchet_public, own->ratchet_public, SMMP_KEY_PUBLIC_BYTES);
      next_digest (state, s, frame->generation, frame->epoch, own->text, out->digest);
      return TRUE;
    }

  frame_hmac (state, data, frame->header_ct + frame->header_ct_len - SMMP_AEAD_TAG_BYTES,
              frame->body_ct + frame->body_ct_len - SMMP_AEAD_TAG_BYTES, mac);
  if (sodium_memcmp (mac, frame->hmac, SMMP_MAC_BYTES) != 0)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STALE_KEY,
                           "the frame is signed by its sender but not made with this "
                           "member's group key v: a re-key is needed");
      return FALSE;
    }

  slots_len = frame->header_ct_len - SMMP_AEAD_TAG_BYTES;
  slots = g_malloc (slots_len);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt (slots, NULL, NULL, frame->header_ct,
                                                  frame->header_ct_len, data,
                                                  SMMP_DATA_PREFIX_BYTES,
                                                  frame->header_nonce,
                                                  state->secrets->hk) != 0)
    return undecryptable (error, "header");

  plain_len = frame->body_ct_len - SMMP_AEAD_TAG_BYTES;
  plain = g_malloc (plain_len + 1); /* wiped below, as in seal */
  if (crypto_aead_xchacha20poly1305_ietf_decrypt (plain, NULL, NULL, frame->body_ct,
                                                  frame->body_ct_len, data,
                                                  (gsize) (frame->body_ct - data),
                                                  frame->body_nonce,
                                                  state->secrets->mk) != 0)
    {
      undecryptable (error, "body");
      goto out;
    }
  if ((out->text = smmp_unpad_text (plain, plain_len, SMMP_MESSAGE_ID_BYTES, error)) == NULL)
    goto out;
  memcpy (out->id, plain, SMMP_MESSAGE_ID_BYTES);

  /* VIII.4-5: the digest, then our slot unmasked with ECDH(r_i, R_s). */
  next_digest (state, s, frame->generation, frame->epoch, out->text, out->digest);
  mask_tag (out->digest, tag);
  (void) header_mask (state->secrets->r, state->members[s].ratchet_key, tag, mask);
  {
    const guint slot = state->self < s ? state->self : state->self - 1;

    for (guint b = 0; b < SMMP_KEY_PUBLIC_BYTES; b++)
      out->ratchet_public[b] = slots[(gsize) slot * SMMP_KEY_PUBLIC_BYTES + b] ^ mask[b];
  }
  ok = TRUE;

out:
  if (!ok)
    smmp_opened_clear (out);
  sodium_memzero (slots, slots_len);
  sodium_memzero (mask, sizeof mask);
  sodium_memzero (tag, sizeof tag);
  sodium_memzero (plain, plain_len + 1);
  g_free (plain);
  return ok;
}

/* R3 as this project rules it (docs/PROTOCOL.md 6.9): HMAC-SHA-256 under
 * v of a label, conv_digest, the sender's index and its new ratchet key.
 * The paper's ECDH(v, ...) read as X25519(v, H(input)) is, like this, a
 * function keyed by the v every member holds of values every member holds:
 * both are pseudorandom to anyone without v, and v is the step's only
 * secret either way.  The keyed hash costs a fiftieth of a scalar
 * multiplication, once per message at every member, and has no low-order
 * case.  Only the key that changed enters: every earlier one is already
 * folded into RK by the steps before, so the cost does not grow with N. */
static void
ratchet_step_secret (const SmmpGroupState *state, guint sender, guint8 dh[32])
{
  static const char label[] = "SMMPv1 ratchet step";
  const guint8 index = (guint8) sender;
  crypto_auth_hmacsha256_state st;

  crypto_auth_hmacsha256_init (&st, state->secrets->v, SMMP_KEY_BYTES);
  crypto_auth_hmacsha256_update (&st, (const guint8 *) label, sizeof label);
  crypto_auth_hmacsha256_update (&st, state->conv_digest, SMMP_HASH_BYTES);
  crypto_auth_hmacsha256_update (&st, &index, 1);
  crypto_auth_hmacsha256_update (&st, state->members[sender].ratchet_key,
                                 SMMP_KEY_PUBLIC_BYTES);
  crypto_auth_hmacsha256_final (&st, dh);
  sodium_memzero (&st, sizeof st);
}

void
smmp_ratchet_apply (SmmpGroupState *state, guint sender, const SmmpOpened *opened,
                    const SmmpPending *own)
{
  SmmpStateSecrets *s = state->secrets;
  guint8 dh[32];
  SmmpHash hash;

  memcpy (state->conv_digest, opened->digest, SMMP_HASH_BYTES);
  memcpy (state->members[sender].ratchet_key, opened->ratchet_public, SMMP_KEY_PUBLIC_BYTES);
  if (own != NULL)
    memcpy (s->r, own->ratchet_secret, SMMP_KEY_BYTES);

  ratchet_step_secret (state, sender, dh);

  /* VIII.6: RK = hash(RK || step secret), HK = NHK, NHK and mk from RK. */
  smmp_hash_init (&hash, "SMMPv1 root key step");
  smmp_hash_update (&hash, s->rk, SMMP_KEY_BYTES);
  smmp_hash_update (&hash, dh, sizeof dh);
  smmp_hash_final (&hash, s->rk);
  memcpy (s->hk, s->nhk, SMMP_KEY_BYTES);
  smmp_kdf (s->nhk, s->rk, "SMMPv1 next header key");
  smmp_kdf (s->mk, s->rk, "SMMPv1 message key");
  state->epoch++;
  sodium_memzero (dh, sizeof dh);
}

/* ---- resynchronisation (paper X.A.1, X.B.1; ruling R9) ----------------- */

void
smmp_resync_pending_free (SmmpResyncPending *pending)
{
  if (pending == NULL)
    return;
  g_bytes_unref (pending->frame);
  sodium_free (pending->secrets);
  g_free (pending);
}

SmmpResyncPending *
smmp_ratchet_seal_resync (const SmmpGroupState *state)
{
  SmmpResyncPending *pending = g_new0 (SmmpResyncPending, 1);
  guint8 prefix[SMMP_DATA_PREFIX_BYTES], sig[SMMP_SIGNATURE_BYTES];
  guint8 plain[2 * SMMP_KEY_BYTES], ct[SMMP_RESYNC_CT_BYTES];
  GByteArray *w;

  pending->generation = state->generation;
  pending->secrets = sodium_malloc (2 * SMMP_KEY_BYTES);
  if (pending->secrets == NULL)
    g_error ("smmp: out of guarded memory");
  /* X.B.1.1-2: v_new and (r_new, R_new). */
  randombytes_buf (pending->secrets, 2 * SMMP_KEY_BYTES);
  crypto_scalarmult_base (pending->ratchet_public, pending->secrets + SMMP_KEY_BYTES);

  numbers_prefix (state, SMMP_FRAME_RESYNC, prefix);
  memcpy (plain, pending->secrets, SMMP_KEY_BYTES);
  memcpy (plain + SMMP_KEY_BYTES, pending->ratchet_public, SMMP_KEY_BYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (ct, NULL, plain, sizeof plain, prefix,
                                              sizeof prefix, NULL, prefix + 28,
                                              state->secrets->v);
  sodium_memzero (plain, sizeof plain);

  w = g_byte_array_sized_new (sizeof prefix + sizeof ct + sizeof sig);
  g_byte_array_append (w, prefix, sizeof prefix);
  g_byte_array_append (w, ct, sizeof ct);
  smmp_frame_sign (w->data, w->len, state->secrets->sign_secret, sig);
  g_byte_array_append (w, sig, sizeof sig);
  pending->frame = g_byte_array_free_to_bytes (w);
  return pending;
}

gboolean
smmp_ratchet_open_resync (const SmmpGroupState *state, const SmmpFrame *frame,
                          guint8 *secret_out, guint8 ratchet_out[32], GError **error)
{
  const guint8 *data = g_bytes_get_data (frame->bytes, NULL);
  guint8 *plain = sodium_malloc (2 * SMMP_KEY_BYTES);
  gboolean ok;

  if (plain == NULL)
    g_error ("smmp: out of guarded memory");
  ok = crypto_aead_xchacha20poly1305_ietf_decrypt (plain, NULL, NULL, frame->resync_ct,
                                                   SMMP_RESYNC_CT_BYTES, data,
                                                   SMMP_DATA_PREFIX_BYTES,
                                                   frame->header_nonce,
                                                   state->secrets->v) == 0;
  if (ok)
    {
      memcpy (secret_out, plain, SMMP_KEY_BYTES);
      memcpy (ratchet_out, plain + SMMP_KEY_BYTES, SMMP_KEY_BYTES);
    }
  else
    g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STALE_KEY,
                         "the resync is signed by its sender but not made with this "
                         "member's group key v: a re-key is needed");
  sodium_free (plain);
  return ok;
}

void
smmp_ratchet_apply_resync (SmmpGroupState *state, guint sender, const guint8 *v_new,
                           const guint8 ratchet_new[32], const guint8 *own_secret)
{
  SmmpStateSecrets *s = state->secrets;
  guint8 dh[32];
  SmmpHash hash;

  /* X.A.1.3: v = hash(v || v_new). */
  smmp_hash_init (&hash, "SMMPv1 resync group key");
  smmp_hash_update (&hash, s->v, SMMP_KEY_BYTES);
  smmp_hash_update (&hash, v_new, SMMP_KEY_BYTES);
  smmp_hash_final (&hash, s->v);

  /* X.A.1.2 and R9: the sender's new initial key; everyone back to the
   * initial keys, this member's private one included. */
  memcpy (state->members[sender].ratchet_key_init, ratchet_new, SMMP_KEY_PUBLIC_BYTES);
  if (own_secret != NULL)
    memcpy (s->r_init, own_secret, SMMP_KEY_BYTES);
  for (guint i = 0; i < state->n; i++)
    memcpy (state->members[i].ratchet_key, state->members[i].ratchet_key_init,
            SMMP_KEY_PUBLIC_BYTES);
  memcpy (s->r, s->r_init, SMMP_KEY_BYTES);
  memset (state->conv_digest, 0, SMMP_HASH_BYTES);

  /* X.A.1.4: RK = hash(v || step secret of R_new) (R3). */
  ratchet_step_secret (state, sender, dh);
  smmp_hash_init (&hash, "SMMPv1 resync root key");
  smmp_hash_update (&hash, s->v, SMMP_KEY_BYTES);
  smmp_hash_update (&hash, dh, sizeof dh);
  smmp_hash_final (&hash, s->rk);
  smmp_kdf (s->hk, s->rk, "SMMPv1 header key");
  smmp_kdf (s->nhk, s->rk, "SMMPv1 next header key");
  smmp_kdf (s->mk, s->rk, "SMMPv1 message key");
  state->generation++;
  state->epoch = 0;
  state->resync_required = FALSE;
  sodium_memzero (dh, sizeof dh);
}
