/* smmp-store.h: what the plugin keeps on disk, under one base directory
 * (purple_user_dir()/smmp in the plugin):
 *
 *   <base>/<account>/identity.json     the account's identity key pair
 *   <base>/<account>/trust.json        identity keys seen, and their trust
 *   <base>/<account>/rooms/<room>.json a room's saved session
 *
 * Directories are made 0700 and files written 0600 by atomic replace.
 * Texts holding secrets are wiped (sodium_memzero) before they are freed.
 * No libpurple here: account and room are names (escaped into file names),
 * so the store is tested on its own.
 *
 * Ownership: an SmmpStore owns its base path; every returned string and
 * identity belongs to the caller.
 */
#ifndef SMMP_STORE_H
#define SMMP_STORE_H

#include <glib.h>

#include "smmp-identity.h"

G_BEGIN_DECLS

typedef struct _SmmpStore SmmpStore;

typedef enum {
  SMMP_TRUST_NONE = 0,     /* never seen */
  SMMP_TRUST_TOFU,         /* seen first, accepted on first use, not verified */
  SMMP_TRUST_VERIFIED,     /* the user compared the fingerprint */
  SMMP_TRUST_DISTRUSTED,   /* the user said no */
  SMMP_TRUST_CHANGED,      /* a key other than the one seen before: a warning
                            * until the user trusts or distrusts it */
} SmmpTrust;

/* "unverified-tofu", "verified", ... */
const char *smmp_trust_name (SmmpTrust trust);

SmmpStore *smmp_store_new (const char *base_dir);
void smmp_store_free (SmmpStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmmpStore, smmp_store_free)

/* The account's identity, made and saved on first use.  NULL with @error
 * when the file exists but cannot be read or written (it is never
 * replaced silently: peers trust the old key). */
SmmpIdentity *smmp_store_load_identity (SmmpStore *store, const char *account,
                                        GError **error);

/* Checks the key of @peer (a real bare JID "jid:...", or "nick:room/nick"
 * when the room hides it) against what was seen before, and records it:
 * a first sighting becomes TOFU; a different key becomes CHANGED, keeping
 * the one seen before in @old_fingerprint (optional; g_free) so that the
 * warning can show both.  Returns the trust now on record. */
SmmpTrust smmp_store_check_peer (SmmpStore *store, const char *account, const char *peer,
                                 const guint8 key[SMMP_PUBLIC_KEY_BYTES],
                                 char **old_fingerprint);

/* What is on record for @peer, and its fingerprint (optional; g_free). */
SmmpTrust smmp_store_get_peer (SmmpStore *store, const char *account, const char *peer,
                               char **fingerprint);

/* The user's decision about @peer's @key: VERIFIED or DISTRUSTED. */
gboolean smmp_store_set_peer (SmmpStore *store, const char *account, const char *peer,
                              const guint8 key[SMMP_PUBLIC_KEY_BYTES], SmmpTrust trust,
                              GError **error);

/* A room's saved session; @json holds secrets (the caller wipes it). */
gboolean smmp_store_save_session (SmmpStore *store, const char *account, const char *room,
                                  const char *json, GError **error);
/* NULL when none was saved.  Wipe with sodium_memzero() before g_free(). */
char *smmp_store_load_session (SmmpStore *store, const char *account, const char *room);
/* Deletes the session and its notes. */
void smmp_store_delete_session (SmmpStore *store, const char *account, const char *room);

/* Notes kept beside a saved session, without secrets: the handle the
 * session knows us by (a restore needs it, whatever our nickname is now),
 * when the session came up (real time, microseconds; 0 unknown) and
 * whether a member removed us from it while we were present. */
gboolean smmp_store_save_notes (SmmpStore *store, const char *account, const char *room,
                                const char *self_handle, gint64 up_since, gboolean removed,
                                GError **error);
/* FALSE when there are none.  @saved_at: when the session file was last
 * written (unix seconds), for the archive query after a restart. */
gboolean smmp_store_load_notes (SmmpStore *store, const char *account, const char *room,
                                char **self_handle, gint64 *up_since, gboolean *removed,
                                gint64 *saved_at);

/* Writes @contents to @path, 0600, by atomic replace. */
gboolean smmp_store_write_file (const char *path, const char *contents, gsize len,
                                GError **error);

G_END_DECLS

#endif /* SMMP_STORE_H */
