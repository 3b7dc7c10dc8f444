/* smmp-room-admin.c: what the /smmp commands ask of a room: start, change
 * members, end, describe, fingerprints and trust, one-on-one messages. */
#include "smmp-room-private.h"

#include <string.h>

#include <sodium.h>

#include "smmp-ui.h"
#include "smmp.h"

static gboolean
start_with (SmmpRoom *room, GPtrArray *nicks, GError **error)
{
  if (nicks->len == 0)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                           "nobody to invite: no other occupant is in the room");
      return FALSE;
    }
  if (!smmp_room_ensure_driver (room, TRUE, error))
    return FALSE;
  g_ptr_array_add (nicks, NULL);
  if (!smmp_driver_start (room->driver, (const char *const *) nicks->pdata, nicks->len - 1,
                          error))
    return FALSE;
  room->told_outsider = FALSE;
  return TRUE;
}

static gboolean
require_occupant (SmmpRoom *room, const char *nick, GError **error)
{
  if (!room->in_room)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_INVALID, "you are not in the room");
      return FALSE;
    }
  if (g_strcmp0 (nick, smmp_room_own_nick (room)) == 0)
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_INVALID, "that is you");
      return FALSE;
    }
  if (!smmp_room_has_occupant (room, nick))
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID, "nobody called %s is in the room",
                   nick);
      return FALSE;
    }
  return TRUE;
}

static gboolean
require_session (SmmpRoom *room, GError **error)
{
  if (room->driver == NULL || !smmp_session_is_up (smmp_driver_get_session (room->driver)))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_NO_SESSION,
                           "no encrypted session in this room (/smmp start)");
      return FALSE;
    }
  return TRUE;
}

gboolean
smmp_room_start (SmmpRoom *room, const char *const *nicks, GError **error)
{
  g_autoptr (GPtrArray) invite = g_ptr_array_new_with_free_func (g_free);

  if (nicks == NULL || nicks[0] == NULL)
    {
      GList *users = room->conv != NULL && room->in_room
                       ? purple_conv_chat_get_users (PURPLE_CONV_CHAT (room->conv))
                       : NULL;

      for (GList *l = users; l != NULL; l = l->next)
        {
          const char *name = purple_conv_chat_cb_get_name (l->data);

          if (g_strcmp0 (name, smmp_room_own_nick (room)) != 0)
            g_ptr_array_add (invite, g_strdup (name));
        }
    }
  else
    for (guint i = 0; nicks[i] != NULL; i++)
      {
        if (!require_occupant (room, nicks[i], error))
          return FALSE;
        if (!g_ptr_array_find_with_equal_func (invite, nicks[i], g_str_equal, NULL))
          g_ptr_array_add (invite, g_strdup (nicks[i]));
      }
  return start_with (room, invite, error);
}

gboolean
smmp_room_add (SmmpRoom *room, const char *nick, GError **error)
{
  g_autoptr (GPtrArray) invite = NULL;

  if (!require_session (room, error) || !require_occupant (room, nick, error))
    return FALSE;
  if (smmp_room_member_index (room, smmp_room_nick_to_handle (room, nick)) >= 0)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID, "%s is in the session already", nick);
      return FALSE;
    }
  invite = smmp_room_present_members (room, NULL, nick);
  return start_with (room, invite, error);
}

gboolean
smmp_room_remove (SmmpRoom *room, const char *nick, GError **error)
{
  g_autoptr (GPtrArray) invite = NULL;

  if (!require_session (room, error))
    return FALSE;
  if (smmp_room_member_index (room, smmp_room_nick_to_handle (room, nick)) < 0)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID, "%s is not in the session", nick);
      return FALSE;
    }
  invite = smmp_room_present_members (room, nick, NULL);
  return start_with (room, invite, error);
}

gboolean
smmp_room_rekey (SmmpRoom *room, GError **error)
{
  g_autoptr (GPtrArray) invite = NULL;

  if (!require_session (room, error))
    return FALSE;
  invite = smmp_room_present_members (room, NULL, NULL);
  return start_with (room, invite, error);
}

