/* smmp-room-return.c: a member the others re-keyed without.
 *
 * Two cases look alike on the wire (an invitation from a member of our
 * session that does not name us) and are told apart by where we were:
 *
 * - we were away (the window closed, the client restarted, the connection
 *   dropped) and the others re-keyed because we left (R10).  Back in the
 *   room, we ask to be let in again: a re-key with the members of the
 *   session that replaced ours.
 * - we were here, and a member re-keyed without us (/smmp remove).  No
 *   automatic re-key of ours may follow: it would undo the removal.
 *
 * Either way nothing more is sealed into the dead session (everyone would
 * refuse it, and the text would be lost): what we type waits in the core's
 * queue for the next session we are in (smmp_session_mark_replaced()).
 */
#include "smmp-room-private.h"

#include <string.h>

#include "smmp-ui.h"
#include "smmp.h"

/* After coming back, an invitation without us may still be the one the
 * others started because we left: their re-key may be under way, or
 * start, while we rejoin. */
#define REJOIN_GRACE_US (60 * G_USEC_PER_SEC)

/* The invitation's handles when @frame is an INVITE from another member
 * of our confirmed session that does not name us; else NULL. */
static GPtrArray *
invitation_without_us (SmmpRoom *room, const char *nick, GBytes *frame)
{
  const char *handle = smmp_room_nick_to_handle (room, nick);
  g_autoptr (SmmpFrame) decoded = NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);
  GPtrArray *handles;

  /* Every frame of the room passes here: only an invitation is decoded. */
  if (len < 2 || data[1] != SMMP_FRAME_INVITE || room->driver == NULL
      || g_strcmp0 (handle, room->self_handle) == 0
      || smmp_room_member_index (room, handle) < 0)
    return NULL;
  decoded = smmp_frame_decode_bytes (frame, NULL);
  if (decoded == NULL || smmp_room_invitation_names_us (room, decoded))
    return NULL;
  handles = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (handles, g_strdup (nick));
  for (guint i = 0; i < decoded->handles->len; i++)
    g_ptr_array_add (handles, g_strdup (g_ptr_array_index (decoded->handles, i)));
  return handles;
}

void
smmp_room_mark_rejoined (SmmpRoom *room)
{
  room->rejoined_us = g_get_monotonic_time ();
}

static void
tell_removed (SmmpRoom *room, const char *nick)
{
  if (room->left_out)
    return;
  room->left_out = TRUE;
  smmp_session_mark_replaced (smmp_driver_get_session (room->driver));
  /* Kept across a restart: coming back must not look like an absence. */
  smmp_store_save_notes (smmp_room_store, room->owner, room->name, room->self_handle,
                         smmp_driver_get_up_since (room->driver), TRUE, NULL);
  smmp_ui_error (room->conv, "%s started an encrypted session without you: you are no longer "
                             "in it. What you type here is held, not sent, until a member "
                             "adds you back (/smmp add %s), or you type /smmp end to talk "
                             "in clear", nick, smmp_room_own_nick (room));
}

void
smmp_room_check_exclusion (SmmpRoom *room, const char *nick, GBytes *frame, time_t archived_at)
{
  g_autoptr (GPtrArray) handles = invitation_without_us (room, nick, frame);
  gboolean away;

  /* Removed already: the next invitation without us changes nothing. */
  if (handles == NULL || room->left_out)
    return;
  if (archived_at != 0)
    /* From the archive: what concerns our session came after it was up. */
    away = (gint64) archived_at * G_USEC_PER_SEC >= smmp_driver_get_up_since (room->driver);
  else
    away = room->rejoined_us != 0
           && g_get_monotonic_time () - room->rejoined_us < REJOIN_GRACE_US;
  if (!away)
    {
      tell_removed (room, nick);
      return;
    }
  smmp_session_mark_replaced (smmp_driver_get_session (room->driver));
  g_clear_pointer (&room->replaced_by, g_ptr_array_unref);
  room->replaced_by = g_steal_pointer (&handles);
  /* Live: nothing more will come from the archive; ask now. */
  if (archived_at == 0 && room->mam == NULL)
    smmp_room_return_if_left (room);
}

void
smmp_room_return_if_left (SmmpRoom *room)
{
  g_autoptr (GPtrArray) nicks = NULL;
  g_autoptr (GPtrArray) replaced_by = g_steal_pointer (&room->replaced_by);
  g_autoptr (GError) error = NULL;
  g_autofree char *list = NULL;

  if (replaced_by == NULL || room->driver == NULL || !room->in_room)
    return;
  nicks = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < replaced_by->len; i++)
    {
      const char *nick = g_ptr_array_index (replaced_by, i);

      if (g_strcmp0 (nick, smmp_room_own_nick (room)) != 0 && smmp_room_has_occupant (room, nick)
          && !g_ptr_array_find_with_equal_func (nicks, nick, g_str_equal, NULL))
        g_ptr_array_add (nicks, g_strdup (nick));
    }
  if (nicks->len == 0)
    {
      smmp_ui_notice (room->conv, "the others re-keyed without you while you were away, and "
                                  "none of them is in the room now");
      return;
    }
  g_ptr_array_add (nicks, NULL);
  list = g_strjoinv (", ", (char **) nicks->pdata);
  smmp_ui_notice (room->conv, "the others re-keyed without you while you were away: asking "
                              "%s to let you back in", list);
  if (!smmp_driver_start (room->driver, (const char *const *) nicks->pdata, nicks->len - 1,
                          &error))
    smmp_ui_error (room->conv, "cannot ask to be let back in: %s", error->message);
  else
    room->returning = TRUE;
}

void
smmp_room_tell_held (SmmpRoom *room)
{
  guint queued = smmp_session_get_queued (smmp_driver_get_session (room->driver));

  if (room->returning)
    smmp_ui_notice (room->conv, "your message waits until you are back in the encrypted "
                                "session (%u queued)", queued);
  else if (room->left_out)
    smmp_ui_notice (room->conv, "you are not in the encrypted session: your message is held, "
                                "not sent (%u held)", queued);
}

void
smmp_room_return_clear (SmmpRoom *room)
{
  g_clear_pointer (&room->replaced_by, g_ptr_array_unref);
  room->left_out = FALSE;
  room->returning = FALSE;
  room->rejoined_us = 0;
}
