/* make-corpus.c: writes the seed corpus of the fuzz targets.
 *
 *   make-corpus FRAME-DIR [KA-DIR]
 *
 * FRAME-DIR receives a valid frame of every type (INVITE, ANSWER, ROSTER,
 * AUTH, KEY, CONFIRM, ABORT; small and largest forms), each as NAME.bin and
 * armoured as NAME.txt.  Keys come from libsodium, group elements from
 * smmp_bd_secret_generate(), and every signed frame is signed with the fixed
 * corpus key of fuzz-common.c, which fuzz-frame verifies against.
 *
 * KA-DIR, if given, receives inputs for fuzz-ka in its record format
 * (fuzz-common.h): a two-member session run to the end, carol answering and
 * sending round frames, a roster pushed to bob, and so on.
 *
 * libsodium's generator is the deterministic one of fuzz-common.c, so the
 * output is the same on every run: regenerating the committed corpus
 * changes nothing unless the frame formats changed.
 */
#include "fuzz-common.h"

#include "smmp-armour.h"
#include "smmp-bd.h"
#include "smmp-error.h"
#include "smmp-frame.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static guint8 sign_public[32];
static guint8 sign_secret[64];
static guint n_written;
static gsize bytes_written;

static void
write_file (const char *dir, const char *name, const void *data, gsize len)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  if (!g_file_set_contents (path, data, (gssize) len, &error))
    {
      fprintf (stderr, "make-corpus: %s\n", error->message);
      exit (1);
    }
  n_written++;
  bytes_written += len;
}

