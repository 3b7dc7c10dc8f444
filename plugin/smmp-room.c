/* smmp-room.c: a secured room: its session on the main loop, its frames in
 * and out of the room, its events on screen, its state on disk. */
#include "smmp-room-private.h"

#include <string.h>

#include <debug.h>
#include <prefs.h>
#include <prpl.h>
#include <request.h>
#include <server.h>
#include <sodium.h>

#include "smmp-ui.h"
#include "smmp.h"

static GHashTable *rooms;      /* "owner\nroom" -> SmmpRoom* */
static GHashTable *identities; /* owner (bare JID) -> SmmpIdentity* */
SmmpStore *smmp_room_store;

/* ---- names ---------------------------------------------------------------- */

char *
smmp_bare_jid (const char *jid)
{
  const char *slash = jid != NULL ? strchr (jid, '/') : NULL;
  g_autofree char *b = NULL;

  if (jid == NULL)
    return g_strdup ("");
  b = slash != NULL ? g_strndup (jid, (gsize) (slash - jid)) : g_strdup (jid);
  return g_utf8_strdown (b, -1);
}

static char *
room_key (PurpleAccount *account, const char *room_jid)
{
  g_autofree char *owner = smmp_bare_jid (purple_account_get_username (account));
  g_autofree char *room = g_utf8_strdown (room_jid, -1);

  return g_strconcat (owner, "\n", room, NULL);
}

const char *
smmp_room_own_nick (SmmpRoom *room)
{
  if (room->conv == NULL)
    return room->self_handle;
  return purple_conv_chat_get_nick (PURPLE_CONV_CHAT (room->conv));
}

/* The handle the session knows @nick by: members who renamed themselves
 * keep their handle in the session until the next key agreement. */
const char *
smmp_room_nick_to_handle (SmmpRoom *room, const char *nick)
{
  const char *handle = g_hash_table_lookup (room->aliases, nick);

  return handle != NULL ? handle : nick;
}

const char *
smmp_room_handle_to_nick (SmmpRoom *room, const char *handle)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, room->aliases);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (strcmp (value, handle) == 0)
      return key;
  return handle;
}

gboolean
smmp_room_has_occupant (SmmpRoom *room, const char *nick)
{
  if (room->conv == NULL || !room->in_room)
    return FALSE;
  return purple_conv_chat_find_user (PURPLE_CONV_CHAT (room->conv), nick);
}

/* ---- the registry --------------------------------------------------------- */

static void room_free (SmmpRoom *room);

void
smmp_rooms_init (SmmpStore *store)
{
  smmp_room_store = store;
  rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) room_free);
  identities = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) smmp_identity_free);
}

void
smmp_rooms_shutdown (void)
{
  /* Sessions go before identities: a session borrows its identity. */
  g_clear_pointer (&rooms, g_hash_table_destroy);
  g_clear_pointer (&identities, g_hash_table_destroy);
  smmp_room_store = NULL;
}

SmmpRoom *
smmp_room_find (PurpleAccount *account, const char *room_jid)
{
  g_autofree char *key = NULL;

  if (rooms == NULL || account == NULL || room_jid == NULL)
    return NULL;
  key = room_key (account, room_jid);
  return g_hash_table_lookup (rooms, key);
}

SmmpRoom *
smmp_room_get (PurpleConversation *conv, gboolean create)
{
  PurpleAccount *account;
  SmmpRoom *room;

  if (rooms == NULL || conv == NULL || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return NULL;
  account = purple_conversation_get_account (conv);
  if (g_strcmp0 (purple_account_get_protocol_id (account), "prpl-jabber") != 0)
    return NULL;
  room = smmp_room_find (account, purple_conversation_get_name (conv));
  if (room != NULL || !create)
    {
      if (room != NULL && room->conv == NULL)
        room->conv = conv;
      return room;
    }
  room = g_new0 (SmmpRoom, 1);
  room->account = account;
  room->name = g_utf8_strdown (purple_conversation_get_name (conv), -1);
  room->owner = smmp_bare_jid (purple_account_get_username (account));
  room->conv = conv;
  room->aliases = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  room->told = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (rooms, room_key (account, room->name), room);
  return room;
}

void
smmp_rooms_reconfigure (void)
{
  GHashTableIter iter;
  gpointer value;
  SmmpDriverConfig config;

  if (rooms == NULL)
    return;
  smmp_room_config (&config);
  g_hash_table_iter_init (&iter, rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SmmpRoom *) value)->driver != NULL)
      smmp_driver_set_config (((SmmpRoom *) value)->driver, &config);
}

