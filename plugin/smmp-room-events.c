/* smmp-room-events.c: what a room does with its session's events: show
 * them, check identity keys against the trust store, catch up from the
 * archive, and start the re-keys the policy asks for. */
#include "smmp-room-private.h"

#include <string.h>

#include <debug.h>
#include <prefs.h>
#include <prpl.h>
#include <request.h>

#include "smmp-ui.h"
#include "smmp.h"

/* How long the members who do not start a re-key wait for the one who
 * should, beyond the agreement's own deadlines. */
#define FALLBACK_EXTRA_MS 5000
#define ARCHIVE_TIMEOUT_MS 30000
/* Archive queries start this long before the last frame seen: clocks
 * differ, and the core ignores what it has applied already. */
#define ARCHIVE_MARGIN_S 600

static char *
join_handles (SmmpRoom *room, GPtrArray *handles)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < handles->len; i++)
    {
      const char *handle = g_ptr_array_index (handles, i);
      const char *nick = smmp_room_handle_to_nick (room, handle);

      if (i > 0)
        g_string_append (s, ", ");
      g_string_append (s, nick);
      if (strcmp (nick, handle) != 0)
        g_string_append_printf (s, " (as %s)", handle);
    }
  return g_string_free (s, FALSE);
}

/* ---- trust ---------------------------------------------------------------- */

/* The occupant's real bare JID when the room shows it, else NULL. */
static char *
real_bare_jid (SmmpRoom *room, const char *nick)
{
  PurpleConnection *gc = purple_account_get_connection (room->account);
  PurplePluginProtocolInfo *info;
  g_autofree char *real = NULL;

  /* For a nickname nobody holds now the protocol makes one up from the
   * room's address. */
  if (gc != NULL && room->conv != NULL && room->in_room && smmp_room_has_occupant (room, nick))
    {
      info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
      if (info != NULL && info->get_cb_real_name != NULL)
        real = info->get_cb_real_name (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (room->conv)),
                                       nick);
    }
  return real != NULL && strchr (real, '@') != NULL ? smmp_bare_jid (real) : NULL;
}

/* Who a member is for the trust store: the real bare JID when the room
 * shows it (the same person in every room), else room and nickname. */
char *
smmp_room_peer_id (SmmpRoom *room, const char *handle)
{
  g_autofree char *bare = real_bare_jid (room, smmp_room_handle_to_nick (room, handle));

  if (bare != NULL)
    return g_strconcat ("jid:", bare, NULL);
  return g_strconcat ("nick:", room->name, "/", handle, NULL);
}

char *
smmp_room_describe_occupant (SmmpRoom *room, const char *nick)
{
  g_autofree char *bare = nick != NULL ? real_bare_jid (room, nick) : NULL;

  if (nick == NULL)
    return g_strdup ("(unknown)");
  return bare != NULL ? g_strdup_printf ("%s (%s)", nick, bare) : g_strdup (nick);
}

static void
check_members (SmmpRoom *room, const SmmpGroupState *state)
{
  for (guint i = 0; i < smmp_group_state_get_size (state); i++)
    {
      const char *handle = smmp_group_state_get_handle (state, i);
      const guint8 *key = smmp_group_state_get_identity_key (state, i);
      g_autofree char *peer = NULL;
      g_autofree char *fp = NULL;
      g_autofree char *old = NULL;
      SmmpTrust trust;

      if (i == smmp_group_state_get_self (state))
        continue;
      peer = smmp_room_peer_id (room, handle);
      fp = smmp_fingerprint_format (key);
      trust = smmp_store_check_peer (smmp_room_store, room->owner, peer, key, &old);
      switch (trust)
        {
        case SMMP_TRUST_TOFU:
          smmp_ui_notice (room->conv, "%s's key %s is not verified (trusted on first use); "
                                      "compare it with them and use /smmp trust",
                          handle, fp);
          break;
        case SMMP_TRUST_CHANGED:
          smmp_ui_warning (room->conv, "%s's identity key CHANGED: it was %s and is now %s. "
                                       "It may be another person. Check the fingerprint "
                                       "with them before you trust it (/smmp trust %s "
                                       "FINGERPRINT), or /smmp distrust %s",
                           handle, old != NULL ? old : "(unknown)", fp, handle, handle);
          break;
        case SMMP_TRUST_DISTRUSTED:
          smmp_ui_warning (room->conv, "%s is in the session with a key you distrusted (%s); "
                                       "/smmp remove %s takes them out",
                           handle, fp, handle);
          break;
        case SMMP_TRUST_VERIFIED:
        case SMMP_TRUST_NONE:
        default:
          break;
        }
    }
}

