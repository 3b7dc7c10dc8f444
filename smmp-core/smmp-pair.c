/* smmp-pair.c: the one-on-one double ratchet (R11). */
#include "smmp-pair.h"
#include "smmp-bytes.h"
#include "smmp-error.h"
#include "smmp-json.h"
#include "smmp-kdf.h"
#include "smmp-ratchet.h"
#include "smmp-state-private.h"

#include <sodium.h>
#include <string.h>

#define ROOT_LABEL "SMMPv1 pair root"
#define RATCHET_LABEL "SMMPv1 pair ratchet"

/* Every secret of a pair, in one guarded block. */
typedef struct {
  guint8 rk[SMMP_KEY_BYTES];
  guint8 cks[SMMP_KEY_BYTES];  /* sending chain key */
  guint8 ckr[SMMP_KEY_BYTES];  /* receiving chain key */
  guint8 dhs[SMMP_KEY_BYTES];  /* own one-on-one ratchet secret */
  guint8 skipped[SMMP_PAIR_MAX_SKIPPED][SMMP_KEY_BYTES];
} PairSecrets;

/* Which message a kept key opens: the chain's ratchet key and the number. */
typedef struct {
  guint8 dh[SMMP_KEY_PUBLIC_BYTES];
  guint32 n;
} SkippedId;

struct _SmmpPair {
  guint peer;
  guint8 dhs_public[SMMP_KEY_PUBLIC_BYTES];
  guint8 dhr[SMMP_KEY_PUBLIC_BYTES];       /* the peer's current ratchet key */
  guint8 prev_dhr[SMMP_KEY_PUBLIC_BYTES];  /* and the one before, to name replays */
  gboolean has_dhr, has_prev_dhr;
  /* The sending chain exists; FALSE after a new peer key arrived: the next
   * send starts a chain with a new ratchet key (the DH ratchet's second
   * half, done when first needed). */
  gboolean has_cks;
  gboolean has_ckr;
  guint32 ns, nr, pn;                       /* sent, received, previous chain */
  SkippedId skipped_id[SMMP_PAIR_MAX_SKIPPED]; /* oldest first */
  guint n_skipped;
  PairSecrets *secrets;
};

static SmmpPair *
pair_alloc (guint peer)
{
  SmmpPair *pair = g_new0 (SmmpPair, 1);

  pair->peer = peer;
  pair->secrets = sodium_malloc (sizeof *pair->secrets);
  if (pair->secrets == NULL)
    g_error ("smmp: out of guarded memory");
  sodium_memzero (pair->secrets, sizeof *pair->secrets);
  return pair;
}

void
smmp_pair_free (SmmpPair *pair)
{
  if (pair == NULL)
    return;
  sodium_free (pair->secrets);
  sodium_memzero (pair, sizeof *pair);
  g_free (pair);
}

guint
smmp_pair_get_peer (const SmmpPair *pair)
{
  return pair->peer;
}

/* X25519 that reports a low-order input instead of using its zero output. */
static gboolean
pair_dh (guint8 out[32], const guint8 secret[32], const guint8 public[32])
{
  return crypto_scalarmult (out, secret, public) == 0;
}

/* KDF_RK: (rk', ck) = HKDF(salt = rk, ikm = dh, info = label), 64 bytes. */
static void
kdf_root (guint8 rk[SMMP_KEY_BYTES], guint8 ck[SMMP_KEY_BYTES], const guint8 dh[32])
{
  guint8 prk[SMMP_HASH_BYTES], okm[2 * SMMP_KEY_BYTES];

  smmp_hkdf_extract (prk, rk, SMMP_KEY_BYTES, dh, 32);
  smmp_hkdf_expand (okm, sizeof okm, prk, sizeof prk, (const guint8 *) RATCHET_LABEL,
                    strlen (RATCHET_LABEL));
  memcpy (rk, okm, SMMP_KEY_BYTES);
  memcpy (ck, okm + SMMP_KEY_BYTES, SMMP_KEY_BYTES);
  sodium_memzero (prk, sizeof prk);
  sodium_memzero (okm, sizeof okm);
}