PurpleConversation *
smmp_room_get_conversation (SmmpRoom *room)
{
  return room->conv;
}

static void
clear_timer (guint *id)
{
  if (*id != 0)
    g_source_remove (*id);
  *id = 0;
}

static void
drop_driver (SmmpRoom *room)
{
  smmp_mam_cancel (room->mam);
  room->mam = NULL;
  room->catch_up_pending = FALSE;
  clear_timer (&room->auto_timer);
  g_clear_pointer (&room->driver, smmp_driver_free);
  g_hash_table_remove_all (room->aliases);
  g_hash_table_remove_all (room->told);
}

static void
room_free (SmmpRoom *room)
{
  purple_request_close_with_handle (room);
  clear_timer (&room->join_idle);
  drop_driver (room);
  smmp_room_return_clear (room);
  g_slist_free_full (room->held_invites, (GDestroyNotify) smmp_held_invite_free);
  g_hash_table_destroy (room->aliases);
  g_hash_table_destroy (room->told);
  g_free (room->self_handle);
  g_free (room->name);
  g_free (room->owner);
  g_free (room);
}

/* ---- the session and its driver ------------------------------------------- */

void
smmp_room_config (SmmpDriverConfig *config)
{
  int timeout = purple_prefs_get_int (SMMP_PREF_TIMEOUT_MS);
  int messages = purple_prefs_get_int (SMMP_PREF_REKEY_MESSAGES);
  int minutes = purple_prefs_get_int (SMMP_PREF_REKEY_MINUTES);

  smmp_driver_config_init (config);
  if (timeout > 0)
    {
      /* One knob for tests: the answer deadline stays shorter than the
       * roster's (PROTOCOL.md 5.19). */
      config->round_timeout_ms = (guint) timeout;
      config->roster_timeout_ms = (guint) timeout;
      config->answer_timeout_ms = (guint) timeout / 2;
      config->resend_timeout_ms = (guint) timeout;
      config->resync_backoff_min_ms = (guint) timeout / 20;
      config->resync_backoff_max_ms = (guint) timeout / 4;
    }
  config->rekey_max_messages = messages > 0 ? (guint) messages : 0;
  config->rekey_max_minutes = minutes > 0 ? (guint) minutes : 0;
}

static SmmpIdentity *
identity_for (SmmpRoom *room, GError **error)
{
  SmmpIdentity *identity = g_hash_table_lookup (identities, room->owner);

  if (identity == NULL)
    {
      identity = smmp_store_load_identity (smmp_room_store, room->owner, error);
      if (identity == NULL)
        return NULL;
      g_hash_table_insert (identities, g_strdup (room->owner), identity);
    }
  return identity;
}

const SmmpIdentity *
smmp_room_identity (SmmpRoom *room, GError **error)
{
  return identity_for (room, error);
}

gboolean
smmp_room_has_saved_session (SmmpRoom *room)
{
  char *json = smmp_store_load_session (smmp_room_store, room->owner, room->name);

  if (json == NULL)
    return FALSE;
  sodium_memzero (json, strlen (json));
  g_free (json);
  return TRUE;
}

static SmmpSession *
restore_saved (SmmpRoom *room, const SmmpIdentity *identity, char **handle_out)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *handle = NULL;
  gint64 up_since = 0, saved_at = 0;
  gboolean removed = FALSE;
  SmmpSession *session;
  char *json = smmp_store_load_session (smmp_room_store, room->owner, room->name);

  if (json == NULL)
    return NULL;
  if (!smmp_store_load_notes (smmp_room_store, room->owner, room->name, &handle, &up_since,
                              &removed, &saved_at))
    handle = g_strdup (smmp_room_own_nick (room));
  session = smmp_session_restore (identity, handle, json, &error);
  sodium_memzero (json, strlen (json));
  g_free (json);
  if (session == NULL)
    {
      /* Never stuck: the unreadable state goes, and a new key agreement
       * (the user's, or a member's answer to our re-key request) brings
       * this member back. */
      smmp_ui_error (room->conv, "the saved session of this room cannot be used (%s); "
                                 "start a new one with /smmp start", error->message);
      smmp_store_delete_session (smmp_room_store, room->owner, room->name);
      return NULL;
    }
  room->restored_up_since = up_since;
  room->saved_at = saved_at;
  room->left_out = removed;
  *handle_out = g_steal_pointer (&handle);
  return session;
}

