/* smmp-plugin.c: the libpurple plugin "core-smmp".  No UI requirement: the
 * same file loads in Pidgin and in Finch.  Everything it does goes through
 * the rooms (smmp-room.h); this file only starts and stops the parts. */
#include <glib.h>
#include <string.h>

#include <debug.h>
#include <plugin.h>
#include <pluginpref.h>
#include <prefs.h>
#include <util.h>
#include <version.h>

#include "smmp-commands.h"
#include "smmp-init.h"
#include "smmp-mam.h"
#include "smmp-room.h"
#include "smmp-signals.h"
#include "smmp-store.h"

#define SMMP_PLUGIN_ID "core-smmp"

static SmmpStore *store;

static void
on_pref_changed (const char *name, PurplePrefType type, gconstpointer value, gpointer data)
{
  smmp_rooms_reconfigure ();
}

static gboolean
plugin_load (PurplePlugin *plugin)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;

  if (!smmp_init (&error))
    {
      purple_debug_error ("smmp", "cannot start: %s\n", error->message);
      return FALSE;
    }
  if (purple_plugins_find_with_id ("prpl-jabber") == NULL)
    {
      purple_debug_error ("smmp", "the XMPP protocol plugin is missing\n");
      return FALSE;
    }
  dir = g_build_filename (purple_user_dir (), "smmp", NULL);
  store = smmp_store_new (dir);
  smmp_rooms_init (store);
  smmp_mam_init (plugin);
  smmp_signals_connect (plugin);
  smmp_commands_register ();
  purple_prefs_connect_callback (plugin, SMMP_PREF_REKEY_MESSAGES, on_pref_changed, NULL);
  purple_prefs_connect_callback (plugin, SMMP_PREF_REKEY_MINUTES, on_pref_changed, NULL);
  purple_prefs_connect_callback (plugin, SMMP_PREF_TIMEOUT_MS, on_pref_changed, NULL);
  smmp_signals_adopt_open_chats ();
  return TRUE;
}

static gboolean
plugin_unload (PurplePlugin *plugin)
{
  smmp_commands_unregister ();
  purple_signals_disconnect_by_handle (plugin);
  purple_prefs_disconnect_by_handle (plugin);
  smmp_mam_shutdown ();
  /* Every change was saved as it happened; this frees the sessions and
   * wipes the keys held in memory. */
  smmp_rooms_shutdown ();
  g_clear_pointer (&store, smmp_store_free);
  return TRUE;
}

static PurplePluginPrefFrame *
get_pref_frame (PurplePlugin *plugin)
{
  PurplePluginPrefFrame *frame = purple_plugin_pref_frame_new ();
  PurplePluginPref *pref;

  purple_plugin_pref_frame_add (
    frame, purple_plugin_pref_new_with_name_and_label (
             SMMP_PREF_AUTO_ACCEPT, "Join encrypted sessions I am invited to without asking"));
  purple_plugin_pref_frame_add (
    frame, purple_plugin_pref_new_with_name_and_label (
             SMMP_PREF_LOG_DECRYPTED, "Write decrypted messages to the conversation log"));
  pref = purple_plugin_pref_new_with_name_and_label (
    SMMP_PREF_REKEY_MESSAGES, "New keys after this many messages (0: never)");
  purple_plugin_pref_set_bounds (pref, 0, 1000000);
  purple_plugin_pref_frame_add (frame, pref);
  pref = purple_plugin_pref_new_with_name_and_label (
    SMMP_PREF_REKEY_MINUTES, "New keys after this many minutes (0: never)");
  purple_plugin_pref_set_bounds (pref, 0, 525600);
  purple_plugin_pref_frame_add (frame, pref);
  return frame;
}

static PurplePluginUiInfo prefs_info = {
  .get_plugin_pref_frame = get_pref_frame,
};

static PurplePluginInfo info = {
  .magic = PURPLE_PLUGIN_MAGIC,
  .major_version = PURPLE_MAJOR_VERSION,
  .minor_version = PURPLE_MINOR_VERSION,
  .type = PURPLE_PLUGIN_STANDARD,
  .ui_requirement = NULL,
  .flags = 0,
  .dependencies = NULL,
  .priority = PURPLE_PRIORITY_DEFAULT,
  .id = SMMP_PLUGIN_ID,
  .name = "SMMP group encryption",
  .version = "0.1.0",
  .summary = "End-to-end encryption for XMPP chat rooms",
  .description = "Turns an XMPP multi-user chat room into an end-to-end encrypted group "
                 "conversation (SMMP: authenticated Burmester-Desmedt key agreement, a "
                 "ratchet per message). The room's server relays only armoured frames. "
                 "Type /smmp help in a room.",
  .author = "SMMP project",
  .homepage = "",
  .load = plugin_load,
  .unload = plugin_unload,
  .prefs_info = &prefs_info,
};

static void
init_plugin (PurplePlugin *plugin)
{
  purple_prefs_add_none (SMMP_PREFS_ROOT);
  purple_prefs_add_bool (SMMP_PREF_AUTO_ACCEPT, TRUE);
  purple_prefs_add_bool (SMMP_PREF_LOG_DECRYPTED, FALSE);
  purple_prefs_add_int (SMMP_PREF_REKEY_MESSAGES, 1000);
  purple_prefs_add_int (SMMP_PREF_REKEY_MINUTES, 24 * 60);
  purple_prefs_add_int (SMMP_PREF_TIMEOUT_MS, 0);
}

PURPLE_INIT_PLUGIN (smmp, init_plugin, info)
