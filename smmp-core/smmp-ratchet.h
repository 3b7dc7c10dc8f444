/* smmp-ratchet.h: group messages (paper VII and VIII; rulings R3, R3b,
 * R4, R5): sealing a text into a DATA frame, opening one, and stepping the
 * ratchet when a frame is applied.
 *
 * Sealing and opening never change the state: a frame is applied only when
 * the room delivers it in its turn (R6), the sender's own included.
 */
#ifndef SMMP_RATCHET_H
#define SMMP_RATCHET_H

#include <glib.h>

#include "smmp-frame.h"
#include "smmp-state.h"

G_BEGIN_DECLS

/* The longest text one frame carries, in bytes. */
#define SMMP_MAX_TEXT_BYTES 32000
/* A message's id: random, chosen when the text is queued and kept when it
 * is sealed again, so that a member never shows one message twice. */
#define SMMP_MESSAGE_ID_BYTES 16

/* A frame this member sealed and has not yet seen applied. */
typedef struct {
  GBytes *frame;
  char *text;                                 /* UTF-8 */
  guint8 id[SMMP_MESSAGE_ID_BYTES];
  guint32 generation;                         /* the state it was built on */
  guint32 epoch;
  guint8 ratchet_public[SMMP_KEY_PUBLIC_BYTES]; /* R_j^new */
  guint8 *ratchet_secret;                     /* r_j^new, guarded */
} SmmpPending;

void smmp_pending_free (SmmpPending *pending);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmmpPending, smmp_pending_free)

/* A guarded block of SMMP_KEY_BYTES for SmmpPending.ratchet_secret, and
 * its release (wiped, then kept for the next frame or unmapped).  Never
 * NULL. */
guint8 *smmp_guarded_key_new (void);
void smmp_guarded_key_free (guint8 *key);

/* What opening a frame yields. */
typedef struct {
  char *text;                                 /* owned, UTF-8 */
  guint8 id[SMMP_MESSAGE_ID_BYTES];
  guint8 ratchet_public[SMMP_KEY_PUBLIC_BYTES]; /* the sender's new R */
  guint8 digest[SMMP_HASH_BYTES];             /* conv_digest with this message */
} SmmpOpened;

void smmp_opened_clear (SmmpOpened *opened);

/* TRUE iff @text can be sent: 1 to SMMP_MAX_TEXT_BYTES bytes of UTF-8.
 * One rule for sealing, for the send queue and for reading saved texts. */
gboolean smmp_text_is_valid (const char *text);

/* The padded size of a text of @len bytes (docs/PROTOCOL.md, padding). */
gsize smmp_padded_size (gsize len);

/* The padded plaintext of a valid @text: @reserve bytes left to the caller
 * (a message id), the text's length as u32, the text, and zeros up to
 * smmp_padded_size (@reserve + length), which @total_len gets.  The
 * reserved bytes are padded with the text, so they cost no extra size class.
 * Ordinary memory that lives for one call: the caller wipes it
 * (sodium_memzero) before g_free(). */
guint8 *smmp_pad_text (const char *text, gsize reserve, gsize *total_len);

/* The text inside a decrypted padded plaintext of @len bytes made with the
 * same @reserve, checked: length, zero padding, UTF-8 without NUL.  NULL
 * with @error (SMMP_ERROR_MALFORMED). */
char *smmp_unpad_text (const guint8 *plain, gsize len, gsize reserve, GError **error);

/* Seals @text (UTF-8, at most SMMP_MAX_TEXT_BYTES) with message id @id
 * for the whole group on @state.  NULL with @error set (SMMP_ERROR_INVALID)
 * for an unusable text. */
SmmpPending *smmp_ratchet_seal_with_id (const SmmpGroupState *state, const char *text,
                                        const guint8 id[SMMP_MESSAGE_ID_BYTES],
                                        GError **error);
/* The same with a fresh random id. */
SmmpPending *smmp_ratchet_seal (const SmmpGroupState *state, const char *text,
                                GError **error);

/* Checks and decrypts a DATA @frame from member @frame->sender whose
 * signature, session, generation and epoch the caller has checked.  @own is
 * the member's own pending frame when the frame is its own reflection.
 * FALSE with @error: SMMP_ERROR_STALE_KEY (hmac under v fails),
 * SMMP_ERROR_UNDECRYPTABLE (header or body does not decrypt),
 * SMMP_ERROR_MALFORMED (bad padding or text). */
gboolean smmp_ratchet_open (const SmmpGroupState *state, const SmmpFrame *frame,
                            const SmmpPending *own, SmmpOpened *out, GError **error);

/* Applies an opened frame from @sender: digest, R_sender, RK, HK, NHK, mk,
 * epoch (VIII.4-6).  @own as for smmp_ratchet_open(): the sender takes its
 * new private ratchet key from it.  Replaced keys are wiped. */
void smmp_ratchet_apply (SmmpGroupState *state, guint sender,
                         const SmmpOpened *opened, const SmmpPending *own);

/* A resync this member sealed and has not yet seen applied (X.B.1). */
typedef struct {
  GBytes *frame;
  guint32 generation;
  guint8 ratchet_public[SMMP_KEY_PUBLIC_BYTES]; /* R^new */
  guint8 *secrets;          /* guarded: v_new (32) then r_new (32) */
} SmmpResyncPending;

void smmp_resync_pending_free (SmmpResyncPending *pending);

/* Seals a RESYNC frame: a fresh v_new and ratchet key under v (X.B.1.1-5). */
SmmpResyncPending *smmp_ratchet_seal_resync (const SmmpGroupState *state);

/* Decrypts a RESYNC frame under v: @secret_out (guarded, 32 bytes) gets
 * v_new, @ratchet_out R^new.  SMMP_ERROR_STALE_KEY when it does not open. */
gboolean smmp_ratchet_open_resync (const SmmpGroupState *state, const SmmpFrame *frame,
                                   guint8 *secret_out, guint8 ratchet_out[32],
                                   GError **error);

/* Applies a resync from @sender (X.A.1 with ruling R9): v = H(v || v_new),
 * R_sender^init = R^new, every R_i back to R_i^init, this member's own r
 * back to r^init, RK, HK, NHK, mk from v, digest zero, next generation.
 * @own_secret is the sender's r_new when the resync is its own. */
void smmp_ratchet_apply_resync (SmmpGroupState *state, guint sender, const guint8 *v_new,
                                const guint8 ratchet_new[32], const guint8 *own_secret);

G_END_DECLS

#endif /* SMMP_RATCHET_H */
