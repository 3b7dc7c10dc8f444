/* smmp-frame.c: encoding and strict decoding of SMMP frames. */
#include "smmp-frame.h"
#include "smmp-bd.h"
#include "smmp-bytes.h"
#include "smmp-error.h"

#include <sodium.h>
#include <string.h>

/* ---- decoding -------------------------------------------------------- */

typedef struct {
  const guint8 *p;
  gsize left;
} Reader;

static const guint8 *
take (Reader *r, gsize n)
{
  const guint8 *at;

  if (r->left < n)
    return NULL;
  at = r->p;
  r->p += n;
  r->left -= n;
  return at;
}

static gboolean
take_u8 (Reader *r, guint *out)
{
  const guint8 *at = take (r, 1);

  if (at == NULL)
    return FALSE;
  *out = *at;
  return TRUE;
}

gboolean
smmp_handle_is_valid (const char *handle, gsize len)
{
  const char *end = handle + len;

  if (len == 0 || len > SMMP_MAX_HANDLE_BYTES || !g_utf8_validate (handle, len, NULL))
    return FALSE;
  for (const char *p = handle; p < end; p = g_utf8_next_char (p))
    {
      GUnicodeType type = g_unichar_type (g_utf8_get_char (p));

      if (type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT)
        return FALSE;
    }
  return TRUE;
}

static char *
take_handle (Reader *r)
{
  guint len;
  const guint8 *at;

  if (!take_u8 (r, &len) || (at = take (r, len)) == NULL
      || !smmp_handle_is_valid ((const char *) at, len))
    return NULL;
  return g_strndup ((const char *) at, len);
}

static gboolean
malformed (GError **error, const char *what, SmmpFrameType type)
{
  g_set_error (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
               "malformed %s frame: %s", smmp_frame_type_name (type), what);
  return FALSE;
}

static gboolean
take_handle_list (Reader *r, GPtrArray *into, guint n, SmmpFrameType type,
                  GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      char *handle = take_handle (r);

      if (handle == NULL)
        return malformed (error, "bad handle", type);
      for (guint k = 0; k < into->len; k++)
        if (strcmp (g_ptr_array_index (into, k), handle) == 0)
          {
            g_free (handle);
            return malformed (error, "handle listed twice", type);
          }
      g_ptr_array_add (into, handle);
    }
  return TRUE;
}

static gboolean
decode_roster (SmmpFrame *f, Reader *r, GError **error)
{
  guint n, n_out;

  if (!take_u8 (r, &f->sender) || !take_u8 (r, &n))
    return malformed (error, "truncated", f->type);
  if (n < 2 || n > SMMP_MAX_MEMBERS || f->sender >= n)
    return malformed (error, "member count or signer out of range", f->type);
  f->entries = g_new0 (SmmpRosterEntry, n);
  f->n_entries = n;
  for (guint i = 0; i < n; i++)
    {
      SmmpRosterEntry *e = &f->entries[i];

      if ((e->handle = take_handle (r)) == NULL)
        return malformed (error, "bad handle", f->type);
      for (guint k = 0; k < i; k++)
        if (strcmp (f->entries[k].handle, e->handle) == 0)
          return malformed (error, "handle listed twice", f->type);
      if ((e->identity_key = take (r, SMMP_KEY_PUBLIC_BYTES)) == NULL
          || (e->ratchet_key = take (r, SMMP_KEY_PUBLIC_BYTES)) == NULL
          || (e->signing_key = take (r, SMMP_KEY_PUBLIC_BYTES)) == NULL)
        return malformed (error, "truncated", f->type);
      /* Indices are fixed by the order of identity keys (paper VI.2). */
      if (i > 0 && memcmp (f->entries[i - 1].identity_key, e->identity_key,
                           SMMP_KEY_PUBLIC_BYTES) >= 0)
        return malformed (error, "identity keys not in strictly ascending order", f->type);
    }
  if (!take_u8 (r, &n_out) || n_out > SMMP_MAX_MEMBERS)
    return malformed (error, "bad outsider count", f->type);
  return take_handle_list (r, f->handles, n_out, f->type, error);
}


