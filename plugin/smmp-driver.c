/* smmp-driver.c: one SmmpSession on the GLib main loop: frames out, events
 * out, deadlines in. */
#include "smmp-driver.h"

#include "smmp-frame.h"
#include "smmp-ka.h"

#include <string.h>

struct _SmmpDriver {
  SmmpSession *session;
  SmmpDriverConfig config;
  SmmpDriverCallbacks cb;
  gpointer user_data;

  /* The key agreement the deadline is armed for, told apart by session id
   * and phase: a new agreement may reuse the old one's memory. */
  guint ka_timer;
  gboolean ka_armed;
  guint8 ka_sid[16];
  SmmpKaPhase ka_phase;

  guint resend_timer;
  guint resync_timer;
  guint rekey_timer;
  gboolean rekey_reported;
  gint64 up_since;

  guint depth;            /* nested calls under way (callbacks re-entering) */
  gboolean free_pending;  /* smmp_driver_free() came from inside a callback */
};

void
smmp_driver_config_init (SmmpDriverConfig *config)
{
  /* A room relays in well under a second; a person's client may be busy
   * or reconnecting, so rounds get tens of seconds.  The roster deadline
   * exceeds the answer deadline by a round, as 5.19 requires. */
  config->answer_timeout_ms = 15000;
  config->roster_timeout_ms = 30000;
  config->round_timeout_ms = 30000;
  config->resend_timeout_ms = 20000;
  config->resync_backoff_min_ms = 500;
  config->resync_backoff_max_ms = 5000;
  config->rekey_check_ms = 60000;
  config->rekey_max_messages = 0;
  config->rekey_max_minutes = 0;
}

static void arm_rekey_timer (SmmpDriver *driver);

SmmpDriver *
smmp_driver_new (SmmpSession *session, const SmmpDriverConfig *config,
                 const SmmpDriverCallbacks *callbacks, gpointer user_data)
{
  SmmpDriver *driver = g_new0 (SmmpDriver, 1);

  g_return_val_if_fail (session != NULL && callbacks != NULL, NULL);
  g_return_val_if_fail (callbacks->send != NULL && callbacks->event != NULL, NULL);
  driver->session = session;
  if (config != NULL)
    driver->config = *config;
  else
    smmp_driver_config_init (&driver->config);
  driver->cb = *callbacks;
  driver->user_data = user_data;
  if (smmp_session_is_up (session))
    driver->up_since = g_get_real_time ();
  arm_rekey_timer (driver);
  return driver;
}

static void
clear_source (guint *id)
{
  if (*id != 0)
    g_source_remove (*id);
  *id = 0;
}

static void
really_free (SmmpDriver *driver)
{
  clear_source (&driver->ka_timer);
  clear_source (&driver->resend_timer);
  clear_source (&driver->resync_timer);
  clear_source (&driver->rekey_timer);
  smmp_session_free (driver->session);
  g_free (driver);
}

void
smmp_driver_free (SmmpDriver *driver)
{
  if (driver == NULL)
    return;
  if (driver->depth > 0)
    {
      /* A callback of ours is on the stack: it may still touch the driver
       * on its way out.  The outermost call frees it. */
      driver->free_pending = TRUE;
      clear_source (&driver->ka_timer);
      clear_source (&driver->resend_timer);
      clear_source (&driver->resync_timer);
      clear_source (&driver->rekey_timer);
      return;
    }
  really_free (driver);
}

SmmpSession *
smmp_driver_get_session (SmmpDriver *driver)
{
  return driver->session;
}

const SmmpDriverConfig *
smmp_driver_get_config (SmmpDriver *driver)
{
  return &driver->config;
}

void
smmp_driver_set_config (SmmpDriver *driver, const SmmpDriverConfig *config)
{
  driver->config = *config;
  arm_rekey_timer (driver);
}

gint64
smmp_driver_get_up_since (SmmpDriver *driver)
{
  return driver->up_since;
}

void
smmp_driver_set_up_since (SmmpDriver *driver, gint64 real_time_us)
{
  driver->up_since = real_time_us;
}

/* ---- periodic re-key ------------------------------------------------------ */

static void
check_rekey (SmmpDriver *driver)
{
  gint64 up_for_ms = 0;

  if (driver->rekey_reported || driver->free_pending || driver->cb.rekey_due == NULL)
    return;
  if (driver->up_since > 0)
    up_for_ms = (g_get_real_time () - driver->up_since) / 1000;
  if (!smmp_session_rekey_is_due (driver->session, driver->config.rekey_max_messages,
                                  up_for_ms,
                                  (gint64) driver->config.rekey_max_minutes * 60000))
    return;
  /* Once per session: the caller's re-key takes a while, and a failed one
   * should not be retried every minute behind the user's back. */
  driver->rekey_reported = TRUE;
  driver->cb.rekey_due (driver, driver->user_data);
}