/* ---- notices -------------------------------------------------------------- */

void
smmp_room_tell_rejection (SmmpRoom *room, const char *nick, int code, char *message)
{
  char *key = g_strdup_printf ("%s\n%d\n%s", nick != NULL ? nick : "", code, message);

  /* A stream of frames of another session (a member who came back with
   * an old state) would fill the window: the first says it, the rest are
   * counted in the debug log.  Only the same notice is held back: a
   * different attack from the same sender, even with the same code, is
   * news to the user. */
  if (g_hash_table_contains (room->told, key))
    {
      purple_debug_info ("smmp", "%s: %s\n", room->name, message);
      g_free (key);
    }
  else
    {
      g_hash_table_add (room->told, key);
      smmp_ui_error (room->conv, "%s (further notices like this about %s are hidden until "
                                 "the next session)",
                     message, nick != NULL ? nick : "this sender");
    }
  g_free (message);
}

static void
show_up (SmmpRoom *room, const SmmpEvent *event)
{
  const SmmpGroupState *state = smmp_session_get_state (smmp_driver_get_session (room->driver));
  g_autofree char *members = join_handles (room, event->handles);
  g_autofree char *code = state != NULL ? smmp_group_state_get_verification_code (state) : NULL;

  /* The new roster uses everyone's current nickname. */
  g_hash_table_remove_all (room->aliases);
  if (strcmp (room->self_handle, smmp_room_own_nick (room)) != 0)
    g_hash_table_insert (room->aliases, g_strdup (smmp_room_own_nick (room)),
                         g_strdup (room->self_handle));
  g_hash_table_remove_all (room->told);
  smmp_store_save_notes (smmp_room_store, room->owner, room->name, room->self_handle,
                         smmp_driver_get_up_since (room->driver), FALSE, NULL);
  smmp_ui_notice (room->conv, "encrypted session up with %s. Verification code: %s "
                              "(the same for every member: compare it out of band)",
                  members, code != NULL ? code : "?");
  if (state != NULL)
    check_members (room, state);
  smmp_room_return_clear (room);
}

static void
show_failed (SmmpRoom *room, const SmmpEvent *event)
{
  SmmpSession *session = smmp_driver_get_session (room->driver);
  g_autofree char *who = join_handles (room, event->handles);

  smmp_ui_error (room->conv, "the key agreement failed: %s%s%s", event->message,
                 event->handles->len > 0 ? "; held responsible: " : "",
                 event->handles->len > 0 ? who : "");
  if (smmp_session_is_up (session))
    smmp_ui_notice (room->conv, "the current encrypted session goes on");
  else if (smmp_session_get_queued (session) > 0)
    smmp_ui_notice (room->conv, "%u message(s) wait for a session: /smmp start to try "
                                "again, /smmp end to drop them",
                    smmp_session_get_queued (session));
}

static void
on_rekey_needed (SmmpRoom *room, const SmmpEvent *event)
{
  if (smmp_session_is_up (smmp_driver_get_session (room->driver)))
    {
      smmp_room_schedule_rekey (room, event->message);
      return;
    }
  /* No state: this member may be one the session was formed without on
   * purpose.  Asking in is the user's decision. */
  if (!room->told_outsider)
    smmp_ui_notice (room->conv, "this room has an encrypted session you hold no keys for; "
                                "/smmp start asks for a new one with you in it");
  room->told_outsider = TRUE;
}