/* KDF_CK: mk = HMAC(ck, 0x01), ck' = HMAC(ck, 0x02). */
static void
kdf_chain (guint8 ck[SMMP_KEY_BYTES], guint8 mk[SMMP_KEY_BYTES])
{
  static const guint8 one = 0x01, two = 0x02;

  crypto_auth_hmacsha256 (mk, &one, 1, ck);
  crypto_auth_hmacsha256 (ck, &two, 1, ck);
}

SmmpPair *
smmp_pair_new (const SmmpGroupState *state, guint peer)
{
  const guint self = state->self, lo = MIN (self, peer), hi = MAX (self, peer);
  guint8 dh[32], prk[SMMP_HASH_BYTES], okm[2 * SMMP_KEY_BYTES];
  guint8 info[sizeof ROOT_LABEL - 1 + 2 + 2 * SMMP_KEY_PUBLIC_BYTES];
  SmmpPair *pair;

  g_return_val_if_fail (peer < state->n && peer != self, NULL);
  pair = pair_alloc (peer);

  /* The root: only these two can compute ECDH(r_i, R_j) of the ratchet
   * keys agreed at key agreement (the paper's s_i and S_j, fixed for the
   * session so that either side may start); the session id and both
   * identity keys bind it to this session and pair.  The agreed keys were
   * range-checked at key agreement: no low-order point here. */
  if (!pair_dh (dh, state->secrets->r_agreed, state->members[peer].ratchet_key_agreed))
    sodium_memzero (dh, sizeof dh);
  memcpy (info, ROOT_LABEL, sizeof ROOT_LABEL - 1);
  info[sizeof ROOT_LABEL - 1] = (guint8) lo;
  info[sizeof ROOT_LABEL] = (guint8) hi;
  memcpy (info + sizeof ROOT_LABEL + 1, state->members[lo].identity_key, SMMP_KEY_PUBLIC_BYTES);
  memcpy (info + sizeof ROOT_LABEL + 1 + SMMP_KEY_PUBLIC_BYTES,
          state->members[hi].identity_key, SMMP_KEY_PUBLIC_BYTES);
  smmp_hkdf_extract (prk, state->sid, SMMP_SID_BYTES, dh, sizeof dh);
  smmp_hkdf_expand (okm, sizeof okm, prk, sizeof prk, info, sizeof info);
  memcpy (pair->secrets->rk, okm, SMMP_KEY_BYTES);

  /* Both start from their agreed r.  The higher index owns the first chain
   * (ck0, under its agreed R), so either may speak first: the lower index's
   * first message starts a chain of its own with a new key. */
  memcpy (pair->secrets->dhs, state->secrets->r_agreed, SMMP_KEY_BYTES);
  memcpy (pair->dhs_public, state->members[self].ratchet_key_agreed, SMMP_KEY_PUBLIC_BYTES);
  if (self == hi)
    {
      memcpy (pair->secrets->cks, okm + SMMP_KEY_BYTES, SMMP_KEY_BYTES);
      pair->has_cks = TRUE;
    }
  else
    {
      memcpy (pair->secrets->ckr, okm + SMMP_KEY_BYTES, SMMP_KEY_BYTES);
      memcpy (pair->dhr, state->members[hi].ratchet_key_agreed, SMMP_KEY_PUBLIC_BYTES);
      pair->has_ckr = pair->has_dhr = TRUE;
    }
  sodium_memzero (dh, sizeof dh);
  sodium_memzero (prk, sizeof prk);
  sodium_memzero (okm, sizeof okm);
  return pair;
}


