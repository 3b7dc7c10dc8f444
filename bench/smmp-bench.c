/* smmp-bench: the cost of one group message in SMMP, by group size, next to
 * one X25519 scalar multiplication and libolm's Megolm on the same machine.
 *
 *   smmp-bench [--json] [--sizes 2,5,10,20,50,100] [--messages M] [--seed S]
 *
 * For each group size N a simulated room (tests/sim) takes N members
 * through key agreement.  Then member 0 sends a long run of 100-byte texts
 * and every member applies every one of them, in order, straight through
 * the ratchet API (smmp-ratchet.h): the sender seals and applies its own
 * reflection, each receiver decodes, verifies, opens and applies.  After
 * each timed message the yardsticks run as well (a few X25519
 * multiplications, one Megolm message), so that the ratios compare work
 * done under the same conditions on a machine whose speed drifts.  After
 * each message one receiver also saves its session, as the plugin does
 * after every frame it accepts (smmp_session_to_json(), the text wiped and
 * freed); at the end the saved text must read back into the state that
 * member holds.
 *
 * Only engine work is timed, in the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), the yardsticks alike; the checks of the
 * results (every opened text equals the sent one, all members end in one
 * shared state, every Megolm message decrypts to its text) sit outside the
 * timed sections, and any failure stops the run with exit status 1 before a
 * figure is printed.  bench/README.md explains each figure.
 */
#include "sim-room.h"
#include "smmp-state-private.h"

#include <olm/inbound_group_session.h>
#include <olm/olm.h>
#include <olm/outbound_group_session.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEXT_BYTES 100
#define WARMUP_MESSAGES 20
#define DEFAULT_MESSAGES 1200
#define X25519_WARMUP 500
#define X25519_PER_MESSAGE 8
#define MEGOLM_WARMUP 100
#define SAVE_MEMBER 1 /* a receiver: member 0 sends */

static const guint default_sizes[] = { 2, 5, 10, 20, 50, 100 };

static gboolean opt_json = FALSE;
static char *opt_sizes = NULL;
static gint opt_messages = 0;
static gint64 opt_seed = 1;

static const GOptionEntry entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print one JSON array, one object per N", NULL },
  { "sizes", 'n', 0, G_OPTION_ARG_STRING, &opt_sizes,
    "Group sizes, comma-separated (default 2,5,10,20,50,100)", "N,N,..." },
  { "messages", 'm', 0, G_OPTION_ARG_INT, &opt_messages,
    "Timed messages per N (default 1200)", "M" },
  { "seed", 's', 0, G_OPTION_ARG_INT64, &opt_seed, "Seed of the room's schedule", "S" },
  G_OPTION_ENTRY_NULL
};

typedef struct {
  guint n;
  guint messages;
  double send_us;
  double recv_us;
  double save_us;
  gsize frame_bytes;
  gsize state_bytes;
  double x25519_us;
  double megolm_encrypt_us;
  double megolm_decrypt_us;
  double ka_s;              /* key agreement in the simulator, for the progress line */
} Result;

G_GNUC_NORETURN G_GNUC_PRINTF (1, 2) static void
fail (const char *format, ...)
{
  va_list args;

  fflush (stdout);
  fputs ("smmp-bench: FAILED: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputs ("\nsmmp-bench: no figures printed: the benchmark does not time broken work\n",
         stderr);
  exit (EXIT_FAILURE);
}

