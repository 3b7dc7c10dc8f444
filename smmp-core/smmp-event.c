/* smmp-event.c: events the core reports to its caller. */
#include "smmp-event.h"

SmmpEvent *
smmp_event_new (SmmpEventType type, SmmpErrorCode code, const char *handle,
                const char *message)
{
  SmmpEvent *event = g_new0 (SmmpEvent, 1);

  event->type = type;
  event->code = code;
  event->handle = g_strdup (handle);
  event->message = g_strdup (message != NULL ? message : "");
  event->handles = g_ptr_array_new_with_free_func (g_free);
  event->outsiders = g_ptr_array_new_with_free_func (g_free);
  return event;
}

void
smmp_event_free (SmmpEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->message);
  g_free (event->handle);
  g_free (event->text);
  g_ptr_array_unref (event->handles);
  g_ptr_array_unref (event->outsiders);
  g_free (event);
}

const char *
smmp_event_type_name (SmmpEventType type)
{
  switch (type)
    {
    case SMMP_EVENT_ROSTER_FIXED: return "roster-fixed";
    case SMMP_EVENT_SESSION_UP: return "session-up";
    case SMMP_EVENT_SESSION_FAILED: return "session-failed";
    case SMMP_EVENT_FRAME_REJECTED: return "frame-rejected";
    case SMMP_EVENT_MESSAGE: return "message";
    case SMMP_EVENT_CATCHUP_NEEDED: return "catch-up-needed";
    case SMMP_EVENT_CATCHUP_DONE: return "catch-up-done";
    case SMMP_EVENT_RESYNC_NEEDED: return "resync-needed";
    case SMMP_EVENT_RESYNCED: return "resynced";
    case SMMP_EVENT_REKEY_NEEDED: return "rekey-needed";
    case SMMP_EVENT_MEMBERS_CHANGED: return "members-changed";
    case SMMP_EVENT_PRIVATE_MESSAGE: return "private-message";
    }
  return "unknown";
}
