/* smmp-mam.c: XEP-0313 queries of a room's archive, raw, and their results
 * taken out of the stream before libpurple shows them. */
#include "smmp-mam.h"

#include <string.h>

#include <debug.h>
#include <plugin.h>
#include <prpl.h>
#include <signals.h>
#include <util.h>
#include <xmlnode.h>

#define NS_MAM "urn:xmpp:mam:2"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DELAY "urn:xmpp:delay"
#define PAGE_SIZE "50"

struct _SmmpMamQuery {
  PurpleConnection *gc;
  char *room;       /* bare JID, lower case */
  char *query_id;   /* queryid of the current page */
  char *iq_id;
  time_t start;
  guint timeout_ms;
  guint timer;
  SmmpMamMessageFunc on_message;
  SmmpMamDoneFunc on_done;
  gpointer user_data;
};

static GHashTable *queries; /* query_id and iq_id -> SmmpMamQuery*, both keys */
static void *owner;
static guint serial;

static void
query_free (SmmpMamQuery *q)
{
  if (q->timer != 0)
    g_source_remove (q->timer);
  g_free (q->room);
  g_free (q->query_id);
  g_free (q->iq_id);
  g_free (q);
}

static void
forget (SmmpMamQuery *q)
{
  if (queries == NULL)
    return;
  if (q->query_id != NULL)
    g_hash_table_remove (queries, q->query_id);
  if (q->iq_id != NULL)
    g_hash_table_remove (queries, q->iq_id);
}

static void
finish (SmmpMamQuery *q, gboolean ok, gboolean complete)
{
  SmmpMamDoneFunc done = q->on_done;
  gpointer data = q->user_data;

  forget (q);
  query_free (q);
  done (ok, complete, data);
}

static gboolean
on_timeout (gpointer data)
{
  SmmpMamQuery *q = data;

  q->timer = 0;
  purple_debug_warning ("smmp", "archive query of %s timed out\n", q->room);
  finish (q, FALSE, FALSE);
  return G_SOURCE_REMOVE;
}

/* Sends one page of the query, after @after (an archive id) if given. */
static gboolean
send_page (SmmpMamQuery *q, const char *after)
{
  PurplePluginProtocolInfo *info;
  xmlnode *iq, *query, *x, *field, *set;
  char *xml;
  int len = 0;

  info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (q->gc));
  if (info == NULL || info->send_raw == NULL)
    return FALSE;
  forget (q);
  g_free (q->query_id);
  g_free (q->iq_id);
  q->query_id = g_strdup_printf ("smmp-q%u-%08x", ++serial, g_random_int ());
  q->iq_id = g_strdup_printf ("smmp-iq%u-%08x", serial, g_random_int ());
  g_hash_table_insert (queries, q->query_id, q);
  g_hash_table_insert (queries, q->iq_id, q);

  iq = xmlnode_new ("iq");
  xmlnode_set_attrib (iq, "type", "set");
  xmlnode_set_attrib (iq, "id", q->iq_id);
  xmlnode_set_attrib (iq, "to", q->room);
  query = xmlnode_new_child (iq, "query");
  xmlnode_set_namespace (query, NS_MAM);
  xmlnode_set_attrib (query, "queryid", q->query_id);
  x = xmlnode_new_child (query, "x");
  xmlnode_set_namespace (x, "jabber:x:data");
  xmlnode_set_attrib (x, "type", "submit");
  field = xmlnode_new_child (x, "field");
  xmlnode_set_attrib (field, "var", "FORM_TYPE");
  xmlnode_set_attrib (field, "type", "hidden");
  xmlnode_insert_data (xmlnode_new_child (field, "value"), NS_MAM, -1);
  if (q->start > 0)
    {
      g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (q->start);
      g_autofree char *stamp = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");

      field = xmlnode_new_child (x, "field");
      xmlnode_set_attrib (field, "var", "start");
      xmlnode_insert_data (xmlnode_new_child (field, "value"), stamp, -1);
    }
  set = xmlnode_new_child (query, "set");
  xmlnode_set_namespace (set, NS_RSM);
  xmlnode_insert_data (xmlnode_new_child (set, "max"), PAGE_SIZE, -1);
  if (after != NULL)
    xmlnode_insert_data (xmlnode_new_child (set, "after"), after, -1);
  xml = xmlnode_to_str (iq, &len);
  info->send_raw (q->gc, xml, len);
  g_free (xml);
  xmlnode_free (iq);

  if (q->timer != 0)
    g_source_remove (q->timer);
  q->timer = g_timeout_add (q->timeout_ms, on_timeout, q);
  return TRUE;
}

SmmpMamQuery *
smmp_mam_query (PurpleConnection *gc, const char *room_jid, time_t start, guint timeout_ms,
                SmmpMamMessageFunc on_message, SmmpMamDoneFunc on_done, gpointer user_data)
{
  SmmpMamQuery *q;

  g_return_val_if_fail (queries != NULL, NULL);
  q = g_new0 (SmmpMamQuery, 1);
  q->gc = gc;
  q->room = g_utf8_strdown (room_jid, -1);
  q->start = start;
  q->timeout_ms = timeout_ms;
  q->on_message = on_message;
  q->on_done = on_done;
  q->user_data = user_data;
  if (!send_page (q, NULL))
    {
      forget (q);
      query_free (q);
      return NULL;
    }
  return q;
}

void
smmp_mam_cancel (SmmpMamQuery *query)
{
  if (query == NULL)
    return;
  forget (query);
  query_free (query);
}