gboolean
smmp_room_ensure_driver (SmmpRoom *room, gboolean fresh_ok, GError **error)
{
  const SmmpIdentity *identity;
  SmmpSession *session;
  SmmpDriverConfig config;
  char *handle = NULL;
  const char *nick;
  gboolean restored = FALSE;

  if (room->driver != NULL)
    return TRUE;
  identity = identity_for (room, error);
  if (identity == NULL)
    return FALSE;
  nick = smmp_room_own_nick (room);
  session = restore_saved (room, identity, &handle);
  restored = session != NULL;
  if (session == NULL)
    {
      if (!fresh_ok)
        {
          g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_NO_SESSION,
                               "no encrypted session in this room");
          return FALSE;
        }
      handle = g_strdup (nick);
      session = smmp_session_new (identity, handle);
    }
  g_free (room->self_handle);
  room->self_handle = handle;
  g_hash_table_remove_all (room->aliases);
  if (nick != NULL && strcmp (nick, handle) != 0)
    g_hash_table_insert (room->aliases, g_strdup (nick), g_strdup (handle));
  smmp_room_config (&config);
  room->driver = smmp_driver_new (session, &config, &smmp_room_driver_callbacks, room);
  if (restored)
    {
      if (room->restored_up_since > 0)
        smmp_driver_set_up_since (room->driver, room->restored_up_since);
      smmp_ui_notice (room->conv, "resuming the saved encrypted session of this room");
      if (room->left_out)
        {
          smmp_session_mark_replaced (session);
          smmp_ui_error (room->conv, "you were removed from this session: what you type here "
                                     "is held, not sent, until a member adds you back, or you "
                                     "type /smmp end to talk in clear");
        }
    }
  else
    smmp_store_save_notes (smmp_room_store, room->owner, room->name, handle, 0, FALSE, NULL);
  /* A restored session asks for catch-up at once; dispatching now starts
   * it (and offers the saved frame in flight again). */
  smmp_driver_dispatch (room->driver);
  return TRUE;
}

static gboolean
ka_open (SmmpRoom *room)
{
  SmmpKeyAgreement *ka;
  SmmpKaPhase phase;

  if (room->driver == NULL)
    return FALSE;
  ka = smmp_session_get_key_agreement (smmp_driver_get_session (room->driver));
  if (ka == NULL)
    return FALSE;
  phase = smmp_ka_get_phase (ka);
  return phase != SMMP_KA_DONE && phase != SMMP_KA_FAILED;
}

gboolean
smmp_room_ka_open (SmmpRoom *room)
{
  return ka_open (room);
}

gboolean
smmp_room_is_secured (SmmpRoom *room)
{
  SmmpSession *session;

  if (room == NULL || room->driver == NULL)
    return FALSE;
  session = smmp_driver_get_session (room->driver);
  return smmp_session_is_up (session) || ka_open (room) || smmp_session_get_queued (session) > 0;
}

/* ---- joining and leaving -------------------------------------------------- */

static gboolean
on_join_idle (gpointer data)
{
  SmmpRoom *room = data;

  room->join_idle = 0;
  if (!room->in_room)
    return G_SOURCE_REMOVE;
  if (room->driver != NULL)
    {
      /* Back after an absence: whatever passed meanwhile is in the
       * archive. */
      smmp_room_mark_rejoined (room);
      if (room->catch_up_pending)
        smmp_room_start_catch_up (room);
      else if (room->away_with_session)
        smmp_driver_report_gap (room->driver);
      room->away_with_session = FALSE;
    }
  else if (smmp_room_has_saved_session (room) && smmp_room_ensure_driver (room, FALSE, NULL))
    smmp_room_mark_rejoined (room);
  return G_SOURCE_REMOVE;
}

void
smmp_room_joined (SmmpRoom *room, PurpleConversation *conv)
{
  room->conv = conv;
  room->in_room = TRUE;
  /* Deferred: during chat-joined our own nickname is not set yet, and a
   * restore needs it. */
  if (room->join_idle == 0)
    room->join_idle = g_idle_add (on_join_idle, room);
}