/* Sender, member count, generation, epoch and nonce: DATA and RESYNC. */
static gboolean
decode_numbers (SmmpFrame *f, Reader *r, GError **error)
{
  const guint8 *numbers;

  if (!take_u8 (r, &f->sender) || !take_u8 (r, &f->n_members)
      || (numbers = take (r, 8)) == NULL
      || (f->header_nonce = take (r, SMMP_NONCE_BYTES)) == NULL)
    return malformed (error, "truncated", f->type);
  if (f->n_members < 2 || f->n_members > SMMP_MAX_MEMBERS || f->sender >= f->n_members)
    return malformed (error, "member count or sender out of range", f->type);
  f->generation = smmp_read_be32 (numbers);
  f->epoch = smmp_read_be32 (numbers + 4);
  return TRUE;
}

static gboolean
decode_data (SmmpFrame *f, Reader *r, GError **error)
{
  const guint8 *start = r->p - SMMP_FRAME_HEADER_BYTES;

  if (!decode_numbers (f, r, error))
    return FALSE;
  f->header_ct_len = (gsize) (f->n_members - 1) * SMMP_KEY_PUBLIC_BYTES + SMMP_AEAD_TAG_BYTES;
  if ((f->header_ct = take (r, f->header_ct_len)) == NULL
      || (f->body_nonce = take (r, SMMP_NONCE_BYTES)) == NULL
      || r->left < SMMP_AEAD_TAG_BYTES + SMMP_MAC_BYTES)
    return malformed (error, "truncated", f->type);
  f->body_ct_len = r->left - SMMP_MAC_BYTES;
  f->body_ct = take (r, f->body_ct_len);
  f->hmac_offset = (gsize) (r->p - start);
  f->hmac = take (r, SMMP_MAC_BYTES);
  return TRUE;
}

static gboolean
decode_private (SmmpFrame *f, Reader *r, GError **error)
{
  const guint8 *numbers;

  if (!take_u8 (r, &f->sender) || !take_u8 (r, &f->recipient)
      || (f->ratchet_key = take (r, SMMP_KEY_PUBLIC_BYTES)) == NULL
      || (numbers = take (r, 8)) == NULL
      || (f->body_nonce = take (r, SMMP_NONCE_BYTES)) == NULL)
    return malformed (error, "truncated", f->type);
  if (f->sender >= SMMP_MAX_MEMBERS || f->recipient >= SMMP_MAX_MEMBERS
      || f->sender == f->recipient)
    return malformed (error, "sender or recipient out of range", f->type);
  f->previous_count = smmp_read_be32 (numbers);
  f->message_number = smmp_read_be32 (numbers + 4);
  if (r->left < SMMP_AEAD_TAG_BYTES)
    return malformed (error, "truncated", f->type);
  f->body_ct_len = r->left;
  f->body_ct = take (r, r->left);
  return TRUE;
}

static gboolean
decode_body (SmmpFrame *f, Reader *r, GError **error)
{
  guint n;

  switch (f->type)
    {
    case SMMP_FRAME_INVITE:
      if (!take_u8 (r, &n))
        return malformed (error, "truncated", f->type);
      if (n < 2 || n > SMMP_MAX_MEMBERS)
        return malformed (error, "invited count out of range", f->type);
      return take_handle_list (r, f->handles, n, f->type, error);

    case SMMP_FRAME_ANSWER:
      if ((f->identity_key = take (r, SMMP_KEY_PUBLIC_BYTES)) == NULL
          || (f->ratchet_key = take (r, SMMP_KEY_PUBLIC_BYTES)) == NULL
          || (f->signing_key = take (r, SMMP_KEY_PUBLIC_BYTES)) == NULL)
        return malformed (error, "truncated", f->type);
      return TRUE;

    case SMMP_FRAME_ROSTER:
      return decode_roster (f, r, error);

    case SMMP_FRAME_AUTH:
      if (!take_u8 (r, &f->sender)
          || (f->element = take (r, SMMP_BD_ELEMENT_BYTES)) == NULL)
        return malformed (error, "truncated", f->type);
      if (r->left == 0 || r->left % SMMP_MAC_BYTES != 0
          || r->left / SMMP_MAC_BYTES >= SMMP_MAX_MEMBERS)
        return malformed (error, "MAC list of the wrong length", f->type);
      f->n_macs = r->left / SMMP_MAC_BYTES;
      f->macs = take (r, r->left);
      return TRUE;

    case SMMP_FRAME_KEY:
      if (!take_u8 (r, &f->sender)
          || (f->element = take (r, SMMP_BD_ELEMENT_BYTES)) == NULL)
        return malformed (error, "truncated", f->type);
      return TRUE;

    case SMMP_FRAME_CONFIRM:
      if (!take_u8 (r, &f->sender)
          || (f->confirm = take (r, SMMP_MAC_BYTES)) == NULL)
        return malformed (error, "truncated", f->type);
      return TRUE;

    case SMMP_FRAME_ABORT:
      if (!take_u8 (r, &f->sender) || !take_u8 (r, &f->reason))
        return malformed (error, "truncated", f->type);
      return TRUE;

    case SMMP_FRAME_DATA:
      return decode_data (f, r, error);

    case SMMP_FRAME_RESYNC:
      if (!decode_numbers (f, r, error))
        return FALSE;
      if ((f->resync_ct = take (r, SMMP_RESYNC_CT_BYTES)) == NULL)
        return malformed (error, "truncated", f->type);
      return TRUE;

    case SMMP_FRAME_PRIVATE:
      return decode_private (f, r, error);
    }
  g_assert_not_reached ();
}