void
smmp_room_on_event (SmmpDriver *driver, const SmmpEvent *event, gpointer user_data)
{
  SmmpRoom *room = user_data;
  g_autofree char *list = NULL;
  g_autofree char *list2 = NULL;

  switch (event->type)
    {
    case SMMP_EVENT_ROSTER_FIXED:
      list = join_handles (room, event->handles);
      list2 = join_handles (room, event->outsiders);
      smmp_ui_notice (room->conv, "key agreement with %s%s%s", list,
                      event->outsiders->len > 0 ? "; no answer (outside the session): " : "",
                      event->outsiders->len > 0 ? list2 : "");
      break;
    case SMMP_EVENT_SESSION_UP:
      show_up (room, event);
      break;
    case SMMP_EVENT_SESSION_FAILED:
      show_failed (room, event);
      break;
    case SMMP_EVENT_FRAME_REJECTED:
      list = smmp_room_describe_occupant (room, smmp_room_handle_to_nick (room, event->handle));
      smmp_room_tell_rejection (room, smmp_room_handle_to_nick (room, event->handle),
                                event->code,
                                g_strdup_printf ("refused an encrypted message from %s: %s",
                                                 list, event->message));
      break;
    case SMMP_EVENT_MESSAGE:
      smmp_ui_show_message (room->conv, smmp_room_handle_to_nick (room, event->handle),
                            event->text, g_strcmp0 (event->handle, room->self_handle) == 0,
                            purple_prefs_get_bool (SMMP_PREF_LOG_DECRYPTED),
                            room->feed_delayed, room->feed_time);
      break;
    case SMMP_EVENT_PRIVATE_MESSAGE:
      smmp_ui_show_private (room->conv, smmp_room_handle_to_nick (room, event->handle),
                            event->text, FALSE,
                            purple_prefs_get_bool (SMMP_PREF_LOG_DECRYPTED));
      break;
    case SMMP_EVENT_CATCHUP_NEEDED:
      smmp_room_start_catch_up (room);
      break;
    case SMMP_EVENT_CATCHUP_DONE:
      if (event->code != 0)
        smmp_ui_error (room->conv, "the room's archive could not close the gap (%s): the "
                                   "keys will be resynchronised, and messages you missed "
                                   "are lost", event->message);
      else
        smmp_ui_notice (room->conv, "caught up from the room's archive");
      break;
    case SMMP_EVENT_RESYNC_NEEDED:
      smmp_ui_notice (room->conv, "keys out of step (%s): resynchronising", event->message);
      break;
    case SMMP_EVENT_RESYNCED:
      smmp_ui_notice (room->conv, "keys resynchronised by %s",
                      smmp_room_handle_to_nick (room, event->handle));
      break;
    case SMMP_EVENT_REKEY_NEEDED:
      on_rekey_needed (room, event);
      break;
    case SMMP_EVENT_MEMBERS_CHANGED:
      /* The same members again (we asked to be let back in): nothing to say. */
      if (event->handles->len == 0 && event->outsiders->len == 0)
        break;
      list = join_handles (room, event->handles);
      list2 = join_handles (room, event->outsiders);
      smmp_ui_notice (room->conv, "members changed: joined: %s; left: %s",
                      event->handles->len > 0 ? list : "nobody",
                      event->outsiders->len > 0 ? list2 : "nobody");
      break;
    default:
      break;
    }
}

/* ---- catch-up ------------------------------------------------------------- */

static void
on_archived (const char *nick, const char *body, time_t stamp, gpointer user_data)
{
  SmmpRoom *room = user_data;
  g_autoptr (GBytes) frame = NULL;

  if (room->driver == NULL || !smmp_armour_detect (body)
      || (frame = smmp_armour_decode (body, NULL)) == NULL)
    return;
  smmp_room_check_exclusion (room, nick, frame, stamp);
  room->archive_fed++;
  room->feed_time = stamp;
  room->feed_delayed = TRUE;
  smmp_driver_receive_archived (room->driver, smmp_room_nick_to_handle (room, nick), frame);
  room->feed_time = 0;
  room->feed_delayed = FALSE;
}

static void
on_archive_done (gboolean ok, gboolean complete, gpointer user_data)
{
  SmmpRoom *room = user_data;

  room->mam = NULL;
  purple_debug_info ("smmp", "%s: archive %s, %u frames, %s\n", room->name,
                     ok ? "read" : "failed", room->archive_fed,
                     complete ? "complete" : "incomplete");
  if (room->driver != NULL)
    smmp_driver_catch_up_done (room->driver, ok && complete);
  smmp_room_return_if_left (room);
}