void
smmp_room_end (SmmpRoom *room)
{
  guint queued = 0;

  if (room->driver != NULL)
    queued = smmp_session_get_queued (smmp_driver_get_session (room->driver));
  smmp_room_return_clear (room);
  if (room->mam != NULL)
    smmp_mam_cancel (room->mam);
  room->mam = NULL;
  room->catch_up_pending = FALSE;
  if (room->auto_timer != 0)
    g_source_remove (room->auto_timer);
  room->auto_timer = 0;
  g_clear_pointer (&room->driver, smmp_driver_free);
  g_hash_table_remove_all (room->aliases);
  g_hash_table_remove_all (room->told);
  smmp_store_delete_session (smmp_room_store, room->owner, room->name);
  if (queued > 0)
    smmp_ui_notice (room->conv, "%u unsent message(s) dropped", queued);
  smmp_ui_notice (room->conv, "encrypted session ended here: what you type now is sent "
                              "IN CLEAR");
}

char *
smmp_room_fingerprint (SmmpRoom *room, const char *nick, GError **error)
{
  const SmmpGroupState *state;
  gint index;

  if (nick == NULL)
    {
      const SmmpIdentity *identity = smmp_room_identity (room, error);

      return identity != NULL ? smmp_fingerprint_format (smmp_identity_get_public (identity))
                              : NULL;
    }
  if (!require_session (room, error))
    return NULL;
  index = smmp_room_member_index (room, smmp_room_nick_to_handle (room, nick));
  if (index < 0)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID, "%s is not in the session", nick);
      return NULL;
    }
  state = smmp_session_get_state (smmp_driver_get_session (room->driver));
  return smmp_fingerprint_format (smmp_group_state_get_identity_key (state, (guint) index));
}

static const guint8 *
member_key (SmmpRoom *room, const char *nick, char **peer, GError **error)
{
  const char *handle = smmp_room_nick_to_handle (room, nick);
  gint index;

  if (!require_session (room, error))
    return NULL;
  index = smmp_room_member_index (room, handle);
  if (index < 0 || (guint) index == smmp_group_state_get_self (smmp_session_get_state (
                                      smmp_driver_get_session (room->driver))))
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID, "%s is not another member of the "
                                                          "session", nick);
      return NULL;
    }
  *peer = smmp_room_peer_id (room, handle);
  return smmp_group_state_get_identity_key (
    smmp_session_get_state (smmp_driver_get_session (room->driver)), (guint) index);
}

gboolean
smmp_room_trust (SmmpRoom *room, const char *nick, const char *fingerprint, GError **error)
{
  g_autofree char *peer = NULL;
  g_autofree char *actual = NULL;
  const guint8 *key = member_key (room, nick, &peer, error);
  guint8 typed[SMMP_FINGERPRINT_BYTES], real[SMMP_FINGERPRINT_BYTES];

  if (key == NULL)
    return FALSE;
  if (!smmp_fingerprint_parse (fingerprint, typed))
    {
      g_set_error_literal (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                           "a fingerprint is 40 hexadecimal digits");
      return FALSE;
    }
  smmp_fingerprint_compute (key, real);
  actual = smmp_fingerprint_format (key);
  /* Trust is given to the key the session uses, and only when the user
   * typed that key's fingerprint: a mistyped one trusts nothing. */
  if (sodium_memcmp (typed, real, sizeof real) != 0)
    {
      g_set_error (error, SMMP_ERROR, SMMP_ERROR_INVALID,
                   "that is not %s's fingerprint in this session (%s): nothing trusted", nick,
                   actual);
      return FALSE;
    }
  if (!smmp_store_set_peer (smmp_room_store, room->owner, peer, key, SMMP_TRUST_VERIFIED, error))
    return FALSE;
  smmp_ui_notice (room->conv, "%s's key %s is now verified", nick, actual);
  return TRUE;
}

gboolean
smmp_room_distrust (SmmpRoom *room, const char *nick, GError **error)
{
  g_autofree char *peer = NULL;
  g_autofree char *fp = NULL;
  const guint8 *key = member_key (room, nick, &peer, error);

  if (key == NULL)
    return FALSE;
  if (!smmp_store_set_peer (smmp_room_store, room->owner, peer, key, SMMP_TRUST_DISTRUSTED,
                            error))
    return FALSE;
  fp = smmp_fingerprint_format (key);
  smmp_ui_warning (room->conv, "%s's key %s is distrusted; /smmp remove %s takes them out of "
                               "the session", nick, fp, nick);
  return TRUE;
}