static gboolean
type_is_known (guint type)
{
  return (type >= SMMP_FRAME_INVITE && type <= SMMP_FRAME_ABORT)
         || (type >= SMMP_FRAME_DATA && type <= SMMP_FRAME_PRIVATE);
}

SmmpFrame *
smmp_frame_decode_bytes (GBytes *bytes, GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  SmmpFrame *f;
  Reader r;

  if (len > SMMP_FRAME_MAX_BYTES)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_TOO_LARGE,
                   "frame of %zu bytes is over the limit of %d", len,
                   SMMP_FRAME_MAX_BYTES);
      return NULL;
    }
  if (len < SMMP_FRAME_HEADER_BYTES)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
                   "truncated frame: %zu bytes, a header alone is %d", len,
                   SMMP_FRAME_HEADER_BYTES);
      return NULL;
    }
  if (data[0] != SMMP_PROTOCOL_VERSION)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_VERSION,
                   "frame of protocol version %u; this build speaks version %d",
                   data[0], SMMP_PROTOCOL_VERSION);
      return NULL;
    }
  if (!type_is_known (data[1]))
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_MALFORMED,
                   "unknown frame type 0x%02x", data[1]);
      return NULL;
    }

  f = g_new0 (SmmpFrame, 1);
  f->bytes = g_bytes_ref (bytes);
  f->version = data[0];
  f->type = data[1];
  f->sid = data + 2;
  f->handles = g_ptr_array_new_with_free_func (g_free);
  r.p = data + SMMP_FRAME_HEADER_BYTES;
  r.left = len - SMMP_FRAME_HEADER_BYTES;

  if (f->type != SMMP_FRAME_INVITE)
    {
      if (r.left < SMMP_SIGNATURE_BYTES)
        {
          malformed (error, "truncated", f->type);
          goto fail;
        }
      f->signed_len = len - SMMP_SIGNATURE_BYTES;
      f->signature = data + f->signed_len;
      r.left -= SMMP_SIGNATURE_BYTES;
    }
  if (!decode_body (f, &r, error))
    goto fail;
  if (r.left != 0)
    {
      malformed (error, "trailing bytes", f->type);
      goto fail;
    }
  return f;

fail:
  smmp_frame_free (f);
  return NULL;
}

SmmpFrame *
smmp_frame_decode (const guint8 *data, gsize len, GError **error)
{
  GBytes *bytes;
  SmmpFrame *frame;

  if (len > SMMP_FRAME_MAX_BYTES)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_TOO_LARGE,
                   "frame of %zu bytes is over the limit of %d", len,
                   SMMP_FRAME_MAX_BYTES);
      return NULL;
    }
  bytes = g_bytes_new (data, len);
  frame = smmp_frame_decode_bytes (bytes, error);
  g_bytes_unref (bytes);
  return frame;
}

void
smmp_frame_free (SmmpFrame *frame)
{
  if (frame == NULL)
    return;
  if (frame->entries != NULL)
    for (guint i = 0; i < frame->n_entries; i++)
      g_free (frame->entries[i].handle);
  g_free (frame->entries);
  g_ptr_array_unref (frame->handles);
  g_bytes_unref (frame->bytes);
  g_free (frame);
}