static gboolean
on_rekey_check (gpointer data)
{
  SmmpDriver *driver = data;

  driver->depth++;
  check_rekey (driver);
  driver->depth--;
  if (driver->free_pending && driver->depth == 0)
    {
      driver->rekey_timer = 0;
      really_free (driver);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
arm_rekey_timer (SmmpDriver *driver)
{
  clear_source (&driver->rekey_timer);
  if (driver->config.rekey_check_ms > 0
      && (driver->config.rekey_max_messages > 0 || driver->config.rekey_max_minutes > 0))
    driver->rekey_timer = g_timeout_add (driver->config.rekey_check_ms, on_rekey_check, driver);
}

/* ---- deadlines ------------------------------------------------------------ */

static void dispatch (SmmpDriver *driver, gboolean changed);

/* Every timer callback runs the session call inside a dispatch, so that a
 * callback freeing the driver is handled the same way everywhere. */
static gboolean
on_ka_deadline (gpointer data)
{
  SmmpDriver *driver = data;

  driver->ka_timer = 0;
  /* Forget what was armed: if the phase does not move (a failed round),
   * nothing is re-armed. */
  driver->ka_armed = FALSE;
  smmp_session_expire (driver->session);
  dispatch (driver, TRUE);
  return G_SOURCE_REMOVE;
}

static gboolean
on_resend_deadline (gpointer data)
{
  SmmpDriver *driver = data;

  driver->resend_timer = 0;
  smmp_session_resend_due (driver->session);
  dispatch (driver, FALSE);
  return G_SOURCE_REMOVE;
}

static gboolean
on_resync_backoff (gpointer data)
{
  SmmpDriver *driver = data;

  driver->resync_timer = 0;
  smmp_session_resync_due (driver->session);
  dispatch (driver, TRUE);
  return G_SOURCE_REMOVE;
}

static guint
phase_timeout (const SmmpDriverConfig *config, SmmpKaPhase phase)
{
  switch (phase)
    {
    case SMMP_KA_COLLECTING:
      return config->answer_timeout_ms;
    case SMMP_KA_AWAIT_ROSTER:
      return config->roster_timeout_ms;
    case SMMP_KA_AUTH:
    case SMMP_KA_KEY:
    case SMMP_KA_CONFIRM:
    case SMMP_KA_DONE:
    case SMMP_KA_FAILED:
    default:
      return config->round_timeout_ms;
    }
}

/* A deadline per phase of the open agreement, re-armed when the agreement
 * moves on (a new phase, or a new agreement). */
static void
update_ka_timer (SmmpDriver *driver)
{
  SmmpKeyAgreement *ka = smmp_session_get_key_agreement (driver->session);
  SmmpKaPhase phase = ka != NULL ? smmp_ka_get_phase (ka) : SMMP_KA_FAILED;

  if (ka == NULL || phase == SMMP_KA_DONE || phase == SMMP_KA_FAILED)
    {
      clear_source (&driver->ka_timer);
      driver->ka_armed = FALSE;
      return;
    }
  if (driver->ka_armed && phase == driver->ka_phase
      && memcmp (driver->ka_sid, smmp_ka_get_sid (ka), sizeof driver->ka_sid) == 0)
    return;
  clear_source (&driver->ka_timer);
  driver->ka_armed = TRUE;
  driver->ka_phase = phase;
  memcpy (driver->ka_sid, smmp_ka_get_sid (ka), sizeof driver->ka_sid);
  driver->ka_timer = g_timeout_add (phase_timeout (&driver->config, phase), on_ka_deadline,
                                    driver);
}

/* The resend deadline counts from the last time a data frame of ours went
 * out: a new frame in flight, or a copy, starts it afresh. */
static void
update_resend_timer (SmmpDriver *driver, gboolean sent_data)
{
  if (!smmp_session_has_in_flight (driver->session) || driver->config.resend_timeout_ms == 0)
    {
      clear_source (&driver->resend_timer);
      return;
    }
  if (sent_data)
    clear_source (&driver->resend_timer);
  if (driver->resend_timer == 0)
    driver->resend_timer = g_timeout_add (driver->config.resend_timeout_ms,
                                          on_resend_deadline, driver);
}

static void
arm_resync_backoff (SmmpDriver *driver)
{
  guint lo = driver->config.resync_backoff_min_ms;
  guint hi = MAX (lo, driver->config.resync_backoff_max_ms);
  /* X.B.1.6: a random back-off, so that of the members who noticed at
   * once, one resyncs first and the others find their need met. */
  guint delay = lo == hi ? lo : (guint) g_random_int_range ((gint32) lo, (gint32) hi + 1);

  clear_source (&driver->resync_timer);
  driver->resync_timer = g_timeout_add (delay, on_resync_backoff, driver);
}

/* ---- dispatch ------------------------------------------------------------- */

typedef struct {
  char *to;
  GBytes *frame;
} PrivateOut;

static gboolean
is_data_frame (GBytes *frame)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);

  return len >= 2 && data[1] == SMMP_FRAME_DATA;
}

