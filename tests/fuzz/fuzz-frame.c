/* fuzz-frame.c: fuzz target for the frame decoder and the armour.
 *
 * The input is tried twice:
 *
 *  1. as a binary frame: smmp_frame_decode(); a frame that decodes is checked
 *     field by field, verified against the corpus key (fuzz-common.c), named
 *     with smmp_frame_type_name(), re-encoded with the project's encoders
 *     (which must give back the same bytes, the signature aside); the input
 *     is also armoured and de-armoured, which must give back the same bytes;
 *  2. as text (a NUL-terminated copy): smmp_armour_decode(), and whatever it
 *     yields goes through step 1 as well.
 *
 * Every refusal must come back as a GError of the SMMP_ERROR domain with a
 * code the header promises; anything else (a crash, an abort, a GLib
 * critical under G_DEBUG=fatal-warnings, a broken invariant) is a finding.
 */
#include "fuzz-common.h"
#include "fuzz-target.h"

#include "smmp-armour.h"
#include "smmp-bd.h"
#include "smmp-error.h"
#include "smmp-frame.h"

#include <sodium.h>
#include <string.h>

static guint8 fixed_public[32];
static guint8 fixed_secret[64];

/* Every handle a frame yields is one the core itself calls valid. */
static gboolean
handle_is_sane (const char *handle)
{
  return handle != NULL && smmp_handle_is_valid (handle, strlen (handle));
}

/* The frame the encoders make from the decoded fields, signed with the
 * corpus key. */
static GBytes *
reencode (const SmmpFrame *f)
{
  switch (f->type)
    {
    case SMMP_FRAME_INVITE:
      return smmp_frame_encode_invite (f->sid, (const char *const *) f->handles->pdata,
                                       f->handles->len);
    case SMMP_FRAME_ANSWER:
      return smmp_frame_encode_answer (f->sid, f->identity_key, f->ratchet_key,
                                       f->signing_key, fixed_secret);
    case SMMP_FRAME_ROSTER:
      return smmp_frame_encode_roster (f->sid, f->sender, f->entries, f->n_entries,
                                       (const char *const *) f->handles->pdata,
                                       f->handles->len, fixed_secret);
    case SMMP_FRAME_AUTH:
      return smmp_frame_encode_auth (f->sid, f->sender, f->element, f->macs,
                                     f->n_macs, fixed_secret);
    case SMMP_FRAME_KEY:
      return smmp_frame_encode_key (f->sid, f->sender, f->element, fixed_secret);
    case SMMP_FRAME_CONFIRM:
      return smmp_frame_encode_confirm (f->sid, f->sender, f->confirm, fixed_secret);
    case SMMP_FRAME_ABORT:
      return smmp_frame_encode_abort (f->sid, f->sender, f->reason, fixed_secret);
    case SMMP_FRAME_DATA:
    case SMMP_FRAME_RESYNC:
    case SMMP_FRAME_PRIVATE:
      {
        /* Conversation frames are sealed by the ratchets, not by a frame encoder:
         * the same bytes, signed again. */
        gsize len = 0;
        const guint8 *data = g_bytes_get_data (f->bytes, &len);
        /* (len is read only after the call has set it: the order in which
         * arguments are evaluated is unspecified.) */
        guint8 *copy = g_memdup2 (data, len);

        smmp_frame_sign (copy, f->signed_len, fixed_secret, copy + f->signed_len);
        return g_bytes_new_take (copy, len);
      }
    }
  return NULL;
}