/* R5 for DATA frames: what Ed25519 signs is the label with its 0x00, then
 * BLAKE2b-512 (unkeyed) of the frame before its signature.  A DATA frame
 * grows by 32 bytes per member; signed whole, Ed25519 would read it twice
 * with SHA-512 to sign and once to verify, and BLAKE2b reads it once, faster.
 * The label starts with a byte other than the version byte 0x01 that starts
 * every frame, so no such message is ever a frame that the same session key
 * signs whole, nor the other way round.  The frame is public: nothing here
 * needs wiping. */
static void
data_signed_message (const guint8 *data, gsize len, guint8 out[SMMP_DATA_SIGNED_BYTES])
{
  memcpy (out, SMMP_DATA_SIGNATURE_LABEL, sizeof SMMP_DATA_SIGNATURE_LABEL);
  crypto_generichash_blake2b (out + sizeof SMMP_DATA_SIGNATURE_LABEL,
                              SMMP_DATA_FRAME_DIGEST_BYTES, data, len, NULL, 0);
}

void
smmp_frame_sign (const guint8 *data, gsize len, const guint8 *sign_secret,
                 guint8 signature[SMMP_SIGNATURE_BYTES])
{
  g_return_if_fail (len >= SMMP_FRAME_HEADER_BYTES);

  if (data[1] == SMMP_FRAME_DATA)
    {
      guint8 message[SMMP_DATA_SIGNED_BYTES];

      data_signed_message (data, len, message);
      crypto_sign_detached (signature, NULL, message, sizeof message, sign_secret);
    }
  else
    crypto_sign_detached (signature, NULL, data, len, sign_secret);
}

gboolean
smmp_frame_verify (const SmmpFrame *frame,
                   const guint8 signing_key[SMMP_KEY_PUBLIC_BYTES])
{
  const guint8 *data = g_bytes_get_data (frame->bytes, NULL);

  if (frame->signature == NULL)
    return FALSE;
  if (frame->type == SMMP_FRAME_DATA)
    {
      guint8 message[SMMP_DATA_SIGNED_BYTES];

      data_signed_message (data, frame->signed_len, message);
      return crypto_sign_verify_detached (frame->signature, message, sizeof message,
                                          signing_key) == 0;
    }
  return crypto_sign_verify_detached (frame->signature, data, frame->signed_len,
                                      signing_key) == 0;
}

const char *
smmp_frame_type_name (SmmpFrameType type)
{
  switch (type)
    {
    case SMMP_FRAME_INVITE: return "invite";
    case SMMP_FRAME_ANSWER: return "answer";
    case SMMP_FRAME_ROSTER: return "roster";
    case SMMP_FRAME_AUTH: return "auth";
    case SMMP_FRAME_KEY: return "key";
    case SMMP_FRAME_CONFIRM: return "confirm";
    case SMMP_FRAME_ABORT: return "abort";
    case SMMP_FRAME_DATA: return "data";
    case SMMP_FRAME_RESYNC: return "resync";
    case SMMP_FRAME_PRIVATE: return "private";
    }
  return "unknown";
}

/* ---- encoding -------------------------------------------------------- */

static GByteArray *
writer_new (SmmpFrameType type, const guint8 sid[SMMP_SID_BYTES])
{
  GByteArray *w = g_byte_array_sized_new (256);
  guint8 head[2] = { SMMP_PROTOCOL_VERSION, (guint8) type };

  g_byte_array_append (w, head, sizeof head);
  g_byte_array_append (w, sid, SMMP_SID_BYTES);
  return w;
}

static void
put_u8 (GByteArray *w, guint value)
{
  guint8 b = (guint8) value;

  g_assert (value <= G_MAXUINT8);
  g_byte_array_append (w, &b, 1);
}

static void
put_handle (GByteArray *w, const char *handle)
{
  gsize len = strlen (handle);

  g_return_if_fail (len >= 1 && len <= SMMP_MAX_HANDLE_BYTES);
  put_u8 (w, (guint) len);
  g_byte_array_append (w, (const guint8 *) handle, (guint) len);
}

static GBytes *
finish_signed (GByteArray *w, const guint8 *sign_secret)
{
  guint8 sig[SMMP_SIGNATURE_BYTES];

  smmp_frame_sign (w->data, w->len, sign_secret, sig);
  g_byte_array_append (w, sig, sizeof sig);
  g_assert (w->len <= SMMP_FRAME_MAX_BYTES);
  return g_byte_array_free_to_bytes (w);
}