gboolean
smmp_room_send_private (SmmpRoom *room, const char *nick, const char *text, GError **error)
{
  g_autofree char *shown = NULL;

  if (!require_session (room, error))
    return FALSE;
  if (!smmp_driver_send_private (room->driver, smmp_room_nick_to_handle (room, nick), text,
                                 error))
    return FALSE;
  /* The sender gets no event for its own one-on-one message: it is shown
   * here, once it has gone. */
  shown = g_strdup_printf ("(to %s) %s", nick, text);
  smmp_ui_show_private (room->conv, smmp_room_own_nick (room), shown, TRUE, FALSE);
  return TRUE;
}

static const char *
phase_text (SmmpRoom *room)
{
  SmmpKeyAgreement *ka = smmp_session_get_key_agreement (smmp_driver_get_session (room->driver));

  return ka != NULL ? smmp_ka_phase_name (smmp_ka_get_phase (ka)) : "none";
}

char *
smmp_room_describe (SmmpRoom *room)
{
  GString *s = g_string_new (NULL);
  g_autofree char *own = smmp_room_fingerprint (room, NULL, NULL);
  SmmpSession *session;
  const SmmpGroupState *state;

  if (room->driver == NULL)
    {
      g_string_append_printf (s, "no encrypted session in this room%s.\nYour fingerprint: %s",
                              smmp_room_has_saved_session (room) ? " (a saved one will resume)"
                                                                 : "",
                              own != NULL ? own : "?");
      return g_string_free (s, FALSE);
    }
  session = smmp_driver_get_session (room->driver);
  state = smmp_session_get_state (session);
  if (state == NULL)
    g_string_append (s, "no encrypted session is up.");
  else
    {
      g_autofree char *code = smmp_group_state_get_verification_code (state);

      g_string_append_printf (s, "encrypted session up: %u members, generation %u, epoch %u.\n"
                                 "Verification code: %s\nMembers:",
                              smmp_group_state_get_size (state),
                              smmp_group_state_get_generation (state),
                              smmp_group_state_get_epoch (state), code);
      for (guint i = 0; i < smmp_group_state_get_size (state); i++)
        {
          const char *handle = smmp_group_state_get_handle (state, i);
          const char *nick = smmp_room_handle_to_nick (room, handle);
          g_autofree char *fp = smmp_fingerprint_format (smmp_group_state_get_identity_key (state, i));
          g_autofree char *peer = smmp_room_peer_id (room, handle);
          gboolean self = i == smmp_group_state_get_self (state);
          SmmpTrust trust = self ? SMMP_TRUST_NONE
                                 : smmp_store_get_peer (smmp_room_store, room->owner, peer, NULL);

          g_string_append_printf (s, "\n  %u. %s%s%s%s  %s  [%s]%s", i, nick,
                                  strcmp (nick, handle) != 0 ? " (as " : "",
                                  strcmp (nick, handle) != 0 ? handle : "",
                                  strcmp (nick, handle) != 0 ? ")" : "", fp,
                                  self ? "you" : smmp_trust_name (trust),
                                  !self && !smmp_room_has_occupant (room, nick) ? " (not in the room)" : "");
          if (!self && g_str_has_prefix (peer, "jid:"))
            g_string_append_printf (s, "  %s", peer + 4);
        }
    }
  if (smmp_room_ka_open (room))
    g_string_append_printf (s, "\nKey agreement under way: %s.", phase_text (room));
  if (smmp_session_get_queued (session) > 0)
    g_string_append_printf (s, "\nMessages waiting to go: %u.", smmp_session_get_queued (session));
  if (room->mam != NULL || room->catch_up_pending)
    g_string_append (s, "\nCatching up from the room's archive.");
  g_string_append_printf (s, "\nYour fingerprint: %s", own != NULL ? own : "?");
  return g_string_free (s, FALSE);
}
