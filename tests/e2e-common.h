/* e2e-common.h: smmp.so inside libpurple against a private Prosody on
 * loopback, shared by tests/test-plugin-e2e.c and tests/smmp-demo.c.
 *
 * One process holds several headless libpurple accounts (E2eClient); what
 * each account's conversation window is asked to draw is recorded, line by
 * line, as "who|flags|message" (flags in hex, message as HTML).
 */
#pragma once

#include <glib.h>

#include <account.h>
#include <cmds.h>
#include <conversation.h>

#define E2E_ROOM "room@conference.localhost"

typedef struct {
  const char *nick;
  PurpleAccount *account;
  GPtrArray *lines; /* of char*: "who|flags|message" as the UI was asked to draw */
  gboolean signed_on;
} E2eClient;

typedef gboolean (*E2eCondition) (gpointer data);

/* A private temporary directory (also XDG_RUNTIME_DIR) for @n_clients
 * clients, which must outlive everything here.  Returns the directory. */
const char *e2e_init (E2eClient *clients, guint n_clients, const char *tmp_template);

/* Prosody on a free loopback port, with an account (password "pw") for
 * every client; stopped by e2e_stop_prosody() or when this process dies. */
gboolean e2e_start_prosody (GError **error);
void e2e_stop_prosody (void);
int e2e_prosody_pid (void);
int e2e_port (void);
/* The directory of the room logs Prosody writes (muc_log). */
char *e2e_muc_log_dir (void);

/* libpurple with its user dir in the temp dir and @plugin_dir searched
 * for plugins (probed, not loaded). */
gboolean e2e_start_libpurple (const char *ui_id, const char *plugin_dir);
/* An XMPP account for @c on the private server, enabled and available. */
void e2e_create_account (E2eClient *c);
/* Quits libpurple, stops Prosody, removes the temp dir unless
 * SMMP_E2E_KEEP is set. */
void e2e_cleanup (void);

gboolean e2e_wait_for (E2eCondition cond, gpointer data, guint ms);
gboolean e2e_signed_on (gpointer client);

PurpleConversation *e2e_conv_of (E2eClient *c);
void e2e_join (E2eClient *c);
void e2e_leave (E2eClient *c);
/* Does @c's room show itself under its nick and exactly those of
 * @present (NULL-terminated) among the clients? */
gboolean e2e_room_shows (E2eClient *c, const char *const *present);

guint e2e_count_lines (E2eClient *c, const char *who, const char *text, guint flags_set);
/* Waits until @c's window shows a line from @who (NULL: anyone) holding
 * @text with @flags_set among its flags. */
gboolean e2e_wait_line (E2eClient *c, const char *who, const char *text, guint flags_set,
                        guint ms);
PurpleCmdStatus e2e_command (E2eClient *c, const char *line);
void e2e_say (E2eClient *c, const char *text);