GBytes *
smmp_frame_encode_invite (const guint8 sid[SMMP_SID_BYTES],
                          const char *const *handles, guint n_handles)
{
  GByteArray *w = writer_new (SMMP_FRAME_INVITE, sid);

  put_u8 (w, n_handles);
  for (guint i = 0; i < n_handles; i++)
    put_handle (w, handles[i]);
  return g_byte_array_free_to_bytes (w);
}

GBytes *
smmp_frame_encode_answer (const guint8 sid[SMMP_SID_BYTES],
                          const guint8 identity_key[SMMP_KEY_PUBLIC_BYTES],
                          const guint8 ratchet_key[SMMP_KEY_PUBLIC_BYTES],
                          const guint8 signing_key[SMMP_KEY_PUBLIC_BYTES],
                          const guint8 *sign_secret)
{
  GByteArray *w = writer_new (SMMP_FRAME_ANSWER, sid);

  g_byte_array_append (w, identity_key, SMMP_KEY_PUBLIC_BYTES);
  g_byte_array_append (w, ratchet_key, SMMP_KEY_PUBLIC_BYTES);
  g_byte_array_append (w, signing_key, SMMP_KEY_PUBLIC_BYTES);
  return finish_signed (w, sign_secret);
}

GBytes *
smmp_frame_encode_roster (const guint8 sid[SMMP_SID_BYTES], guint signer,
                          const SmmpRosterEntry *entries, guint n_entries,
                          const char *const *outsiders, guint n_outsiders,
                          const guint8 *sign_secret)
{
  GByteArray *w = writer_new (SMMP_FRAME_ROSTER, sid);

  put_u8 (w, signer);
  put_u8 (w, n_entries);
  for (guint i = 0; i < n_entries; i++)
    {
      put_handle (w, entries[i].handle);
      g_byte_array_append (w, entries[i].identity_key, SMMP_KEY_PUBLIC_BYTES);
      g_byte_array_append (w, entries[i].ratchet_key, SMMP_KEY_PUBLIC_BYTES);
      g_byte_array_append (w, entries[i].signing_key, SMMP_KEY_PUBLIC_BYTES);
    }
  put_u8 (w, n_outsiders);
  for (guint i = 0; i < n_outsiders; i++)
    put_handle (w, outsiders[i]);
  return finish_signed (w, sign_secret);
}

GBytes *
smmp_frame_encode_auth (const guint8 sid[SMMP_SID_BYTES], guint sender,
                        const guint8 *element, const guint8 *macs,
                        guint n_macs, const guint8 *sign_secret)
{
  GByteArray *w = writer_new (SMMP_FRAME_AUTH, sid);

  put_u8 (w, sender);
  g_byte_array_append (w, element, SMMP_BD_ELEMENT_BYTES);
  g_byte_array_append (w, macs, n_macs * SMMP_MAC_BYTES);
  return finish_signed (w, sign_secret);
}

GBytes *
smmp_frame_encode_key (const guint8 sid[SMMP_SID_BYTES], guint sender,
                       const guint8 *element, const guint8 *sign_secret)
{
  GByteArray *w = writer_new (SMMP_FRAME_KEY, sid);

  put_u8 (w, sender);
  g_byte_array_append (w, element, SMMP_BD_ELEMENT_BYTES);
  return finish_signed (w, sign_secret);
}

GBytes *
smmp_frame_encode_confirm (const guint8 sid[SMMP_SID_BYTES], guint sender,
                           const guint8 confirm[SMMP_MAC_BYTES],
                           const guint8 *sign_secret)
{
  GByteArray *w = writer_new (SMMP_FRAME_CONFIRM, sid);

  put_u8 (w, sender);
  g_byte_array_append (w, confirm, SMMP_MAC_BYTES);
  return finish_signed (w, sign_secret);
}

GBytes *
smmp_frame_encode_abort (const guint8 sid[SMMP_SID_BYTES], guint sender,
                         guint reason, const guint8 *sign_secret)
{
  GByteArray *w = writer_new (SMMP_FRAME_ABORT, sid);

  put_u8 (w, sender);
  put_u8 (w, reason);
  return finish_signed (w, sign_secret);
}