void
smmp_room_left (SmmpRoom *room)
{
  room->in_room = FALSE;
  if (room->driver == NULL)
    return;
  if (smmp_session_is_up (smmp_driver_get_session (room->driver)))
    room->away_with_session = TRUE;
  if (room->mam != NULL)
    {
      /* The core is still catching up: the query starts again on return. */
      smmp_mam_cancel (room->mam);
      room->mam = NULL;
      room->catch_up_pending = TRUE;
    }
}

void
smmp_rooms_account_gone (PurpleAccount *account)
{
  GHashTableIter iter;
  gpointer value;

  if (rooms == NULL)
    return;
  g_hash_table_iter_init (&iter, rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SmmpRoom *) value)->account == account)
      smmp_room_left (value);
}

void
smmp_room_conversation_gone (SmmpRoom *room)
{
  smmp_room_left (room);
  purple_request_close_with_handle (room);
  room->conv = NULL;
}

/* ---- frames out ----------------------------------------------------------- */

static void
on_send (SmmpDriver *driver, GBytes *frame, gpointer user_data)
{
  SmmpRoom *room = user_data;
  PurpleConnection *gc = purple_account_get_connection (room->account);
  g_autofree char *armoured = NULL;

  if (gc == NULL || room->conv == NULL || !room->in_room)
    {
      /* Lost like any frame the room drops: a data frame is sent again
       * by its deadline, an agreement times out. */
      purple_debug_warning ("smmp", "%s: not in the room, a frame is lost\n", room->name);
      return;
    }
  armoured = smmp_armour_encode (frame);
  /* serv_chat_send() does not emit sending-chat-msg: the frame goes as
   * is, and the armour has no character that markup would change. */
  serv_chat_send (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (room->conv)), armoured, 0);
}

static void
on_send_private (SmmpDriver *driver, const char *to_handle, GBytes *frame, gpointer user_data)
{
  SmmpRoom *room = user_data;
  PurpleConnection *gc = purple_account_get_connection (room->account);
  g_autofree char *armoured = NULL;
  g_autofree char *who = NULL;

  if (gc == NULL || !room->in_room)
    {
      smmp_ui_error (room->conv, "not connected: the one-on-one message to %s is lost",
                     smmp_room_handle_to_nick (room, to_handle));
      return;
    }
  armoured = smmp_armour_encode (frame);
  who = g_strdup_printf ("%s/%s", room->name, smmp_room_handle_to_nick (room, to_handle));
  serv_send_im (gc, who, armoured, 0);
}

static void
on_save (SmmpDriver *driver, gpointer user_data)
{
  SmmpRoom *room = user_data;
  g_autoptr (GError) error = NULL;
  char *json = smmp_session_to_json (smmp_driver_get_session (driver));

  if (!smmp_store_save_session (smmp_room_store, room->owner, room->name, json, &error)
      && !room->told_save_failed)
    {
      room->told_save_failed = TRUE;
      smmp_ui_error (room->conv, "cannot save the session (%s): a restart would lose it",
                     error->message);
    }
  sodium_memzero (json, strlen (json));
  g_free (json);
}

static void
on_rekey_due (SmmpDriver *driver, gpointer user_data)
{
  smmp_room_schedule_rekey (user_data, "the periodic re-key is due");
}

const SmmpDriverCallbacks smmp_room_driver_callbacks = {
  .send = on_send,
  .send_private = on_send_private,
  .event = smmp_room_on_event,
  .save = on_save,
  .rekey_due = on_rekey_due,
};

/* ---- text in and out ------------------------------------------------------ */

gboolean
smmp_room_outgoing (SmmpRoom *room, const char *markup)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  SmmpSession *session;

  if (!smmp_room_is_secured (room))
    return FALSE;
  session = smmp_driver_get_session (room->driver);
  text = smmp_ui_markup_to_text (markup);
  if (text[0] == '\0')
    return TRUE;
  if (!smmp_driver_send (room->driver, text, &error))
    smmp_ui_error (room->conv, "your message was not sent (%s); nothing left in clear",
                   error->message);
  else if (!smmp_session_is_up (session))
    smmp_ui_notice (room->conv, "your message waits for the encrypted session (%u queued)",
                    smmp_session_get_queued (session));
  else
    smmp_room_tell_held (room);
  sodium_memzero (text, strlen (text));
  return TRUE;
}