static void
check_frame (const SmmpFrame *f)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (f->bytes, &len);
  const char *name = smmp_frame_type_name (f->type);
  gboolean verified = smmp_frame_verify (f, fixed_public);
  g_autoptr (GBytes) again = NULL;
  g_autoptr (SmmpFrame) redecoded = NULL;
  g_autoptr (GError) error = NULL;
  gsize again_len = 0;
  const guint8 *again_data;

  FUZZ_CHECK (name != NULL && strcmp (name, "unknown") != 0);
  FUZZ_CHECK (len >= SMMP_FRAME_HEADER_BYTES && len <= SMMP_FRAME_MAX_BYTES);
  FUZZ_CHECK (f->version == SMMP_PROTOCOL_VERSION && data[0] == f->version);
  FUZZ_CHECK (data[1] == (guint8) f->type);
  FUZZ_CHECK (f->sid == data + 2);
  FUZZ_CHECK (f->handles != NULL);
  for (guint i = 0; i < f->handles->len; i++)
    FUZZ_CHECK (handle_is_sane (g_ptr_array_index (f->handles, i)));

  if (f->type == SMMP_FRAME_INVITE)
    {
      FUZZ_CHECK (f->signature == NULL && !verified);
      FUZZ_CHECK (f->handles->len >= 2 && f->handles->len <= SMMP_MAX_MEMBERS);
    }
  else
    {
      FUZZ_CHECK (f->signature != NULL);
      FUZZ_CHECK (f->signed_len + SMMP_SIGNATURE_BYTES == len);
      FUZZ_CHECK (f->signature == data + f->signed_len);
    }

  switch (f->type)
    {
    case SMMP_FRAME_INVITE:
      break;
    case SMMP_FRAME_ANSWER:
      FUZZ_CHECK (f->identity_key == data + SMMP_FRAME_HEADER_BYTES);
      FUZZ_CHECK (f->ratchet_key == f->identity_key + SMMP_KEY_PUBLIC_BYTES);
      FUZZ_CHECK (f->signing_key == f->ratchet_key + SMMP_KEY_PUBLIC_BYTES);
      break;
    case SMMP_FRAME_ROSTER:
      FUZZ_CHECK (f->n_entries >= 2 && f->n_entries <= SMMP_MAX_MEMBERS);
      FUZZ_CHECK (f->sender < f->n_entries);
      FUZZ_CHECK (f->handles->len <= SMMP_MAX_MEMBERS);
      for (guint i = 0; i < f->n_entries; i++)
        {
          const SmmpRosterEntry *e = &f->entries[i];

          FUZZ_CHECK (handle_is_sane (e->handle));
          FUZZ_CHECK (e->identity_key > data && e->signing_key + SMMP_KEY_PUBLIC_BYTES
                                                  <= data + f->signed_len);
          if (i > 0)
            FUZZ_CHECK (memcmp (f->entries[i - 1].identity_key, e->identity_key,
                                SMMP_KEY_PUBLIC_BYTES) < 0);
        }
      break;
    case SMMP_FRAME_AUTH:
      FUZZ_CHECK (f->n_macs >= 1 && f->n_macs < SMMP_MAX_MEMBERS);
      FUZZ_CHECK (f->macs + (gsize) f->n_macs * SMMP_MAC_BYTES == data + f->signed_len);
      FUZZ_CHECK (f->element + SMMP_BD_ELEMENT_BYTES == f->macs);
      /* Range checks on the element must not mind any 384 bytes. */
      (void) smmp_bd_element_is_valid (f->element);
      (void) smmp_bd_element_is_one (f->element);
      break;
    case SMMP_FRAME_KEY:
      FUZZ_CHECK (f->element + SMMP_BD_ELEMENT_BYTES == data + f->signed_len);
      (void) smmp_bd_element_is_valid (f->element);
      (void) smmp_bd_element_is_one (f->element);
      break;
    case SMMP_FRAME_CONFIRM:
      FUZZ_CHECK (f->confirm + SMMP_MAC_BYTES == data + f->signed_len);
      break;
    case SMMP_FRAME_DATA:
      FUZZ_CHECK (f->n_members >= 2 && f->sender < f->n_members);
      FUZZ_CHECK (f->header_nonce == data + SMMP_DATA_PREFIX_BYTES - SMMP_NONCE_BYTES);
      FUZZ_CHECK (f->header_ct == data + SMMP_DATA_PREFIX_BYTES);
      FUZZ_CHECK (f->body_nonce == f->header_ct + f->header_ct_len);
      FUZZ_CHECK (f->body_ct == f->body_nonce + SMMP_NONCE_BYTES);
      FUZZ_CHECK (f->body_ct_len >= SMMP_AEAD_TAG_BYTES);
      FUZZ_CHECK (f->hmac == f->body_ct + f->body_ct_len);
      FUZZ_CHECK (f->hmac == data + f->hmac_offset);
      FUZZ_CHECK (f->hmac + SMMP_MAC_BYTES == data + f->signed_len);
      break;
    case SMMP_FRAME_RESYNC:
      FUZZ_CHECK (f->n_members >= 2 && f->sender < f->n_members);
      FUZZ_CHECK (f->resync_ct == data + SMMP_DATA_PREFIX_BYTES);
      FUZZ_CHECK (f->resync_ct + SMMP_RESYNC_CT_BYTES == data + f->signed_len);
      break;
    case SMMP_FRAME_PRIVATE:
      FUZZ_CHECK (f->sender != f->recipient && f->recipient < SMMP_MAX_MEMBERS);
      FUZZ_CHECK (f->ratchet_key == data + SMMP_FRAME_HEADER_BYTES + 2);
      FUZZ_CHECK (f->body_nonce == data + SMMP_PRIVATE_PREFIX_BYTES - SMMP_NONCE_BYTES);
      FUZZ_CHECK (f->body_ct == data + SMMP_PRIVATE_PREFIX_BYTES);
      FUZZ_CHECK (f->body_ct_len >= SMMP_AEAD_TAG_BYTES);
      FUZZ_CHECK (f->body_ct + f->body_ct_len == data + f->signed_len);
      break;
    case SMMP_FRAME_ABORT:
      FUZZ_CHECK (f->reason <= G_MAXUINT8);
      /* A refusal names its reason to people: any byte must have a name. */
      FUZZ_CHECK (smmp_error_code_name ((SmmpErrorCode) f->reason) != NULL);
      break;
    }

  /* Decoding is strict, so encoding the decoded fields gives the frame back
   * byte for byte, the signature (made here with the corpus key) aside. */
  again = reencode (f);
  FUZZ_CHECK (again != NULL);
  again_data = g_bytes_get_data (again, &again_len);
  FUZZ_CHECK (again_len == len);
  if (f->type == SMMP_FRAME_INVITE)
    FUZZ_CHECK (memcmp (again_data, data, len) == 0);
  else
    FUZZ_CHECK (memcmp (again_data, data, f->signed_len) == 0);

  redecoded = smmp_frame_decode_bytes (again, &error);
  FUZZ_CHECK (redecoded != NULL && error == NULL);
  FUZZ_CHECK (redecoded->type == f->type);
  if (f->type != SMMP_FRAME_INVITE)
    FUZZ_CHECK (smmp_frame_verify (redecoded, fixed_public));
}