/* The bare JID of @jid, lower case. */
static char *
bare (const char *jid)
{
  const char *slash = jid != NULL ? strchr (jid, '/') : NULL;
  g_autofree char *b = jid == NULL ? g_strdup ("") : slash != NULL ? g_strndup (jid, (gsize) (slash - jid)) : g_strdup (jid);

  return g_utf8_strdown (b, -1);
}

/* A result of our query: <message from=room><result queryid id>
 * <forwarded><delay stamp/><message from=room/nick><body/>. */
static gboolean
take_result (PurpleConnection *gc, xmlnode *packet)
{
  xmlnode *result = xmlnode_get_child_with_namespace (packet, "result", NS_MAM);
  xmlnode *forwarded, *inner, *body, *delay;
  const char *query_id, *from, *slash, *stamp;
  g_autofree char *from_bare = NULL;
  g_autofree char *text = NULL;
  SmmpMamQuery *q;
  time_t when = 0;

  if (result == NULL || (query_id = xmlnode_get_attrib (result, "queryid")) == NULL
      || (q = g_hash_table_lookup (queries, query_id)) == NULL || q->gc != gc)
    return FALSE;
  /* Only the room itself may answer for its archive (anyone could send a
   * message that looks like a result). */
  from_bare = bare (xmlnode_get_attrib (packet, "from"));
  if (strcmp (from_bare, q->room) != 0)
    return FALSE;
  forwarded = xmlnode_get_child_with_namespace (result, "forwarded", NS_FORWARD);
  inner = forwarded != NULL ? xmlnode_get_child (forwarded, "message") : NULL;
  body = inner != NULL ? xmlnode_get_child (inner, "body") : NULL;
  from = inner != NULL ? xmlnode_get_attrib (inner, "from") : NULL;
  slash = from != NULL ? strchr (from, '/') : NULL;
  if (body == NULL || slash == NULL || slash[1] == '\0')
    return TRUE; /* ours, but nothing to feed: a subject, a bodiless stanza */
  delay = xmlnode_get_child_with_namespace (forwarded, "delay", NS_DELAY);
  stamp = delay != NULL ? xmlnode_get_attrib (delay, "stamp") : NULL;
  if (stamp != NULL)
    when = purple_str_to_time (stamp, TRUE, NULL, NULL, NULL);
  text = xmlnode_get_data_unescaped (body);
  if (text != NULL)
    q->on_message (slash + 1, text, when, q->user_data);
  return TRUE;
}

/* The end of a page: <iq type=result id><fin complete><set><last/>. */
static gboolean
take_iq (PurpleConnection *gc, xmlnode *packet)
{
  const char *id = xmlnode_get_attrib (packet, "id");
  const char *type = xmlnode_get_attrib (packet, "type");
  SmmpMamQuery *q;
  xmlnode *fin, *set, *last;
  gboolean complete;
  g_autofree char *last_id = NULL;

  if (id == NULL || (q = g_hash_table_lookup (queries, id)) == NULL || q->gc != gc
      || g_strcmp0 (id, q->iq_id) != 0)
    return FALSE;
  if (g_strcmp0 (type, "result") != 0)
    {
      purple_debug_warning ("smmp", "archive query of %s refused\n", q->room);
      finish (q, FALSE, FALSE);
      return TRUE;
    }
  fin = xmlnode_get_child_with_namespace (packet, "fin", NS_MAM);
  complete = fin != NULL && (g_strcmp0 (xmlnode_get_attrib (fin, "complete"), "true") == 0
                             || g_strcmp0 (xmlnode_get_attrib (fin, "complete"), "1") == 0);
  set = fin != NULL ? xmlnode_get_child_with_namespace (fin, "set", NS_RSM) : NULL;
  last = set != NULL ? xmlnode_get_child (set, "last") : NULL;
  last_id = last != NULL ? xmlnode_get_data_unescaped (last) : NULL;
  if (fin == NULL)
    finish (q, FALSE, FALSE);
  else if (complete || last_id == NULL)
    finish (q, TRUE, complete);
  else if (!send_page (q, last_id))
    finish (q, FALSE, FALSE);
  return TRUE;
}

static void
on_receiving_xmlnode (PurpleConnection *gc, xmlnode **packet, gpointer data)
{
  const char *name;
  gboolean taken = FALSE;

  if (packet == NULL || *packet == NULL || queries == NULL || g_hash_table_size (queries) == 0)
    return;
  name = (*packet)->name;
  if (g_strcmp0 (name, "message") == 0)
    taken = take_result (gc, *packet);
  else if (g_strcmp0 (name, "iq") == 0)
    taken = take_iq (gc, *packet);
  if (taken)
    {
      /* Ours: libpurple would show archived frames as messages. */
      xmlnode_free (*packet);
      *packet = NULL;
    }
}

void
smmp_mam_init (void *plugin)
{
  PurplePlugin *jabber = purple_plugins_find_with_id ("prpl-jabber");

  owner = plugin;
  queries = g_hash_table_new (g_str_hash, g_str_equal);
  if (jabber != NULL)
    purple_signal_connect (jabber, "jabber-receiving-xmlnode", owner,
                           PURPLE_CALLBACK (on_receiving_xmlnode), NULL);
}

void
smmp_mam_shutdown (void)
{
  GHashTableIter iter;
  gpointer value;
  GPtrArray *all = g_ptr_array_new ();

  if (queries == NULL)
    return;
  g_hash_table_iter_init (&iter, queries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!g_ptr_array_find (all, value, NULL))
      g_ptr_array_add (all, value);
  g_hash_table_destroy (queries);
  queries = NULL;
  for (guint i = 0; i < all->len; i++)
    query_free (g_ptr_array_index (all, i));
  g_ptr_array_free (all, TRUE);
  /* Signals of this owner are disconnected by libpurple on unload. */
}