static GBytes *
decode_or_tell (SmmpRoom *room, const char *nick, const char *text)
{
  g_autoptr (GError) error = NULL;
  GBytes *frame = smmp_armour_decode (text, &error);
  g_autofree char *who = NULL;

  if (frame == NULL)
    {
      who = smmp_room_describe_occupant (room, nick);
      smmp_room_tell_rejection (room, nick, error->code,
                                g_strdup_printf ("an unreadable encrypted message from %s was "
                                                 "dropped: %s", who, error->message));
    }
  return frame;
}

gboolean
smmp_room_incoming (SmmpRoom *room, const char *nick, const char *markup, gboolean delayed,
                    char **rewrite)
{
  g_autofree char *text = smmp_ui_markup_to_text (markup);
  g_autoptr (GBytes) frame = NULL;

  *rewrite = NULL;
  if (!smmp_armour_detect (text))
    {
      /* In a secured room a clear message is someone without the plugin,
       * or someone pretending: it must not pass for a protected one. */
      if (!delayed && smmp_room_is_secured (room))
        *rewrite = g_strconcat ("[not encrypted] ", markup, NULL);
      return FALSE;
    }
  /* Frames in the history replayed on joining are old: a catch-up reads
   * them from the archive, in order, and an old invitation must never be
   * answered. */
  if (delayed || nick == NULL)
    return TRUE;
  frame = decode_or_tell (room, nick, text);
  if (frame == NULL)
    return TRUE;
  smmp_room_check_exclusion (room, nick, frame, 0);
  if (room->driver == NULL && !smmp_room_adopt_frame (room, nick, frame))
    return TRUE;
  room->last_frame_us = g_get_real_time ();
  smmp_driver_receive (room->driver, smmp_room_nick_to_handle (room, nick), frame);
  return TRUE;
}

gboolean
smmp_room_incoming_private (SmmpRoom *room, const char *nick, const char *markup)
{
  g_autofree char *text = smmp_ui_markup_to_text (markup);
  g_autoptr (GBytes) frame = NULL;

  if (!smmp_armour_detect (text))
    return FALSE;
  frame = decode_or_tell (room, nick, text);
  if (frame == NULL)
    return TRUE;
  if (room->driver == NULL)
    {
      smmp_ui_error (room->conv, "a one-on-one encrypted message from %s cannot be read: "
                                 "no session here", nick);
      return TRUE;
    }
  smmp_driver_receive_private (room->driver, smmp_room_nick_to_handle (room, nick), frame);
  return TRUE;
}

/* ---- occupants ------------------------------------------------------------ */

/* Index of @handle in the confirmed session, or -1. */
gint
smmp_room_member_index (SmmpRoom *room, const char *handle)
{
  const SmmpGroupState *state;

  if (room->driver == NULL
      || (state = smmp_session_get_state (smmp_driver_get_session (room->driver))) == NULL)
    return -1;
  for (guint i = 0; i < smmp_group_state_get_size (state); i++)
    if (strcmp (smmp_group_state_get_handle (state, i), handle) == 0)
      return (gint) i;
  return -1;
}

void
smmp_room_occupant_joined (SmmpRoom *room, const char *nick)
{
  gint index;

  if (room->driver == NULL
      || !smmp_session_is_up (smmp_driver_get_session (room->driver)))
    return;
  index = smmp_room_member_index (room, smmp_room_nick_to_handle (room, nick));
  if (index < 0)
    smmp_ui_notice (room->conv, "%s joined and is not in the encrypted session (they see "
                                "only armoured text); /smmp add %s brings them in", nick, nick);
}

void
smmp_room_occupant_left (SmmpRoom *room, const char *nick)
{
  const char *handle = smmp_room_nick_to_handle (room, nick);
  g_autofree char *why = NULL;

  if (smmp_room_member_index (room, handle) < 0)
    return;
  /* R10: a member who left must not read what follows. */
  why = g_strdup_printf ("%s left the room", nick);
  smmp_room_schedule_rekey (room, why);
}

void
smmp_room_occupant_renamed (SmmpRoom *room, const char *old_nick, const char *new_nick)
{
  g_autofree char *handle = g_strdup (smmp_room_nick_to_handle (room, old_nick));

  g_hash_table_remove (room->aliases, old_nick);
  if (strcmp (handle, new_nick) != 0)
    g_hash_table_insert (room->aliases, g_strdup (new_nick), g_strdup (handle));
  if (smmp_room_member_index (room, handle) >= 0)
    smmp_ui_notice (room->conv, "%s (in the session as %s) is now called %s",
                    old_nick, handle, new_nick);
}