void
smmp_room_start_catch_up (SmmpRoom *room)
{
  PurpleConnection *gc = purple_account_get_connection (room->account);
  gint64 since;

  if (room->mam != NULL || room->driver == NULL)
    return;
  if (gc == NULL || !room->in_room)
    {
      room->catch_up_pending = TRUE;
      return;
    }
  room->catch_up_pending = FALSE;
  since = room->last_frame_us > 0 ? room->last_frame_us / G_USEC_PER_SEC : room->saved_at;
  room->archive_fed = 0;
  room->mam = smmp_mam_query (gc, room->name, since > ARCHIVE_MARGIN_S ? since - ARCHIVE_MARGIN_S : 0,
                              ARCHIVE_TIMEOUT_MS, on_archived, on_archive_done, room);
  if (room->mam == NULL)
    {
      smmp_driver_catch_up_done (room->driver, FALSE);
      smmp_room_return_if_left (room);
    }
  else
    smmp_ui_notice (room->conv, "catching up from the room's archive");
}

/* ---- automatic re-keys ---------------------------------------------------- */

GPtrArray *
smmp_room_present_members (SmmpRoom *room, const char *without, const char *with)
{
  GPtrArray *nicks = g_ptr_array_new_with_free_func (g_free);
  const SmmpGroupState *state = room->driver != NULL
                                  ? smmp_session_get_state (smmp_driver_get_session (room->driver))
                                  : NULL;

  for (guint i = 0; state != NULL && i < smmp_group_state_get_size (state); i++)
    {
      const char *nick = smmp_room_handle_to_nick (room, smmp_group_state_get_handle (state, i));

      if (i == smmp_group_state_get_self (state) || g_strcmp0 (nick, without) == 0
          || !smmp_room_has_occupant (room, nick))
        continue;
      g_ptr_array_add (nicks, g_strdup (nick));
    }
  if (with != NULL && !g_ptr_array_find_with_equal_func (nicks, with, g_str_equal, NULL))
    g_ptr_array_add (nicks, g_strdup (with));
  return nicks;
}

static gboolean
same_session_as_scheduled (SmmpRoom *room)
{
  const SmmpGroupState *state = smmp_session_get_state (smmp_driver_get_session (room->driver));

  if (state == NULL)
    return !room->auto_had_session;
  return room->auto_had_session
         && memcmp (smmp_group_state_get_sid (state), room->auto_sid, sizeof room->auto_sid) == 0;
}

static gboolean
on_auto_rekey (gpointer data)
{
  SmmpRoom *room = data;
  g_autoptr (GPtrArray) nicks = NULL;
  g_autoptr (GError) error = NULL;

  room->auto_timer = 0;
  /* Someone else's agreement came, or a new session is up already. */
  if (room->driver == NULL || smmp_room_ka_open (room)
      || (!room->auto_first && !same_session_as_scheduled (room)))
    return G_SOURCE_REMOVE;
  nicks = smmp_room_present_members (room, NULL, NULL);
  if (nicks->len == 0)
    {
      smmp_ui_notice (room->conv, "no other member of the session is in the room: no re-key");
      return G_SOURCE_REMOVE;
    }
  g_ptr_array_add (nicks, NULL);
  if (!smmp_driver_start (room->driver, (const char *const *) nicks->pdata, nicks->len - 1,
                          &error))
    smmp_ui_error (room->conv, "cannot start the re-key: %s", error->message);
  return G_SOURCE_REMOVE;
}

void
smmp_room_schedule_rekey (SmmpRoom *room, const char *why)
{
  const SmmpGroupState *state;
  SmmpDriverConfig config;
  guint first = G_MAXUINT, delay;

  if (room->driver == NULL
      || (state = smmp_session_get_state (smmp_driver_get_session (room->driver))) == NULL)
    return;
  if (room->left_out)
    {
      purple_debug_info ("smmp", "%s: %s; the others re-key without us: no re-key\n",
                         room->name, why);
      return;
    }
  /* The member of lowest index among those still here starts; everyone
   * computes the same from the same roster and occupant list. */
  for (guint i = 0; i < smmp_group_state_get_size (state) && first == G_MAXUINT; i++)
    if (i == smmp_group_state_get_self (state)
        || smmp_room_has_occupant (room, smmp_room_handle_to_nick (
                                           room, smmp_group_state_get_handle (state, i))))
      first = i;
  smmp_room_config (&config);
  room->auto_first = first == smmp_group_state_get_self (state);
  room->auto_had_session = TRUE;
  memcpy (room->auto_sid, smmp_group_state_get_sid (state), sizeof room->auto_sid);
  /* The one who starts waits a moment, so that several members leaving
   * at once make one re-key; the others wait for its agreement to fail
   * or never come. */
  delay = room->auto_first ? 1000
                           : config.answer_timeout_ms + config.round_timeout_ms * 4
                               + FALLBACK_EXTRA_MS + g_random_int_range (0, 2000);
  if (room->auto_timer != 0)
    g_source_remove (room->auto_timer);
  room->auto_timer = g_timeout_add (delay, on_auto_rekey, room);
  smmp_ui_notice (room->conv, "%s: %s", why,
                  room->auto_first ? "re-keying the session"
                                   : "a re-key will follow");
}