static void
dispatch (SmmpDriver *driver, gboolean changed)
{
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GPtrArray) privates = g_ptr_array_new ();
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) smmp_event_free);
  gboolean sent_data = FALSE, saw_message = FALSE;
  GBytes *frame;
  SmmpEvent *event;
  char *to = NULL;

  driver->depth++;
  while ((frame = smmp_session_pop_frame (driver->session)) != NULL)
    g_ptr_array_add (frames, frame);
  while ((frame = smmp_session_pop_private_frame (driver->session, &to)) != NULL)
    {
      PrivateOut *p = g_new (PrivateOut, 1);

      p->to = g_steal_pointer (&to);
      p->frame = frame;
      g_ptr_array_add (privates, p);
    }
  while ((event = smmp_session_pop_event (driver->session)) != NULL)
    g_ptr_array_add (events, event);

  /* Saved before anything leaves: a frame in the room must be one the
   * saved state knows, or a restart would seal the same text twice. */
  if ((changed || frames->len > 0 || privates->len > 0 || events->len > 0)
      && driver->cb.save != NULL && !driver->free_pending)
    driver->cb.save (driver, driver->user_data);

  for (guint i = 0; i < frames->len; i++)
    {
      GBytes *f = g_ptr_array_index (frames, i);

      sent_data = sent_data || is_data_frame (f);
      if (!driver->free_pending)
        driver->cb.send (driver, f, driver->user_data);
    }
  for (guint i = 0; i < privates->len; i++)
    {
      PrivateOut *p = g_ptr_array_index (privates, i);

      if (!driver->free_pending && driver->cb.send_private != NULL)
        driver->cb.send_private (driver, p->to, p->frame, driver->user_data);
      g_free (p->to);
      g_bytes_unref (p->frame);
      g_free (p);
    }
  for (guint i = 0; i < events->len && !driver->free_pending; i++)
    {
      const SmmpEvent *e = g_ptr_array_index (events, i);

      switch (e->type)
        {
        case SMMP_EVENT_SESSION_UP:
          driver->up_since = g_get_real_time ();
          driver->rekey_reported = FALSE;
          break;
        case SMMP_EVENT_RESYNC_NEEDED:
          arm_resync_backoff (driver);
          break;
        case SMMP_EVENT_MESSAGE:
          saw_message = TRUE;
          break;
        default:
          break;
        }
      driver->cb.event (driver, e, driver->user_data);
    }

  if (!driver->free_pending)
    {
      update_ka_timer (driver);
      update_resend_timer (driver, sent_data);
      if (saw_message)
        check_rekey (driver);
    }
  driver->depth--;
  if (driver->free_pending && driver->depth == 0)
    really_free (driver);
}

void
smmp_driver_dispatch (SmmpDriver *driver)
{
  dispatch (driver, FALSE);
}

/* ---- the session's calls -------------------------------------------------- */

gboolean
smmp_driver_start (SmmpDriver *driver, const char *const *invited, guint n_invited,
                   GError **error)
{
  gboolean ok = smmp_session_start (driver->session, invited, n_invited, error);

  dispatch (driver, ok);
  return ok;
}

gboolean
smmp_driver_receive (SmmpDriver *driver, const char *sender_handle, GBytes *frame)
{
  gboolean changed = smmp_session_receive (driver->session, sender_handle, frame);

  dispatch (driver, changed);
  return changed;
}

gboolean
smmp_driver_receive_archived (SmmpDriver *driver, const char *sender_handle, GBytes *frame)
{
  gboolean changed = smmp_session_receive_archived (driver->session, sender_handle, frame);

  dispatch (driver, changed);
  return changed;
}

void
smmp_driver_catch_up_done (SmmpDriver *driver, gboolean complete)
{
  smmp_session_catch_up_done (driver->session, complete);
  dispatch (driver, TRUE);
}

void
smmp_driver_report_gap (SmmpDriver *driver)
{
  smmp_session_report_gap (driver->session);
  dispatch (driver, FALSE);
}

gboolean
smmp_driver_send (SmmpDriver *driver, const char *text, GError **error)
{
  /* The queue is part of the saved session: a text typed is never lost to
   * a restart. */
  gboolean ok = smmp_session_send (driver->session, text, error);

  dispatch (driver, ok);
  return ok;
}

gboolean
smmp_driver_send_private (SmmpDriver *driver, const char *to_handle, const char *text,
                          GError **error)
{
  gboolean ok = smmp_session_send_private (driver->session, to_handle, text, error);

  dispatch (driver, ok);
  return ok;
}

gboolean
smmp_driver_receive_private (SmmpDriver *driver, const char *sender_handle, GBytes *frame)
{
  gboolean changed = smmp_session_receive_private (driver->session, sender_handle, frame);

  dispatch (driver, changed);
  return changed;
}

gboolean
smmp_driver_key_agreement_open (SmmpDriver *driver)
{
  return driver->ka_timer != 0;
}
