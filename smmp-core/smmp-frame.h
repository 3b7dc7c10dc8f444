/* smmp-frame.h: the versioned binary frames of SMMP (ruling R14).
 *
 * Every frame starts with a version byte, a type byte and the 16-byte session
 * id.  Frames sent after a member has a session signing key end in a 64-byte
 * Ed25519 signature over every byte before it (a DATA frame: over a digest
 * of them, smmp_frame_sign()).  docs/PROTOCOL.md gives each
 * layout byte by byte.  Decoding checks sizes before anything else and turns
 * every malformed input into an SMMP_ERROR; it never aborts.
 */
#ifndef SMMP_FRAME_H
#define SMMP_FRAME_H

#include <glib.h>

G_BEGIN_DECLS

#define SMMP_PROTOCOL_VERSION 1
#define SMMP_SID_BYTES 16
#define SMMP_KEY_PUBLIC_BYTES 32
#define SMMP_SIGNATURE_BYTES 64
#define SMMP_SIGN_SECRET_BYTES 64
#define SMMP_MAC_BYTES 32
#define SMMP_MAX_MEMBERS 128
#define SMMP_MAX_HANDLE_BYTES 255
#define SMMP_FRAME_HEADER_BYTES (2 + SMMP_SID_BYTES)
#define SMMP_FRAME_MAX_BYTES (64 * 1024)

typedef enum {
  SMMP_FRAME_INVITE = 0x01,  /* initiator: session id and invited handles (R8) */
  SMMP_FRAME_ANSWER = 0x02,  /* invitee: B_j, R_j, signing key (VI.2) */
  SMMP_FRAME_ROSTER = 0x03,  /* initiator: indices fixed by sorted B (R8) */
  SMMP_FRAME_AUTH = 0x04,    /* round 2: H_j and one triple-DH MAC per peer (VI.3-4) */
  SMMP_FRAME_KEY = 0x05,     /* round 3: K_j (VI.8) */
  SMMP_FRAME_CONFIRM = 0x06, /* key confirmation (R7) */
  SMMP_FRAME_ABORT = 0x07,   /* a member refuses the session, with the reason */
  SMMP_FRAME_DATA = 0x10,    /* a message to the whole group (paper VII; R3-R6) */
  SMMP_FRAME_RESYNC = 0x11,  /* a fresh v and R for everyone (paper X.B.1; R9) */
  SMMP_FRAME_PRIVATE = 0x12, /* a one-on-one message inside the session (IX; R11) */
} SmmpFrameType;

#define SMMP_NONCE_BYTES 24
#define SMMP_AEAD_TAG_BYTES 16
/* DATA: header, sender, member count, generation and epoch, header nonce. */
#define SMMP_DATA_PREFIX_BYTES (SMMP_FRAME_HEADER_BYTES + 1 + 1 + 4 + 4 + SMMP_NONCE_BYTES)
/* PRIVATE: header, sender, recipient, ratchet key, previous chain length,
 * message number, nonce: the AEAD's associated data. */
#define SMMP_PRIVATE_PREFIX_BYTES \
  (SMMP_FRAME_HEADER_BYTES + 1 + 1 + SMMP_KEY_PUBLIC_BYTES + 4 + 4 + SMMP_NONCE_BYTES)

typedef struct {
  char *handle;                /* owned, NUL-terminated UTF-8 */
  const guint8 *identity_key;  /* B, 32 bytes, view into the frame */
  const guint8 *ratchet_key;   /* R, 32 bytes */
  const guint8 *signing_key;   /* Ed25519 public key, 32 bytes */
} SmmpRosterEntry;

/* A decoded frame.  Every pointer is a view into the frame's own copy of
 * the bytes and lives as long as the frame. */
typedef struct {
  GBytes *bytes;            /* the whole frame as received */
  guint8 version;
  SmmpFrameType type;
  const guint8 *sid;        /* SMMP_SID_BYTES */
  const guint8 *signature;  /* NULL for unsigned types (INVITE) */
  gsize signed_len;         /* bytes the signature covers */

  guint sender;             /* AUTH, KEY, CONFIRM, ABORT: index; ROSTER: signer */

  /* INVITE: invited handles.  ROSTER: outsiders (invited, not answering). */
  GPtrArray *handles;       /* of char*, owned */

  /* ROSTER */
  SmmpRosterEntry *entries;
  guint n_entries;

  /* ANSWER; PRIVATE: ratchet_key is the sender's one-on-one ratchet key */
  const guint8 *identity_key;
  const guint8 *ratchet_key;
  const guint8 *signing_key;

  /* AUTH: H_j; KEY: K_j (SMMP_BD_ELEMENT_BYTES) */
  const guint8 *element;
  /* AUTH: one MAC per other member, in index order, the sender skipped */
  const guint8 *macs;
  guint n_macs;

  /* CONFIRM */
  const guint8 *confirm;

  /* ABORT: an SmmpErrorCode */
  guint reason;

  /* DATA (sender is above) */
  guint n_members;          /* the session's N, fixing the header's size */
  guint32 generation;       /* resyncs applied to the state it was built on */
  guint32 epoch;            /* data frames accepted in that generation */
  const guint8 *header_nonce;
  const guint8 *header_ct;  /* (n_members - 1) * 32 + 16 bytes */
  gsize header_ct_len;
  const guint8 *body_nonce;
  const guint8 *body_ct;
  gsize body_ct_len;
  const guint8 *hmac;       /* hmac(v, every byte before it) */
  gsize hmac_offset;        /* bytes the hmac covers */

  /* RESYNC: sender, n_members, generation, epoch and header_nonce as DATA;
   * then AEAD under v of v_new || R_new. */
  const guint8 *resync_ct;  /* SMMP_RESYNC_CT_BYTES */

  /* PRIVATE: sender (above) to @recipient; the message is number
   * @message_number of the chain of @ratchet_key, and the sender's
   * previous chain had @previous_count messages.  body_nonce and body_ct
   * (as DATA) hold the AEAD of the padded text. */
  guint recipient;
  guint32 previous_count;
  guint32 message_number;
} SmmpFrame;