/* ---- invitations for a room without a session ------------------------------ */

void
smmp_held_invite_free (SmmpHeldInvite *held)
{
  g_free (held->nick);
  g_bytes_unref (held->frame);
  g_free (held);
}

gboolean
smmp_room_invitation_names_us (SmmpRoom *room, const SmmpFrame *frame)
{
  const char *nick = smmp_room_own_nick (room);

  if (frame == NULL || frame->type != SMMP_FRAME_INVITE || nick == NULL)
    return FALSE;
  /* The first handle is the inviter's. */
  for (guint i = 1; i < frame->handles->len; i++)
    if (strcmp (g_ptr_array_index (frame->handles, i), nick) == 0)
      return TRUE;
  return FALSE;
}

static void
answer_held (SmmpRoom *room, gboolean accept)
{
  GSList *held = g_steal_pointer (&room->held_invites);
  g_autoptr (GError) error = NULL;

  held = g_slist_reverse (held);
  if (accept && room->driver == NULL && !smmp_room_ensure_driver (room, TRUE, &error))
    smmp_ui_error (room->conv, "cannot take part: %s", error->message);
  for (GSList *l = held; l != NULL; l = l->next)
    {
      SmmpHeldInvite *h = l->data;

      if (accept && room->driver != NULL)
        smmp_driver_receive (room->driver, smmp_room_nick_to_handle (room, h->nick), h->frame);
    }
  if (!accept)
    smmp_ui_notice (room->conv, "invitation declined");
  g_slist_free_full (held, (GDestroyNotify) smmp_held_invite_free);
}

static void
on_accept (void *data, int action)
{
  answer_held (data, TRUE);
}

static void
on_decline (void *data, int action)
{
  answer_held (data, FALSE);
}

gboolean
smmp_room_adopt_frame (SmmpRoom *room, const char *nick, GBytes *frame)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmmpFrame) decoded = NULL;
  SmmpHeldInvite *held;
  g_autofree char *question = NULL;

  /* A restart: the saved session takes the frame (and catches up). */
  if (smmp_room_has_saved_session (room))
    return smmp_room_ensure_driver (room, FALSE, NULL);
  decoded = smmp_frame_decode_bytes (frame, NULL);
  if (!smmp_room_invitation_names_us (room, decoded))
    {
      if (!room->told_outsider)
        smmp_ui_notice (room->conv, "encrypted messages in this room are not for you (you are "
                                    "not in its session)");
      room->told_outsider = TRUE;
      return FALSE;
    }
  if (purple_prefs_get_bool (SMMP_PREF_AUTO_ACCEPT))
    {
      if (!smmp_room_ensure_driver (room, TRUE, &error))
        {
          smmp_ui_error (room->conv, "cannot answer %s's invitation: %s", nick, error->message);
          return FALSE;
        }
      return TRUE;
    }
  held = g_new0 (SmmpHeldInvite, 1);
  held->nick = g_strdup (nick);
  held->frame = g_bytes_ref (frame);
  room->held_invites = g_slist_prepend (room->held_invites, held);
  question = g_strdup_printf ("%s invites you to an encrypted session in %s.", nick, room->name);
  purple_request_action (room, "SMMP invitation", question,
                         "Members of the session read what you write here; the room's "
                         "server does not. Answer before the invitation times out.",
                         0, room->account, nick, room->conv, room, 2,
                         "_Accept", G_CALLBACK (on_accept), "_Decline", G_CALLBACK (on_decline));
  smmp_ui_notice (room->conv, "%s invites you to an encrypted session: answer the question",
                  nick);
  return FALSE;
}