/* NAME.bin and its armoured form NAME.txt.  Takes @frame. */
static void
write_frame (const char *dir, const char *name, GBytes *frame)
{
  g_autofree char *bin = g_strconcat (name, ".bin", NULL);
  g_autofree char *txt = g_strconcat (name, ".txt", NULL);
  g_autofree char *armoured = smmp_armour_encode (frame);
  g_autoptr (GError) error = NULL;
  g_autoptr (SmmpFrame) check = smmp_frame_decode_bytes (frame, &error);

  if (check == NULL)
    {
      fprintf (stderr, "make-corpus: %s does not decode: %s\n", name, error->message);
      exit (1);
    }
  if (check->type != SMMP_FRAME_INVITE && !smmp_frame_verify (check, sign_public))
    {
      fprintf (stderr, "make-corpus: %s does not verify\n", name);
      exit (1);
    }
  write_file (dir, bin, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
  write_file (dir, txt, armoured, strlen (armoured));
  g_bytes_unref (frame);
}

static void
random_point (guint8 out[32])
{
  guint8 secret[32];

  crypto_box_keypair (out, secret);
  sodium_memzero (secret, sizeof secret);
}

static void
element (guint8 out[SMMP_BD_ELEMENT_BYTES])
{
  smmp_bd_secret_free (smmp_bd_secret_generate (out));
}

typedef struct {
  char *handle;
  guint8 keys[3][32];
} Member;

static int
member_compare (const void *a, const void *b)
{
  return memcmp (((const Member *) a)->keys[0], ((const Member *) b)->keys[0], 32);
}

/* A roster of @n members named by @names (or member-NNN), sorted by identity
 * key and signed by @names[@signer_hint].  With @low_order_last the last
 * name gets the identity key 0, a low-order curve point. */
static GBytes *
make_roster_full (const guint8 sid[SMMP_SID_BYTES], guint n, const char *const *names,
                  guint signer_hint, const char *const *outsiders, guint n_outsiders,
                  const guint8 *secret, gboolean low_order_last)
{
  Member *members = g_new0 (Member, n);
  SmmpRosterEntry *entries = g_new0 (SmmpRosterEntry, n);
  guint signer = 0;
  GBytes *frame;

  for (guint i = 0; i < n; i++)
    {
      members[i].handle = names != NULL ? g_strdup (names[i])
                                        : g_strdup_printf ("member-%03u@example.org", i);
      random_point (members[i].keys[0]);
      random_point (members[i].keys[1]);
      random_point (members[i].keys[2]);
    }
  if (low_order_last)
    memset (members[n - 1].keys[0], 0, 32);
  qsort (members, n, sizeof *members, member_compare);
  for (guint i = 0; i < n; i++)
    {
      entries[i].handle = members[i].handle;
      entries[i].identity_key = members[i].keys[0];
      entries[i].ratchet_key = members[i].keys[1];
      entries[i].signing_key = members[i].keys[2];
      if (names != NULL && strcmp (members[i].handle, names[signer_hint]) == 0)
        signer = i;
    }
  frame = smmp_frame_encode_roster (sid, signer, entries, n, outsiders, n_outsiders,
                                    secret);
  for (guint i = 0; i < n; i++)
    g_free (members[i].handle);
  g_free (members);
  g_free (entries);
  return frame;
}

static GBytes *
make_roster (const guint8 sid[SMMP_SID_BYTES], guint n, const char *const *names,
             guint signer_hint, const char *const *outsiders, guint n_outsiders,
             const guint8 *secret)
{
  return make_roster_full (sid, n, names, signer_hint, outsiders, n_outsiders, secret,
                           FALSE);
}

/* Appends the corpus key's signature to @w's bytes, by the rule of the
 * frame's type (smmp_frame_sign()); takes @w. */
static GBytes *
signed_frame (GByteArray *w)
{
  guint8 sig[SMMP_SIGNATURE_BYTES];

  smmp_frame_sign (w->data, w->len, sign_secret, sig);
  g_byte_array_append (w, sig, sizeof sig);
  return g_byte_array_free_to_bytes (w);
}

static void
put_random (GByteArray *w, gsize len)
{
  guint8 *buf = g_malloc (len);

  randombytes_buf (buf, len);
  g_byte_array_append (w, buf, (guint) len);
  g_free (buf);
}

static GByteArray *
header (SmmpFrameType type, const guint8 sid[SMMP_SID_BYTES])
{
  GByteArray *w = g_byte_array_new ();
  const guint8 head[2] = { SMMP_PROTOCOL_VERSION, (guint8) type };

  g_byte_array_append (w, head, 2);
  g_byte_array_append (w, sid, SMMP_SID_BYTES);
  return w;
}

/* DATA, RESYNC and PRIVATE frames are sealed by the ratchets under keys a
 * decoder never sees: here their layouts, with random bytes where the
 * ciphertexts go, signed with the corpus key. */
static void
write_conversation_frames (const char *dir, const guint8 sid[SMMP_SID_BYTES])
{
  static const guint8 numbers[] = { 0, 3, 0, 0, 0, 1, 0, 0, 0, 7 }; /* sender, n, gen, epoch */
  static const guint8 private_numbers[] = { 2, 0 };                  /* sender, recipient */
  static const guint8 counters[] = { 0, 0, 0, 4, 0, 0, 0, 9 };       /* pn, n */
  GByteArray *w;

  w = header (SMMP_FRAME_DATA, sid);
  g_byte_array_append (w, numbers, sizeof numbers);
  put_random (w, SMMP_NONCE_BYTES + 2 * SMMP_KEY_PUBLIC_BYTES + SMMP_AEAD_TAG_BYTES);
  put_random (w, SMMP_NONCE_BYTES + 128 + SMMP_AEAD_TAG_BYTES + SMMP_MAC_BYTES);
  write_frame (dir, "data", signed_frame (w));

  w = header (SMMP_FRAME_RESYNC, sid);
  g_byte_array_append (w, numbers, sizeof numbers);
  put_random (w, SMMP_NONCE_BYTES + SMMP_RESYNC_CT_BYTES);
  write_frame (dir, "resync", signed_frame (w));

  w = header (SMMP_FRAME_PRIVATE, sid);
  g_byte_array_append (w, private_numbers, sizeof private_numbers);
  put_random (w, SMMP_KEY_PUBLIC_BYTES);
  g_byte_array_append (w, counters, sizeof counters);
  put_random (w, SMMP_NONCE_BYTES + 64 + SMMP_AEAD_TAG_BYTES);
  write_frame (dir, "private", signed_frame (w));
}

static void
write_frames (const char *dir)
{
  static const char *const three[] = { "alice", "bob", "carol" };
  static const char *const outsiders[] = { "dave" };
  guint8 sid[SMMP_SID_BYTES];
  guint8 ik[32], rk[32];
  guint8 elem[SMMP_BD_ELEMENT_BYTES];
  guint8 mac[SMMP_MAC_BYTES];
  guint8 macs[(SMMP_MAX_MEMBERS - 1) * SMMP_MAC_BYTES];
  GPtrArray *many = g_ptr_array_new_with_free_func (g_free);

  randombytes_buf (sid, sizeof sid);

  write_frame (dir, "invite-3", smmp_frame_encode_invite (sid, three, 3));
  /* The most members, with handles of every kind the decoder accepts. */
  g_ptr_array_add (many, g_strdup ("zo\xc3\xab \xe2\x9c\x93 \xf0\x9f\x94\x92"));
  g_ptr_array_add (many, g_strnfill (SMMP_MAX_HANDLE_BYTES, 'x'));
  g_ptr_array_add (many, g_strdup ("a"));
  while (many->len < SMMP_MAX_MEMBERS)
    g_ptr_array_add (many, g_strdup_printf ("member-%03u@example.org", many->len));
  write_frame (dir, "invite-max", smmp_frame_encode_invite (sid,
                                                            (const char *const *) many->pdata,
                                                            many->len));
  g_ptr_array_unref (many);

  random_point (ik);
  random_point (rk);
  write_frame (dir, "answer", smmp_frame_encode_answer (sid, ik, rk, sign_public, sign_secret));

  write_frame (dir, "roster-2", make_roster (sid, 2, three, 0, NULL, 0, sign_secret));
  write_frame (dir, "roster-3", make_roster (sid, 3, three, 0, outsiders, 1, sign_secret));
  write_frame (dir, "roster-max", make_roster (sid, SMMP_MAX_MEMBERS, NULL, 0,
                                               NULL, 0, sign_secret));

  element (elem);
  randombytes_buf (macs, sizeof macs);
  write_frame (dir, "auth-3", smmp_frame_encode_auth (sid, 1, elem, macs, 2, sign_secret));
  write_frame (dir, "auth-max", smmp_frame_encode_auth (sid, SMMP_MAX_MEMBERS - 1, elem,
                                                        macs, SMMP_MAX_MEMBERS - 1,
                                                        sign_secret));

  element (elem);
  write_frame (dir, "key-3", smmp_frame_encode_key (sid, 2, elem, sign_secret));
  memset (elem, 0, sizeof elem);
  elem[SMMP_BD_ELEMENT_BYTES - 1] = 1;  /* K = 1, as with two members */
  write_frame (dir, "key-one", smmp_frame_encode_key (sid, 1, elem, sign_secret));

  randombytes_buf (mac, sizeof mac);
  write_frame (dir, "confirm", smmp_frame_encode_confirm (sid, 0, mac, sign_secret));
  write_frame (dir, "abort", smmp_frame_encode_abort (sid, 1, SMMP_ERROR_REFUSED,
                                                      sign_secret));
  write_conversation_frames (dir, sid);
}

/* ---- fuzz-ka inputs ---------------------------------------------------- */

static void
write_input (const char *dir, const char *name, GByteArray *input)
{
  g_autofree char *file = g_strconcat (name, ".bin", NULL);

  write_file (dir, file, input->data, input->len);
  g_byte_array_unref (input);
}

/* Appends a record and drops @payload. */
static void
add (GByteArray *input, guint8 control, GBytes *payload)
{
  fuzz_ka_append_record (input, control, payload);
  if (payload != NULL)
    g_bytes_unref (payload);
}

static void
write_ka_inputs (const char *dir)
{
  static const char *const three[] = { "alice", "bob", "carol" };
  static const char *const names[] = { "alice", "bob", "carol", "mallory" };
  static const char *const outsiders[] = { "carol" };
  /* The session id does not matter: fuzz-ka's FIXUP puts in its own. */
  const guint8 sid[SMMP_SID_BYTES] = { 0 };
  guint8 ik[32], rk[32];
  guint8 elem[SMMP_BD_ELEMENT_BYTES];
  guint8 mac[SMMP_MAC_BYTES * 2];
  const guint8 fixup_carol = FUZZ_KA_CAROL | FUZZ_KA_FIXUP;
  GByteArray *in;

  random_point (ik);
  random_point (rk);
  element (elem);
  randombytes_buf (mac, sizeof mac);

  /* Nobody but bob answers; alice closes the invitation when it expires
   * and the two run the whole session. */
  in = g_byte_array_new ();
  add (in, 0, NULL);                     /* relay the INVITE and bob's ANSWER */
  add (in, FUZZ_KA_EXPIRE_ALICE, NULL);
  write_input (dir, "ka-session-2", in);

  /* Carol answers (as herself, FIXUP signs it): a three-member roster, and
   * rounds that wait for her. */
  in = g_byte_array_new ();
  add (in, fixup_carol,
       smmp_frame_encode_answer (sid, ik, rk, sign_public, sign_secret));
  write_input (dir, "ka-carol-answer", in);

  /* ... and then sends frames of every round as each possible index. */
  in = g_byte_array_new ();
  add (in, fixup_carol,
       smmp_frame_encode_answer (sid, ik, rk, sign_public, sign_secret));
  for (guint s = 0; s < 3; s++)
    add (in, fixup_carol, smmp_frame_encode_auth (sid, s, elem, mac, 2, sign_secret));
  for (guint s = 0; s < 3; s++)
    add (in, fixup_carol, smmp_frame_encode_key (sid, s, elem, sign_secret));
  for (guint s = 0; s < 3; s++)
    add (in, fixup_carol, smmp_frame_encode_confirm (sid, s, mac, sign_secret));
  add (in, fixup_carol | FUZZ_KA_EXPIRE_ALICE | FUZZ_KA_EXPIRE_BOB,
       smmp_frame_encode_abort (sid, 2, SMMP_ERROR_REFUSED, sign_secret));
  write_input (dir, "ka-carol-rounds", in);

  /* A roster "from alice" reaches bob before alice's own (held). */
  in = g_byte_array_new ();
  add (in, FUZZ_KA_ALICE | FUZZ_KA_FIXUP | FUZZ_KA_NOT_TO_ALICE | FUZZ_KA_HOLD,
       make_roster (sid, 3, three, 0, NULL, 0, sign_secret));
  add (in, fixup_carol, smmp_frame_encode_auth (sid, 2, elem, mac, 2, sign_secret));
  write_input (dir, "ka-roster-to-bob", in);

  /* The same with two members and carol named as an outsider. */
  in = g_byte_array_new ();
  add (in, FUZZ_KA_ALICE | FUZZ_KA_FIXUP | FUZZ_KA_NOT_TO_ALICE | FUZZ_KA_HOLD,
       make_roster (sid, 2, three, 0, outsiders, 1, sign_secret));
  add (in, 0, NULL);
  add (in, FUZZ_KA_EXPIRE_ALICE, NULL);
  write_input (dir, "ka-roster-2-to-bob", in);

  /* Mallory, who was not invited, answers and invites. */
  in = g_byte_array_new ();
  add (in, FUZZ_KA_MALLORY | FUZZ_KA_FIXUP,
       smmp_frame_encode_answer (sid, ik, rk, sign_public, sign_secret));
  add (in, FUZZ_KA_MALLORY | FUZZ_KA_FIXUP, smmp_frame_encode_invite (sid, names, 4));
  write_input (dir, "ka-mallory", in);

  /* Bob gives up on the roster; alice still waits for carol. */
  in = g_byte_array_new ();
  add (in, 0, NULL);
  add (in, FUZZ_KA_EXPIRE_BOB, NULL);
  add (in, FUZZ_KA_EXPIRE_ALICE, NULL);
  write_input (dir, "ka-expire-bob", in);

  /* Frames held back and delivered late, after the session is up. */
  in = g_byte_array_new ();
  add (in, 0, NULL);
  add (in, FUZZ_KA_HOLD | FUZZ_KA_EXPIRE_ALICE, NULL);
  add (in, FUZZ_KA_BOB | FUZZ_KA_FIXUP,
       smmp_frame_encode_answer (sid, ik, rk, sign_public, sign_secret));
  add (in, FUZZ_KA_CAROL, NULL);
  add (in, fixup_carol, smmp_frame_encode_confirm (sid, 0, mac, sign_secret));
  write_input (dir, "ka-late", in);

  /* Every type, unsigned by anyone the session knows (no FIXUP). */
  in = g_byte_array_new ();
  add (in, FUZZ_KA_CAROL, smmp_frame_encode_invite (sid, three, 3));
  add (in, FUZZ_KA_CAROL, smmp_frame_encode_answer (sid, ik, rk, sign_public, sign_secret));
  add (in, FUZZ_KA_CAROL, make_roster (sid, 3, three, 0, NULL, 0, sign_secret));
  add (in, FUZZ_KA_CAROL, smmp_frame_encode_auth (sid, 2, elem, mac, 2, sign_secret));
  add (in, FUZZ_KA_CAROL, smmp_frame_encode_key (sid, 2, elem, sign_secret));
  add (in, FUZZ_KA_CAROL, smmp_frame_encode_confirm (sid, 2, mac, sign_secret));
  add (in, FUZZ_KA_CAROL, smmp_frame_encode_abort (sid, 2, SMMP_ERROR_REFUSED, sign_secret));
  write_input (dir, "ka-foreign", in);

  /* Frames forged with bob's session key (an insider) reach alice, ahead
   * of bob's own: a round key K = 1 (right for two members, and then
   * bob's real one is a second, different KEY), and confirmations that
   * cannot be right.  Bob's index is 0 or 1: both are sent. */
  in = g_byte_array_new ();
  add (in, 0, NULL);
  add (in, FUZZ_KA_EXPIRE_ALICE | FUZZ_KA_HOLD, NULL);
  memset (elem, 0, sizeof elem);
  elem[SMMP_BD_ELEMENT_BYTES - 1] = 1;
  for (guint s = 0; s < 2; s++)
    add (in, FUZZ_KA_BOB | FUZZ_KA_FIXUP | FUZZ_KA_NOT_TO_BOB | FUZZ_KA_HOLD,
         smmp_frame_encode_key (sid, s, elem, sign_secret));
  for (guint s = 0; s < 2; s++)
    add (in, FUZZ_KA_BOB | FUZZ_KA_FIXUP | FUZZ_KA_NOT_TO_BOB | FUZZ_KA_HOLD,
         smmp_frame_encode_confirm (sid, s, mac, sign_secret));
  write_input (dir, "ka-forged-by-bob", in);

  /* Group elements out of range: K = 0 from bob, H = 0 from carol. */
  in = g_byte_array_new ();
  add (in, 0, NULL);
  add (in, FUZZ_KA_EXPIRE_ALICE | FUZZ_KA_HOLD, NULL);
  memset (elem, 0, sizeof elem);
  for (guint s = 0; s < 2; s++)
    add (in, FUZZ_KA_BOB | FUZZ_KA_FIXUP | FUZZ_KA_NOT_TO_BOB | FUZZ_KA_HOLD,
         smmp_frame_encode_key (sid, s, elem, sign_secret));
  write_input (dir, "ka-bad-key", in);

  in = g_byte_array_new ();
  add (in, fixup_carol,
       smmp_frame_encode_answer (sid, ik, rk, sign_public, sign_secret));
  add (in, fixup_carol, smmp_frame_encode_auth (sid, 2, elem, mac, 2, sign_secret));
  write_input (dir, "ka-carol-bad-auth", in);

  /* A roster "from alice" for bob in which carol's identity key is a
   * low-order point. */
  in = g_byte_array_new ();
  add (in, FUZZ_KA_ALICE | FUZZ_KA_FIXUP | FUZZ_KA_NOT_TO_ALICE | FUZZ_KA_HOLD,
       make_roster_full (sid, 3, three, 0, NULL, 0, sign_secret, TRUE));
  write_input (dir, "ka-roster-low-order", in);
}

int
main (int argc, char **argv)
{
  if (argc < 2 || argc > 3)
    {
      fprintf (stderr, "usage: %s FRAME-DIR [KA-DIR]\n", argv[0]);
      return 2;
    }
  fuzz_init (TRUE);
  fuzz_rng_reset (G_GUINT64_CONSTANT (0x636f72707573)); /* "corpus" */
  fuzz_fixed_sign_keypair (sign_public, sign_secret);

  for (int i = 1; i < argc; i++)
    if (g_mkdir_with_parents (argv[i], 0755) != 0)
      {
        fprintf (stderr, "make-corpus: cannot create %s\n", argv[i]);
        return 1;
      }
  write_frames (argv[1]);
  if (argc == 3)
    write_ka_inputs (argv[2]);
  printf ("make-corpus: wrote %u files, %" G_GSIZE_FORMAT " bytes\n", n_written,
          bytes_written);
  return 0;
}