/* Any 1 to SMMP_FRAME_MAX_BYTES bytes survive armour: encode, detect, decode, same bytes. */
static void
check_armour_round_trip (GBytes *bytes)
{
  g_autofree char *text = smmp_armour_encode (bytes);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) back = NULL;

  FUZZ_CHECK (text != NULL);
  FUZZ_CHECK (strlen (text) <= smmp_armour_max_chars ());
  FUZZ_CHECK (smmp_armour_detect (text));
  back = smmp_armour_decode (text, &error);
  FUZZ_CHECK (back != NULL && error == NULL);
  FUZZ_CHECK (g_bytes_equal (back, bytes));
}

static void
check_decode_error (const GError *error)
{
  FUZZ_CHECK (error != NULL);
  FUZZ_CHECK (error->domain == SMMP_ERROR);
  FUZZ_CHECK (error->code == SMMP_ERROR_MALFORMED || error->code == SMMP_ERROR_TOO_LARGE
              || error->code == SMMP_ERROR_VERSION);
  FUZZ_CHECK (error->message != NULL && error->message[0] != '\0');
}

static void
fuzz_frame_bytes (GBytes *bytes)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  g_autoptr (GError) error = NULL;
  g_autoptr (SmmpFrame) frame = NULL;

  /* The decoder copies: hand it the bytes through the (data, len) entry. */
  frame = smmp_frame_decode (data != NULL ? data : (const guint8 *) "", len, &error);
  if (frame == NULL)
    {
      check_decode_error (error);
      return;
    }
  FUZZ_CHECK (error == NULL);
  FUZZ_CHECK (g_bytes_equal (frame->bytes, bytes));
  check_frame (frame);
}

static void
fuzz_armour_text (const uint8_t *data, size_t size)
{
  char *text = g_malloc (size + 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  gboolean detected;

  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';

  detected = smmp_armour_detect (text);
  bytes = smmp_armour_decode (text, &error);
  if (bytes == NULL)
    {
      FUZZ_CHECK (error != NULL && error->domain == SMMP_ERROR);
      FUZZ_CHECK (error->code == SMMP_ERROR_MALFORMED
                  || error->code == SMMP_ERROR_TOO_LARGE);
    }
  else
    {
      FUZZ_CHECK (error == NULL);
      FUZZ_CHECK (detected);
      FUZZ_CHECK (g_bytes_get_size (bytes) >= 1
                  && g_bytes_get_size (bytes) <= SMMP_FRAME_MAX_BYTES);
      fuzz_frame_bytes (bytes);
    }
  g_free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean keyed = FALSE;
  g_autoptr (GBytes) bytes = NULL;

  fuzz_init (FALSE);
  if (!keyed)
    {
      fuzz_fixed_sign_keypair (fixed_public, fixed_secret);
      keyed = TRUE;
    }

  bytes = g_bytes_new (data, size);
  fuzz_frame_bytes (bytes);
  if (size >= 1 && size <= SMMP_FRAME_MAX_BYTES)
    check_armour_round_trip (bytes);
  fuzz_armour_text (data, size);
  return 0;
}