GBytes *
smmp_pair_seal (SmmpPair *pair, const SmmpGroupState *state, const char *text,
                GError **error)
{
  guint8 prefix[SMMP_PRIVATE_PREFIX_BYTES], mk[SMMP_KEY_BYTES], sig[SMMP_SIGNATURE_BYTES];
  guint8 *plain, *ct;
  gsize plain_len;
  GByteArray *w;

  if (!smmp_text_is_valid (text))
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                   "a message must be 1 to %d bytes of UTF-8", SMMP_MAX_TEXT_BYTES);
      return NULL;
    }
  if (!pair->has_cks)
    {
      guint8 dh[32];

      /* The sending half of the DH ratchet: a new key against the peer's
       * latest.  A low-order peer key never got this far: it did not open. */
      g_assert (pair->has_dhr);
      pair->pn = pair->ns;
      pair->ns = 0;
      randombytes_buf (pair->secrets->dhs, SMMP_KEY_BYTES);
      crypto_scalarmult_base (pair->dhs_public, pair->secrets->dhs);
      if (!pair_dh (dh, pair->secrets->dhs, pair->dhr))
        sodium_memzero (dh, sizeof dh);
      kdf_root (pair->secrets->rk, pair->secrets->cks, dh);
      sodium_memzero (dh, sizeof dh);
      pair->has_cks = TRUE;
    }
  kdf_chain (pair->secrets->cks, mk);

  prefix[0] = SMMP_PROTOCOL_VERSION;
  prefix[1] = SMMP_FRAME_PRIVATE;
  memcpy (prefix + 2, state->sid, SMMP_SID_BYTES);
  prefix[18] = (guint8) state->self;
  prefix[19] = (guint8) pair->peer;
  memcpy (prefix + 20, pair->dhs_public, SMMP_KEY_PUBLIC_BYTES);
  smmp_put_be32 (prefix + 52, pair->pn);
  smmp_put_be32 (prefix + 56, pair->ns);
  randombytes_buf (prefix + 60, SMMP_NONCE_BYTES);
  pair->ns++;

  plain = smmp_pad_text (text, 0, &plain_len);
  ct = g_malloc (plain_len + SMMP_AEAD_TAG_BYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (ct, NULL, plain, plain_len, prefix,
                                              sizeof prefix, NULL, prefix + 60, mk);
  sodium_memzero (plain, plain_len);
  g_free (plain);
  sodium_memzero (mk, sizeof mk);

  w = g_byte_array_sized_new ((guint) (sizeof prefix + plain_len + SMMP_AEAD_TAG_BYTES
                                       + SMMP_SIGNATURE_BYTES));
  g_byte_array_append (w, prefix, sizeof prefix);
  g_byte_array_append (w, ct, (guint) (plain_len + SMMP_AEAD_TAG_BYTES));
  g_free (ct);
  smmp_frame_sign (w->data, w->len, state->secrets->sign_secret, sig);
  g_byte_array_append (w, sig, sizeof sig);
  g_assert (w->len <= SMMP_FRAME_MAX_BYTES);
  return g_byte_array_free_to_bytes (w);
}

/* Decrypts @frame's body with @mk into its text, or NULL with @error. */
static char *
open_body (const SmmpFrame *frame, const guint8 mk[SMMP_KEY_BYTES], GError **error)
{
  const guint8 *data = g_bytes_get_data (frame->bytes, NULL);
  const gsize plain_len = frame->body_ct_len - SMMP_AEAD_TAG_BYTES;
  guint8 *plain = g_malloc (plain_len + 1);
  char *text = NULL;

  if (crypto_aead_xchacha20poly1305_ietf_decrypt (plain, NULL, NULL, frame->body_ct,
                                                  frame->body_ct_len, data,
                                                  SMMP_PRIVATE_PREFIX_BYTES,
                                                  frame->body_nonce, mk) != 0)
    g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_UNDECRYPTABLE,
                         "the one-on-one message does not decrypt");
  else
    text = smmp_unpad_text (plain, plain_len, 0, error);
  sodium_memzero (plain, plain_len + 1);
  g_free (plain);
  return text;
}