static gint64
clock_ns (clockid_t clock, const char *name)
{
  struct timespec ts;

  if (clock_gettime (clock, &ts) != 0)
    fail ("clock_gettime (%s) failed", name);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Every timed figure is CPU time of the calling thread, not wall time:
 * when other jobs preempt the benchmark, the time it waits for the CPU
 * counts in neither the engine's work nor the yardsticks, so it no longer
 * leaks into one side of a ratio and not the other.  The benchmark runs on
 * one thread (nothing here or in the libraries it calls starts another),
 * so this thread's time is all of its work.  The call is a system call
 * (about 0.6 us on the development machine, against 0.03 for the wall
 * clock), paid about once per timed interval (bench/README.md). */
static gint64
cpu_ns (void)
{
  return clock_ns (CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID");
}

/* What an empty interval reads: about one call of cpu_ns().  Subtracted
 * from every timed interval, so that the clock's own cost does not count
 * as work: left in, it would make each yardstick of 8 X25519 look about
 * 0.2% slower and every ratio that much smaller (0.2 units of the send
 * target at N = 100). */
static gint64 clock_cost_ns;

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  const gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* The median of many back-to-back readings: a reading that other jobs
 * happened to interrupt does not move it. */
static void
calibrate_clock (void)
{
  gint64 diffs[2001];

  for (guint i = 0; i < G_N_ELEMENTS (diffs); i++)
    {
      gint64 t0 = cpu_ns ();

      diffs[i] = cpu_ns () - t0;
    }
  qsort (diffs, G_N_ELEMENTS (diffs), sizeof diffs[0], compare_gint64);
  clock_cost_ns = diffs[G_N_ELEMENTS (diffs) / 2];
}

/* CPU time from @t0 to @t1, both cpu_ns() readings, less the clock's cost. */
static gint64
interval_ns (gint64 t0, gint64 t1)
{
  return t1 - t0 - clock_cost_ns;
}

/* Wall time, for the progress lines only. */
static gint64
wall_ns (void)
{
  return clock_ns (CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
}

/* Texts of exactly TEXT_BYTES bytes of UTF-8, numbered so that no two are
 * alike, with two- and three-byte characters in them. */
static void
make_text (guint index, char out[TEXT_BYTES + 1])
{
  static const char filler[] = "Grüße aus Köln — ça va? Ünïcödé ✓ ";
  const char *p = filler;
  gsize len = (gsize) g_snprintf (out, TEXT_BYTES + 1, "#%07u ", index);

  for (;;)
    {
      const char *next = g_utf8_next_char (p);
      gsize clen = (gsize) (next - p);

      if (*p == '\0')
        {
          p = filler;
          continue;
        }
      if (len + clen > TEXT_BYTES)
        break;
      memcpy (out + len, p, clen);
      len += clen;
      p = next;
    }
  while (len < TEXT_BYTES)
    out[len++] = '.';
  out[len] = '\0';
  if (strlen (out) != TEXT_BYTES || !g_utf8_validate (out, -1, NULL))
    fail ("text %u is not %d bytes of UTF-8", index, TEXT_BYTES);
}

/* ---- X25519 -------------------------------------------------------------- */

/* One crypto_scalarmult at a time, each result the next input: a point of
 * the prime-order subgroup stays there, so no step yields the all-zero
 * refusal. */
typedef struct {
  guint8 scalar[crypto_scalarmult_SCALARBYTES];
  guint8 point[crypto_scalarmult_BYTES];
  gint64 spent_ns;
  guint64 count;
} X25519Bench;

static void
x25519_init (X25519Bench *xb)
{
  guint8 other[crypto_scalarmult_SCALARBYTES];

  memset (xb, 0, sizeof *xb);
  randombytes_buf (xb->scalar, sizeof xb->scalar);
  randombytes_buf (other, sizeof other);
  crypto_scalarmult_base (xb->point, other);
}

/* @iterations multiplications in a row; timed unless @timed is FALSE. */
static void
x25519_run (X25519Bench *xb, guint iterations, gboolean timed)
{
  guint8 out[crypto_scalarmult_BYTES];
  gint64 t0 = cpu_ns ();

  for (guint i = 0; i < iterations; i++)
    {
      if (crypto_scalarmult (out, xb->scalar, xb->point) != 0)
        fail ("crypto_scalarmult refused a point of the prime-order subgroup");
      memcpy (xb->point, out, sizeof out);
    }
  if (timed)
    {
      xb->spent_ns += interval_ns (t0, cpu_ns ());
      xb->count += iterations;
    }
}

/* ---- Megolm (libolm) ----------------------------------------------------- */

/* One Megolm sender and one receiver: the outbound session, and an inbound
 * session made from its key before the first message, as a member would
 * get it over Olm. */
typedef struct {
  void *out_mem, *in_mem;
  OlmOutboundGroupSession *out;
  OlmInboundGroupSession *in;
  guint32 next_index;
  gint64 encrypt_ns, decrypt_ns;
  guint64 count;
} MegolmBench;

static void
megolm_init (MegolmBench *mb)
{
  const size_t error = olm_error ();
  guint8 *random, *key;
  size_t random_len, key_len;

  memset (mb, 0, sizeof *mb);
  mb->out_mem = g_malloc (olm_outbound_group_session_size ());
  mb->in_mem = g_malloc (olm_inbound_group_session_size ());
  mb->out = olm_outbound_group_session (mb->out_mem);
  mb->in = olm_inbound_group_session (mb->in_mem);

  random_len = olm_init_outbound_group_session_random_length (mb->out);
  random = g_malloc (random_len);
  randombytes_buf (random, random_len);
  if (olm_init_outbound_group_session (mb->out, random, random_len) == error)
    fail ("olm_init_outbound_group_session: %s",
          olm_outbound_group_session_last_error (mb->out));
  sodium_memzero (random, random_len);
  g_free (random);

  key_len = olm_outbound_group_session_key_length (mb->out);
  key = g_malloc (key_len);
  if (olm_outbound_group_session_key (mb->out, key, key_len) == error)
    fail ("olm_outbound_group_session_key: %s",
          olm_outbound_group_session_last_error (mb->out));
  if (olm_init_inbound_group_session (mb->in, key, key_len) == error)
    fail ("olm_init_inbound_group_session: %s",
          olm_inbound_group_session_last_error (mb->in));
  sodium_memzero (key, key_len);
  g_free (key);
}

static void
megolm_clear (MegolmBench *mb)
{
  olm_clear_outbound_group_session (mb->out);
  olm_clear_inbound_group_session (mb->in);
  g_free (mb->out_mem);
  g_free (mb->in_mem);
}

/* Encrypts @text and decrypts it again, in order, as a member reads the
 * room; each half timed unless @timed is FALSE. */
static void
megolm_run (MegolmBench *mb, const char *text, gboolean timed)
{
  const size_t error = olm_error ();
  const size_t text_len = strlen (text);
  /* The length grows with the message index (a varint): asked each time. */
  const size_t msg_len = olm_group_encrypt_message_length (mb->out, text_len);
  guint8 *message = g_malloc (msg_len);
  guint8 *plain = g_malloc (msg_len);
  size_t len, plain_len;
  guint32 index = G_MAXUINT32;
  gint64 t0, t1, t2;

  t0 = cpu_ns ();
  len = olm_group_encrypt (mb->out, (const guint8 *) text, text_len, message, msg_len);
  t1 = cpu_ns ();
  if (len == error)
    fail ("olm_group_encrypt: %s", olm_outbound_group_session_last_error (mb->out));
  /* olm_group_decrypt() overwrites its input with the decoded message. */
  t2 = cpu_ns ();
  plain_len = olm_group_decrypt (mb->in, message, len, plain, msg_len, &index);
  if (timed)
    {
      mb->decrypt_ns += interval_ns (t2, cpu_ns ());
      mb->encrypt_ns += interval_ns (t0, t1);
      mb->count++;
    }
  if (plain_len == error)
    fail ("olm_group_decrypt of message %u: %s", mb->next_index,
          olm_inbound_group_session_last_error (mb->in));
  if (index != mb->next_index || plain_len != text_len || memcmp (plain, text, text_len) != 0)
    fail ("Megolm message %u decrypted to something else (index %u, %zu bytes)",
          mb->next_index, index, plain_len);
  mb->next_index++;
  g_free (message);
  sodium_memzero (plain, msg_len);
  g_free (plain);
}

/* ---- SMMP ---------------------------------------------------------------- */

/* send_one(), receive_one() and save_one() are kept out of line so that a
 * profiler can tell their costs apart (bench/README.md). */

/* The sender's engine work for one text: seal it, then, when the room
 * reflects the frame, decode it and open and apply it as its own.  Returns
 * the frame; the time spent is added to @spent_ns. */
G_GNUC_NO_INLINE static GBytes *
send_one (SmmpGroupState *state, const char *text, guint n, gint64 *spent_ns)
{
  g_autoptr (GError) error = NULL;
  SmmpPending *pending;
  SmmpFrame *frame;
  SmmpOpened opened;
  GBytes *bytes;
  gint64 t0, t1, t2, t3;
  gboolean ok;

  t0 = cpu_ns ();
  pending = smmp_ratchet_seal (state, text, &error);
  if (pending == NULL)
    fail ("N=%u: smmp_ratchet_seal: %s", n, error->message);
  bytes = g_bytes_ref (pending->frame);
  frame = smmp_frame_decode_bytes (bytes, &error);
  if (frame == NULL)
    fail ("N=%u: the sender's own frame does not decode: %s", n, error->message);
  ok = smmp_ratchet_open (state, frame, pending, &opened, &error);
  if (!ok)
    fail ("N=%u: the sender cannot open its own frame: %s", n, error->message);
  smmp_ratchet_apply (state, frame->sender, &opened, pending);
  t1 = cpu_ns ();

  if (frame->type != SMMP_FRAME_DATA || frame->sender != state->self
      || frame->n_members != n || strcmp (opened.text, text) != 0)
    fail ("N=%u: the sender's own reflection is not the frame it sealed", n);

  t2 = cpu_ns ();
  smmp_opened_clear (&opened);
  smmp_frame_free (frame);
  smmp_pending_free (pending);
  t3 = cpu_ns ();
  *spent_ns += interval_ns (t0, t1) + interval_ns (t2, t3);
  return bytes;
}

/* A receiver's engine work for one frame: decode, verify the signature with
 * the sender's session signing key from its own state, open and apply.
 * Returns the time spent. */
G_GNUC_NO_INLINE static gint64
receive_one (SmmpGroupState *state, guint member, GBytes *bytes, const char *text,
             guint sender, guint n)
{
  g_autoptr (GError) error = NULL;
  SmmpFrame *frame;
  SmmpOpened opened;
  guint32 epoch = state->epoch, generation = state->generation;
  gint64 t0, t1, t2, t3;

  t0 = cpu_ns ();
  frame = smmp_frame_decode_bytes (bytes, &error);
  if (frame == NULL)
    fail ("N=%u: member %u cannot decode a frame: %s", n, member, error->message);
  if (frame->sender >= state->n
      || !smmp_frame_verify (frame, smmp_group_state_get_signing_key (state, frame->sender)))
    fail ("N=%u: member %u: the frame's signature does not verify", n, member);
  if (!smmp_ratchet_open (state, frame, NULL, &opened, &error))
    fail ("N=%u: member %u cannot open the frame: %s", n, member, error->message);
  smmp_ratchet_apply (state, frame->sender, &opened, NULL);
  t1 = cpu_ns ();

  /* The checks the session makes before opening, and the result. */
  if (frame->type != SMMP_FRAME_DATA || frame->sender != sender || frame->n_members != n
      || memcmp (frame->sid, state->sid, SMMP_SID_BYTES) != 0
      || frame->generation != generation || frame->epoch != epoch)
    fail ("N=%u: member %u got a frame not built on its state (epoch %u, frame's %u)", n,
          member, epoch, frame->epoch);
  if (strcmp (opened.text, text) != 0)
    fail ("N=%u: member %u opened \"%s\", but \"%s\" was sent", n, member, opened.text, text);

  t2 = cpu_ns ();
  smmp_opened_clear (&opened);
  smmp_frame_free (frame);
  t3 = cpu_ns ();
  return interval_ns (t0, t1) + interval_ns (t2, t3);
}

/* What the plugin does after every frame it accepts (R13): the member's
 * whole session as JSON, then, once the text is stored, wiped and freed.
 * Storing it (a file written with mode 0600 and renamed over the old one)
 * is the caller's work and is not timed.  Returns the time spent; the
 * length of the text goes to @len. */
G_GNUC_NO_INLINE static gint64
save_one (const SmmpSession *session, gsize *len)
{
  gint64 t0 = cpu_ns ();
  char *json = smmp_session_to_json (session);
  gsize json_len = json != NULL ? strlen (json) : 0;

  if (json != NULL)
    sodium_memzero (json, json_len);
  g_free (json);
  *len = json_len;
  return interval_ns (t0, cpu_ns ());
}

/* Member @member's session holds the state the benchmark applies frames
 * to: what save_one() serialises is that state. */
static SmmpSession *
saving_session (SimRoom *room, guint member, guint n)
{
  SimMember *m = sim_room_member (room, member);

  if (m->session == NULL || smmp_session_get_state (m->session) != m->state)
    fail ("N=%u: member %u's session does not hold the state the benchmark applies "
          "frames to", n, member);
  return m->session;
}

/* One more save of member @member must read back (smmp_session_restore())
 * into the state the member holds. */
static void
check_saved (SimRoom *room, guint member, guint n)
{
  g_autoptr (GError) error = NULL;
  SimMember *m = sim_room_member (room, member);
  const SmmpGroupState *state = smmp_session_get_state (m->session), *back;
  guint8 saved[SMMP_HASH_BYTES], restored[SMMP_HASH_BYTES];
  char *json = smmp_session_to_json (m->session);
  SmmpSession *copy = smmp_session_restore (m->identity, m->handle, json, &error);

  sodium_memzero (json, strlen (json));
  g_free (json);
  if (copy == NULL)
    fail ("N=%u: member %u's saved session does not read back: %s", n, member,
          error->message);
  back = smmp_session_get_state (copy);
  if (back == NULL)
    fail ("N=%u: member %u's saved session reads back without its state", n, member);
  smmp_group_state_shared_digest (state, saved);
  smmp_group_state_shared_digest (back, restored);
  if (memcmp (saved, restored, sizeof saved) != 0 || back->epoch != state->epoch
      || back->generation != state->generation || back->self != state->self)
    fail ("N=%u: member %u's saved session reads back as another state", n, member);
  smmp_session_free (copy);
}

static guint
timed_messages (void)
{
  if (opt_messages > 0)
    return (guint) opt_messages;
  /* The same count at every N.  The send's ratio to X25519 at N = 50 and
   * 100 lies within 2% of its target, and a shared machine's noise on a
   * mean of 300 messages is about as large (N = 100: 100.8 to 104.7 over
   * 30 runs); over 1200 it was 101.4 to 102.2 in six runs (bench/README.md). */
  return DEFAULT_MESSAGES;
}

/* Member 0 of a room of @n sends WARMUP_MESSAGES untimed texts, then
 * @res->messages timed ones; every member applies every frame, and member 1
 * saves its session after each (SAVE_MEMBER).  After each timed message
 * the yardsticks run too, under the same conditions: X25519_PER_MESSAGE
 * X25519 multiplications and one Megolm message. */
static void
bench_size (guint n, guint64 seed, Result *res)
{
  g_autoptr (GError) error = NULL;
  const guint messages = timed_messages ();
  SmmpGroupState **states = g_new0 (SmmpGroupState *, n);
  guint8 first[SMMP_HASH_BYTES], other[SMMP_HASH_BYTES];
  X25519Bench xb;
  MegolmBench mb;
  SimRoom *room;
  SmmpSession *saving;
  gint64 t0, send_ns = 0, recv_ns = 0, save_ns = 0;
  guint64 receptions = 0;
  gsize state_bytes = 0;
  guint sender;
  gsize frame_bytes = 0;

  memset (res, 0, sizeof *res);
  res->n = n;
  res->messages = messages;

  /* Key agreement in the simulator: member 0 invites everyone. */
  t0 = wall_ns ();
  room = sim_room_new (n, seed);
  if (!sim_room_start_ka (room, 0, &error))
    fail ("N=%u: the key agreement does not start: %s", n, error->message);
  sim_room_run (room);
  res->ka_s = (double) (wall_ns () - t0) / 1e9;
  if (sim_room_count_up (room) != n || !sim_room_converged (room))
    fail ("N=%u: the key agreement did not bring every member up in one state "
          "(%u of %u up)", n, sim_room_count_up (room), n);
  for (guint i = 0; i < n; i++)
    {
      states[i] = sim_room_member (room, i)->state;
      if (states[i] == NULL || smmp_group_state_get_size (states[i]) != n)
        fail ("N=%u: member %u has no state for %u members", n, i, n);
    }
  /* Member 0 of the room sends; its index in the session follows the
   * roster's order. */
  sender = smmp_group_state_get_self (states[0]);
  saving = saving_session (room, SAVE_MEMBER, n);

  x25519_init (&xb);
  x25519_run (&xb, X25519_WARMUP, FALSE);
  megolm_init (&mb);
  for (guint k = 0; k < MEGOLM_WARMUP; k++)
    {
      char text[TEXT_BYTES + 1];

      make_text (k, text);
      megolm_run (&mb, text, FALSE);
    }

  for (guint k = 0; k < WARMUP_MESSAGES + messages; k++)
    {
      const gboolean timed = k >= WARMUP_MESSAGES;
      char text[TEXT_BYTES + 1];
      gint64 spent = 0;
      GBytes *bytes;

      make_text (k, text);
      bytes = send_one (states[0], text, n, &spent);
      if (frame_bytes == 0)
        frame_bytes = g_bytes_get_size (bytes);
      else if (frame_bytes != g_bytes_get_size (bytes))
        fail ("N=%u: DATA frames of one text size differ in size (%zu, %zu)", n,
              frame_bytes, g_bytes_get_size (bytes));
      if (timed)
        send_ns += spent;
      for (guint i = 1; i < n; i++)
        {
          spent = receive_one (states[i], i, bytes, text, sender, n);
          if (timed)
            {
              recv_ns += spent;
              receptions++;
            }
        }
      g_bytes_unref (bytes);
      /* The receiver keeps what it accepted: the whole session, saved. */
      spent = save_one (saving, &state_bytes);
      if (state_bytes == 0)
        fail ("N=%u: member %u's session does not serialise", n, SAVE_MEMBER);
      if (timed)
        {
          save_ns += spent;
          x25519_run (&xb, X25519_PER_MESSAGE, TRUE);
          megolm_run (&mb, text, TRUE);
        }
    }

  /* Every member applied every frame: all must hold one state. */
  smmp_group_state_shared_digest (states[0], first);
  for (guint i = 1; i < n; i++)
    {
      smmp_group_state_shared_digest (states[i], other);
      if (memcmp (first, other, sizeof first) != 0)
        fail ("N=%u: member %u's state differs from member 0's after %u messages", n, i,
              WARMUP_MESSAGES + messages);
    }
  for (guint i = 0; i < n; i++)
    if (states[i]->epoch != WARMUP_MESSAGES + messages)
      fail ("N=%u: member %u applied %u messages, not %u", n, i, states[i]->epoch,
            WARMUP_MESSAGES + messages);

  check_saved (room, SAVE_MEMBER, n);

  res->send_us = (double) send_ns / 1e3 / messages;
  res->recv_us = (double) recv_ns / 1e3 / (double) receptions;
  res->save_us = (double) save_ns / 1e3 / messages;
  res->state_bytes = state_bytes; /* after the last message */
  res->frame_bytes = frame_bytes;
  res->x25519_us = (double) xb.spent_ns / 1e3 / (double) xb.count;
  res->megolm_encrypt_us = (double) mb.encrypt_ns / 1e3 / (double) mb.count;
  res->megolm_decrypt_us = (double) mb.decrypt_ns / 1e3 / (double) mb.count;
  sodium_memzero (&xb, sizeof xb);
  megolm_clear (&mb);
  g_free (states);
  sim_room_free (room);
}

static GArray *
parse_sizes (const char *spec)
{
  GArray *sizes = g_array_new (FALSE, FALSE, sizeof (guint));

  if (spec == NULL)
    {
      g_array_append_vals (sizes, default_sizes, G_N_ELEMENTS (default_sizes));
      return sizes;
    }
  {
    g_auto (GStrv) parts = g_strsplit (spec, ",", -1);

    for (guint i = 0; parts[i] != NULL; i++)
      {
        guint64 v;

        if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 2, SMMP_MAX_MEMBERS,
                                         &v, NULL))
          {
            g_array_unref (sizes);
            return NULL;
          }
        {
          guint size = (guint) v;

          g_array_append_val (sizes, size);
        }
      }
  }
  return sizes;
}

/* recv_us at N = 2, or 0 when N = 2 was not run. */
static double
recv_at_n2 (const Result *results, guint count)
{
  for (guint i = 0; i < count; i++)
    if (results[i].n == 2)
      return results[i].recv_us;
  return 0;
}

static void
print_json (const Result *results, guint count)
{
  const double recv_n2 = recv_at_n2 (results, count);

  printf ("[\n");
  for (guint i = 0; i < count; i++)
    {
      const Result *r = &results[i];

      printf ("  {\"n\": %u, \"messages\": %u, \"send_us\": %.2f, \"recv_us\": %.2f, "
              "\"save_us\": %.2f, \"frame_bytes\": %zu, \"state_bytes\": %zu, "
              "\"x25519_us\": %.2f, \"megolm_encrypt_us\": %.2f, "
              "\"megolm_decrypt_us\": %.2f, \"send_x25519_ratio\": %.2f, "
              "\"recv_x25519_ratio\": %.2f, ",
              r->n, r->messages, r->send_us, r->recv_us, r->save_us, r->frame_bytes,
              r->state_bytes, r->x25519_us, r->megolm_encrypt_us, r->megolm_decrypt_us,
              r->send_us / r->x25519_us, r->recv_us / r->x25519_us);
      if (recv_n2 > 0)
        printf ("\"recv_vs_n2\": %.3f}", r->recv_us / recv_n2);
      else
        printf ("\"recv_vs_n2\": null}");
      printf ("%s\n", i + 1 < count ? "," : "");
    }
  printf ("]\n");
}

static void
print_table (const Result *results, guint count)
{
  const double recv_n2 = recv_at_n2 (results, count);

  printf ("%4s %6s %9s %9s %8s %6s %6s %9s %8s %8s %7s %7s %7s  targets\n", "N", "msgs",
          "send_us", "recv_us", "save_us", "frame", "state", "x25519_us", "mg_enc", "mg_dec",
          "send/x", "recv/x", "recv/N2");
  for (guint i = 0; i < count; i++)
    {
      const Result *r = &results[i];
      const double sx = r->send_us / r->x25519_us, rx = r->recv_us / r->x25519_us;
      const double rn = recv_n2 > 0 ? r->recv_us / recv_n2 : 0;
      const gsize frame_max = 200 + 40 * (r->n - 1) + smmp_padded_size (TEXT_BYTES);

      printf ("%4u %6u %9.2f %9.2f %8.2f %6zu %6zu %9.2f %8.2f %8.2f %7.2f %7.2f %7.3f  "
              "send<(N+3)x:%s recv<4x:%s recv<=1.5xN2:%s frame<=%zu:%s\n",
              r->n, r->messages, r->send_us, r->recv_us, r->save_us, r->frame_bytes,
              r->state_bytes, r->x25519_us,
              r->megolm_encrypt_us, r->megolm_decrypt_us, sx, rx, rn,
              sx < r->n + 3 ? "yes" : "NO", rx < 4 ? "yes" : "NO",
              recv_n2 > 0 ? (rn <= 1.5 ? "yes" : "NO") : "-", frame_max,
              r->frame_bytes <= frame_max ? "yes" : "NO");
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context =
    g_option_context_new ("- cost of an SMMP group message by group size");
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) sizes = NULL;
  Result *results;
  gint64 start = wall_ns ();

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "smmp-bench: %s\n", error->message);
      return 2;
    }
  sizes = parse_sizes (opt_sizes);
  if (sizes == NULL || sizes->len == 0 || opt_messages < 0 || argc > 1)
    {
      fprintf (stderr, "smmp-bench: --sizes takes group sizes from 2 to %d, "
                       "--messages a positive count\n", SMMP_MAX_MEMBERS);
      return 2;
    }
  if (!smmp_init (&error))
    {
      fprintf (stderr, "smmp-bench: %s\n", error->message);
      return 2;
    }

  calibrate_clock ();
  fprintf (stderr, "smmp-bench: one reading of the thread's CPU clock costs %" G_GINT64_FORMAT
                   " ns, taken off every timed interval\n", clock_cost_ns);
  results = g_new0 (Result, sizes->len);
  for (guint i = 0; i < sizes->len; i++)
    {
      Result *r = &results[i];

      bench_size (g_array_index (sizes, guint, i), (guint64) opt_seed + i, r);
      fprintf (stderr, "smmp-bench: N=%u: key agreement %.1f s, %u messages checked "
                       "at every member (send %.1f us, receive %.1f us), "
                       "save %.1f us for %zu bytes of state\n",
               r->n, r->ka_s, r->messages, r->send_us, r->recv_us, r->save_us,
               r->state_bytes);
    }
  if (opt_json)
    print_json (results, sizes->len);
  else
    print_table (results, sizes->len);
  fprintf (stderr, "smmp-bench: done in %.1f s\n", (double) (wall_ns () - start) / 1e9);
  g_free (results);
  return 0;
}