#define SMMP_RESYNC_CT_BYTES (2 * SMMP_KEY_PUBLIC_BYTES + SMMP_AEAD_TAG_BYTES)

/* Decodes @len bytes at @data (copied).  Returns NULL with @error set
 * (SMMP_ERROR_TOO_LARGE, _VERSION or _MALFORMED) for anything that is not a
 * well-formed frame of this version.  Signatures are not checked here. */
SmmpFrame *smmp_frame_decode (const guint8 *data, gsize len, GError **error);
SmmpFrame *smmp_frame_decode_bytes (GBytes *bytes, GError **error);

void smmp_frame_free (SmmpFrame *frame);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmmpFrame, smmp_frame_free)

/* TRUE iff @len bytes at @handle make a usable handle: 1 to 255 bytes of
 * UTF-8 with no control or format characters (Unicode Cc and Cf: no
 * C0/C1 controls, no bidirectional overrides, no zero-width characters),
 * since handles are shown to people. */
gboolean smmp_handle_is_valid (const char *handle, gsize len);

/* What a DATA frame's signature signs (docs/PROTOCOL.md 2.3, 4.2; ruling R5):
 * ASCII0 (SMMP_DATA_SIGNATURE_LABEL) || BLAKE2b-512 of every byte of the
 * frame before its signature, SMMP_DATA_SIGNED_BYTES in all whatever the
 * frame's size.  Every other signed frame is signed over those bytes
 * themselves. */
#define SMMP_DATA_SIGNATURE_LABEL "SMMPv1 data"
#define SMMP_DATA_FRAME_DIGEST_BYTES 64
#define SMMP_DATA_SIGNED_BYTES (sizeof SMMP_DATA_SIGNATURE_LABEL + SMMP_DATA_FRAME_DIGEST_BYTES)

/* The signature of a frame whose bytes before the signature are the @len
 * bytes at @data, by the rule of its type byte @data[1] (above), with the
 * Ed25519 secret key @sign_secret (guarded memory). */
void smmp_frame_sign (const guint8 *data, gsize len, const guint8 *sign_secret,
                      guint8 signature[SMMP_SIGNATURE_BYTES]);

/* TRUE iff the frame is signed and its signature verifies under
 * @signing_key, by the rule of its type (above). */
gboolean smmp_frame_verify (const SmmpFrame *frame,
                            const guint8 signing_key[SMMP_KEY_PUBLIC_BYTES]);

/* A short name for @type ("invite", "auth", ...). */
const char *smmp_frame_type_name (SmmpFrameType type);

/* Encoders.  Each returns a new GBytes; @sign_secret is the sender's Ed25519
 * secret key (64 bytes, guarded memory) for signed frames. */
GBytes *smmp_frame_encode_invite (const guint8 sid[SMMP_SID_BYTES],
                                  const char *const *handles, guint n_handles);
GBytes *smmp_frame_encode_answer (const guint8 sid[SMMP_SID_BYTES],
                                  const guint8 identity_key[SMMP_KEY_PUBLIC_BYTES],
                                  const guint8 ratchet_key[SMMP_KEY_PUBLIC_BYTES],
                                  const guint8 signing_key[SMMP_KEY_PUBLIC_BYTES],
                                  const guint8 *sign_secret);
GBytes *smmp_frame_encode_roster (const guint8 sid[SMMP_SID_BYTES], guint signer,
                                  const SmmpRosterEntry *entries, guint n_entries,
                                  const char *const *outsiders, guint n_outsiders,
                                  const guint8 *sign_secret);
GBytes *smmp_frame_encode_auth (const guint8 sid[SMMP_SID_BYTES], guint sender,
                                const guint8 *element, const guint8 *macs,
                                guint n_macs, const guint8 *sign_secret);
GBytes *smmp_frame_encode_key (const guint8 sid[SMMP_SID_BYTES], guint sender,
                               const guint8 *element, const guint8 *sign_secret);
GBytes *smmp_frame_encode_confirm (const guint8 sid[SMMP_SID_BYTES], guint sender,
                                   const guint8 confirm[SMMP_MAC_BYTES],
                                   const guint8 *sign_secret);
GBytes *smmp_frame_encode_abort (const guint8 sid[SMMP_SID_BYTES], guint sender,
                                 guint reason, const guint8 *sign_secret);

G_END_DECLS

#endif /* SMMP_FRAME_H */