static gint
find_skipped (const SmmpPair *pair, const guint8 *dh, guint32 n)
{
  for (guint i = 0; i < pair->n_skipped; i++)
    if (pair->skipped_id[i].n == n
        && memcmp (pair->skipped_id[i].dh, dh, SMMP_KEY_PUBLIC_BYTES) == 0)
      return (gint) i;
  return -1;
}

static void
drop_skipped (SmmpPair *pair, guint i)
{
  guint rest = pair->n_skipped - i - 1;

  memmove (&pair->skipped_id[i], &pair->skipped_id[i + 1], rest * sizeof (SkippedId));
  memmove (pair->secrets->skipped[i], pair->secrets->skipped[i + 1],
           (gsize) rest * SMMP_KEY_BYTES);
  pair->n_skipped--;
  sodium_memzero (pair->secrets->skipped[pair->n_skipped], SMMP_KEY_BYTES);
}

/* Keys for skipped messages, gathered while opening, kept only if it
 * succeeds.  Ordinary memory for one call, wiped. */
typedef struct {
  SkippedId id[SMMP_PAIR_MAX_SKIPPED];
  guint8 key[SMMP_PAIR_MAX_SKIPPED][SMMP_KEY_BYTES];
  guint n;
} SkipWork;

/* Steps @ck from message @from up to (not including) @to, keeping keys. */
static void
skip_chain (SkipWork *work, guint8 ck[SMMP_KEY_BYTES], const guint8 *dh, guint32 from,
            guint32 to)
{
  for (guint32 i = from; i < to; i++)
    {
      g_assert (work->n < SMMP_PAIR_MAX_SKIPPED);
      memcpy (work->id[work->n].dh, dh, SMMP_KEY_PUBLIC_BYTES);
      work->id[work->n].n = i;
      kdf_chain (ck, work->key[work->n]);
      work->n++;
    }
}

static void
keep_skipped (SmmpPair *pair, const SkipWork *work)
{
  for (guint i = 0; i < work->n; i++)
    {
      /* Full: the oldest key goes, and its message with it. */
      if (pair->n_skipped == SMMP_PAIR_MAX_SKIPPED)
        drop_skipped (pair, 0);
      pair->skipped_id[pair->n_skipped] = work->id[i];
      memcpy (pair->secrets->skipped[pair->n_skipped], work->key[i], SMMP_KEY_BYTES);
      pair->n_skipped++;
    }
}

char *
smmp_pair_open (SmmpPair *pair, const SmmpGroupState *state, const SmmpFrame *frame,
                GError **error)
{
  const guint8 *dh_pub = frame->ratchet_key;
  const guint32 n = frame->message_number;
  const gboolean same_chain = pair->has_dhr
                              && memcmp (dh_pub, pair->dhr, SMMP_KEY_PUBLIC_BYTES) == 0;
  guint8 rk[SMMP_KEY_BYTES], ck[SMMP_KEY_BYTES], mk[SMMP_KEY_BYTES], dh[32];
  SkipWork *work = NULL;
  guint64 to_skip;
  char *text = NULL;
  gint kept;

  g_return_val_if_fail (frame->type == SMMP_FRAME_PRIVATE && frame->sender == pair->peer, NULL);

  /* A message that was skipped earlier: its key was kept. */
  if ((kept = find_skipped (pair, dh_pub, n)) >= 0)
    {
      text = open_body (frame, pair->secrets->skipped[kept], error);
      if (text != NULL)
        drop_skipped (pair, (guint) kept);
      return text;
    }
  if ((same_chain && n < pair->nr)
      || (pair->has_prev_dhr && memcmp (dh_pub, pair->prev_dhr, SMMP_KEY_PUBLIC_BYTES) == 0))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_REPLAYED,
                           "the one-on-one message was received already (or its key "
                           "was given up)");
      return NULL;
    }
  to_skip = same_chain ? (guint64) n - pair->nr
                       : (guint64) n + (pair->has_ckr && frame->previous_count > pair->nr
                                        ? frame->previous_count - pair->nr : 0);
  if (to_skip > SMMP_PAIR_MAX_SKIPPED)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_TOO_LARGE,
                   "the one-on-one message skips %" G_GUINT64_FORMAT
                   " messages, more than the %d this member keeps keys for",
                   to_skip, SMMP_PAIR_MAX_SKIPPED);
      return NULL;
    }

  work = g_new0 (SkipWork, 1);
  memcpy (rk, pair->secrets->rk, SMMP_KEY_BYTES);
  memcpy (ck, pair->secrets->ckr, SMMP_KEY_BYTES);
  if (same_chain)
    skip_chain (work, ck, dh_pub, pair->nr, n);
  else
    {
      /* A new chain of the peer's: keep the keys of what is left of the
       * current one, then the receiving half of the DH ratchet. */
      if (pair->has_ckr && frame->previous_count > pair->nr)
        skip_chain (work, ck, pair->dhr, pair->nr, frame->previous_count);
      if (!pair_dh (dh, pair->secrets->dhs, dh_pub))
        {
          g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_UNDECRYPTABLE,
                               "the one-on-one message carries an unusable ratchet key");
          goto out;
        }
      kdf_root (rk, ck, dh);
      skip_chain (work, ck, dh_pub, 0, n);
    }
  kdf_chain (ck, mk);
  if ((text = open_body (frame, mk, error)) == NULL)
    goto out;

  /* It opened: commit. */
  keep_skipped (pair, work);
  if (!same_chain)
    {
      if (pair->has_dhr)
        {
          memcpy (pair->prev_dhr, pair->dhr, SMMP_KEY_PUBLIC_BYTES);
          pair->has_prev_dhr = TRUE;
        }
      memcpy (pair->dhr, dh_pub, SMMP_KEY_PUBLIC_BYTES);
      memcpy (pair->secrets->rk, rk, SMMP_KEY_BYTES);
      pair->has_dhr = pair->has_ckr = TRUE;
      pair->has_cks = FALSE;
    }
  memcpy (pair->secrets->ckr, ck, SMMP_KEY_BYTES);
  pair->nr = n + 1;

out:
  sodium_memzero (work, sizeof *work);
  g_free (work);
  sodium_memzero (rk, sizeof rk);
  sodium_memzero (ck, sizeof ck);
  sodium_memzero (mk, sizeof mk);
  sodium_memzero (dh, sizeof dh);
  return text;
}

/* ---- persistence --------------------------------------------------------- */

void
smmp_pair_build (const SmmpPair *pair, JsonBuilder *b)
{
  smmp_json_add_int (b, "peer", pair->peer);
  smmp_json_add_bytes (b, "rk", pair->secrets->rk, SMMP_KEY_BYTES);
  smmp_json_add_bytes (b, "dhs", pair->secrets->dhs, SMMP_KEY_BYTES);
  smmp_json_add_bytes (b, "dhs_public", pair->dhs_public, SMMP_KEY_PUBLIC_BYTES);
  if (pair->has_cks)
    smmp_json_add_bytes (b, "cks", pair->secrets->cks, SMMP_KEY_BYTES);
  if (pair->has_ckr)
    smmp_json_add_bytes (b, "ckr", pair->secrets->ckr, SMMP_KEY_BYTES);
  if (pair->has_dhr)
    smmp_json_add_bytes (b, "dhr", pair->dhr, SMMP_KEY_PUBLIC_BYTES);
  if (pair->has_prev_dhr)
    smmp_json_add_bytes (b, "prev_dhr", pair->prev_dhr, SMMP_KEY_PUBLIC_BYTES);
  smmp_json_add_int (b, "ns", pair->ns);
  smmp_json_add_int (b, "nr", pair->nr);
  smmp_json_add_int (b, "pn", pair->pn);
  json_builder_set_member_name (b, "skipped");
  json_builder_begin_array (b);
  for (guint i = 0; i < pair->n_skipped; i++)
    {
      json_builder_begin_object (b);
      smmp_json_add_bytes (b, "dh", pair->skipped_id[i].dh, SMMP_KEY_PUBLIC_BYTES);
      smmp_json_add_int (b, "n", pair->skipped_id[i].n);
      smmp_json_add_bytes (b, "mk", pair->secrets->skipped[i], SMMP_KEY_BYTES);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/* Reads an optional key: absent is FALSE, present must be well formed. */
static gboolean
get_optional (JsonObject *o, const char *name, guint8 *out, gsize len, gboolean *present,
              GError **error)
{
  *present = json_object_has_member (o, name);
  return !*present || smmp_json_get_bytes (o, name, out, len, error);
}

SmmpPair *
smmp_pair_read (JsonObject *o, const SmmpGroupState *state, GError **error)
{
  gint64 peer, ns, nr, pn;
  SmmpPair *pair;
  JsonNode *node;
  JsonArray *skipped;

  if (!smmp_json_get_int (o, "peer", 0, (gint64) state->n - 1, &peer, error))
    return NULL;
  if ((guint) peer == state->self)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "a one-on-one ratchet with oneself");
      return NULL;
    }
  pair = pair_alloc ((guint) peer);
  if (!smmp_json_get_bytes (o, "rk", pair->secrets->rk, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "dhs", pair->secrets->dhs, SMMP_KEY_BYTES, error)
      || !smmp_json_get_bytes (o, "dhs_public", pair->dhs_public, SMMP_KEY_PUBLIC_BYTES, error)
      || !get_optional (o, "cks", pair->secrets->cks, SMMP_KEY_BYTES, &pair->has_cks, error)
      || !get_optional (o, "ckr", pair->secrets->ckr, SMMP_KEY_BYTES, &pair->has_ckr, error)
      || !get_optional (o, "dhr", pair->dhr, SMMP_KEY_PUBLIC_BYTES, &pair->has_dhr, error)
      || !get_optional (o, "prev_dhr", pair->prev_dhr, SMMP_KEY_PUBLIC_BYTES,
                        &pair->has_prev_dhr, error)
      || !smmp_json_get_int (o, "ns", 0, G_MAXUINT32, &ns, error)
      || !smmp_json_get_int (o, "nr", 0, G_MAXUINT32, &nr, error)
      || !smmp_json_get_int (o, "pn", 0, G_MAXUINT32, &pn, error))
    goto fail;
  /* A sending chain can only be missing when there is a peer key to start
   * the next one from. */
  if ((!pair->has_cks && !pair->has_dhr) || (pair->has_ckr && !pair->has_dhr))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "a one-on-one ratchet with chains but no keys for them");
      goto fail;
    }
  pair->ns = (guint32) ns;
  pair->nr = (guint32) nr;
  pair->pn = (guint32) pn;

  node = json_object_get_member (o, "skipped");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (skipped = json_node_get_array (node)) > SMMP_PAIR_MAX_SKIPPED)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                           "no usable \"skipped\" array in a one-on-one ratchet");
      goto fail;
    }
  for (guint i = 0; i < json_array_get_length (skipped); i++)
    {
      JsonNode *item = json_array_get_element (skipped, i);
      JsonObject *s = JSON_NODE_HOLDS_OBJECT (item) ? json_node_get_object (item) : NULL;
      gint64 number;

      if (s == NULL
          || !smmp_json_get_bytes (s, "dh", pair->skipped_id[i].dh, SMMP_KEY_PUBLIC_BYTES, error)
          || !smmp_json_get_int (s, "n", 0, G_MAXUINT32, &number, error)
          || !smmp_json_get_bytes (s, "mk", pair->secrets->skipped[i], SMMP_KEY_BYTES, error))
        {
          if (error != NULL && *error == NULL)
            g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_STORAGE,
                                 "a skipped-message key is unreadable");
          goto fail;
        }
      pair->skipped_id[i].n = (guint32) number;
      pair->n_skipped = i + 1;
    }
  return pair;

fail:
  smmp_pair_free (pair);
  return NULL;
}
