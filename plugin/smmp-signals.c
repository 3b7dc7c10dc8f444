/* smmp-signals.c: libpurple's signals, routed to the rooms they concern. */
#include "smmp-signals.h"

#include <string.h>

#include <connection.h>
#include <conversation.h>
#include <debug.h>
#include <prpl.h>
#include <signals.h>
#include <xmlnode.h>

#include "smmp-armour.h"
#include "smmp-room.h"

static gboolean
is_jabber (PurpleAccount *account)
{
  return account != NULL
         && g_strcmp0 (purple_account_get_protocol_id (account), "prpl-jabber") == 0;
}

static void
on_sending_chat_msg (PurpleAccount *account, char **message, int id, gpointer data)
{
  PurpleConnection *gc = purple_account_get_connection (account);
  PurpleConversation *conv;
  SmmpRoom *room;

  if (!is_jabber (account) || gc == NULL || message == NULL || *message == NULL)
    return;
  conv = purple_find_chat (gc, id);
  room = smmp_room_get (conv, FALSE);
  if (room != NULL && smmp_room_outgoing (room, *message))
    {
      /* Nothing leaves in clear: the session sends the text as a frame. */
      g_free (*message);
      *message = NULL;
    }
}

static gboolean
on_receiving_chat_msg (PurpleAccount *account, char **sender, char **message,
                       PurpleConversation *conv, PurpleMessageFlags *flags, gpointer data)
{
  SmmpRoom *room;
  char *rewrite = NULL;

  if (!is_jabber (account) || message == NULL || *message == NULL || conv == NULL)
    return FALSE;
  room = smmp_room_get (conv, strstr (*message, SMMP_ARMOUR_TAG) != NULL);
  if (room == NULL)
    return FALSE;
  if (smmp_room_incoming (room, sender != NULL ? *sender : NULL, *message,
                          flags != NULL && (*flags & PURPLE_MESSAGE_DELAYED) != 0, &rewrite))
    return TRUE; /* a frame: never shown, never logged */
  if (rewrite != NULL)
    {
      g_free (*message);
      *message = rewrite;
    }
  return FALSE;
}

static gboolean
on_receiving_im_msg (PurpleAccount *account, char **sender, char **message,
                     PurpleConversation *conv, PurpleMessageFlags *flags, gpointer data)
{
  const char *slash;
  g_autofree char *room_jid = NULL;
  SmmpRoom *room;

  if (!is_jabber (account) || sender == NULL || *sender == NULL || message == NULL
      || *message == NULL || strstr (*message, SMMP_ARMOUR_TAG) == NULL)
    return FALSE;
  /* One-on-one frames come as private messages from room@server/nick. */
  slash = strchr (*sender, '/');
  if (slash == NULL || slash[1] == '\0')
    return FALSE;
  room_jid = g_strndup (*sender, (gsize) (slash - *sender));
  room = smmp_room_find (account, room_jid);
  if (room == NULL)
    {
      purple_debug_info ("smmp", "an encrypted private message from %s outside any room "
                                 "was dropped\n", *sender);
      return TRUE;
    }
  return smmp_room_incoming_private (room, slash + 1, *message);
}

static void
on_chat_joined (PurpleConversation *conv, gpointer data)
{
  SmmpRoom *room = smmp_room_get (conv, TRUE);

  if (room != NULL)
    smmp_room_joined (room, conv);
}

static void
on_chat_left (PurpleConversation *conv, gpointer data)
{
  SmmpRoom *room = smmp_room_get (conv, FALSE);

  if (room != NULL)
    smmp_room_left (room);
}

static void
on_deleting_conversation (PurpleConversation *conv, gpointer data)
{
  SmmpRoom *room = smmp_room_get (conv, FALSE);

  if (room != NULL && smmp_room_get_conversation (room) == conv)
    smmp_room_conversation_gone (room);
}

static void
on_chat_buddy_joined (PurpleConversation *conv, const char *name, PurpleConvChatBuddyFlags flags,
                      gboolean new_arrival, gpointer data)
{
  SmmpRoom *room = smmp_room_get (conv, FALSE);

  /* Occupants listed when we join are not arrivals. */
  if (room != NULL && new_arrival && name != NULL)
    smmp_room_occupant_joined (room, name);
}

static void
on_chat_buddy_left (PurpleConversation *conv, const char *name, const char *reason,
                    gpointer data)
{
  SmmpRoom *room = smmp_room_get (conv, FALSE);

  if (room != NULL && name != NULL)
    smmp_room_occupant_left (room, name);
}

#define MUC_USER_NS "http://jabber.org/protocol/muc#user"

static gboolean
has_status (xmlnode *x, const char *code)
{
  for (xmlnode *s = xmlnode_get_child (x, "status"); s != NULL; s = xmlnode_get_next_twin (s))
    if (g_strcmp0 (xmlnode_get_attrib (s, "code"), code) == 0)
      return TRUE;
  return FALSE;
}

/* libpurple 2 has no signal for an occupant who changes nickname (it only
 * writes a line), so the presence that announces it is read here, before
 * libpurple handles it: XEP-0045 7.6, "unavailable" from the old nickname
 * with status 303 and the new one in <item nick=.../>.  Our own change
 * comes the same way.  Never consumed. */
static gboolean
on_jabber_presence (PurpleConnection *gc, const char *type, const char *from,
                    xmlnode *presence, gpointer data)
{
  xmlnode *x, *item;
  const char *slash, *new_nick;
  g_autofree char *room_jid = NULL;
  SmmpRoom *room;

  if (g_strcmp0 (type, "unavailable") != 0 || from == NULL || presence == NULL
      || (slash = strchr (from, '/')) == NULL
      || (x = xmlnode_get_child_with_namespace (presence, "x", MUC_USER_NS)) == NULL
      || !has_status (x, "303") || (item = xmlnode_get_child (x, "item")) == NULL
      || (new_nick = xmlnode_get_attrib (item, "nick")) == NULL || new_nick[0] == '\0')
    return FALSE;
  room_jid = g_strndup (from, (gsize) (slash - from));
  room = smmp_room_find (purple_connection_get_account (gc), room_jid);
  if (room != NULL)
    smmp_room_occupant_renamed (room, slash + 1, new_nick);
  return FALSE;
}

static void
on_signed_off (PurpleConnection *gc, gpointer data)
{
  smmp_rooms_account_gone (purple_connection_get_account (gc));
}

void
smmp_signals_connect (void *plugin)
{
  void *convs = purple_conversations_get_handle ();
  PurplePlugin *jabber = purple_find_prpl ("prpl-jabber");

  purple_signal_connect (convs, "sending-chat-msg", plugin,
                         PURPLE_CALLBACK (on_sending_chat_msg), NULL);
  purple_signal_connect (convs, "receiving-chat-msg", plugin,
                         PURPLE_CALLBACK (on_receiving_chat_msg), NULL);
  purple_signal_connect (convs, "receiving-im-msg", plugin,
                         PURPLE_CALLBACK (on_receiving_im_msg), NULL);
  purple_signal_connect (convs, "chat-joined", plugin, PURPLE_CALLBACK (on_chat_joined), NULL);
  purple_signal_connect (convs, "chat-left", plugin, PURPLE_CALLBACK (on_chat_left), NULL);
  purple_signal_connect (convs, "deleting-conversation", plugin,
                         PURPLE_CALLBACK (on_deleting_conversation), NULL);
  purple_signal_connect (convs, "chat-buddy-joined", plugin,
                         PURPLE_CALLBACK (on_chat_buddy_joined), NULL);
  purple_signal_connect (convs, "chat-buddy-left", plugin,
                         PURPLE_CALLBACK (on_chat_buddy_left), NULL);
  if (jabber != NULL)
    purple_signal_connect (jabber, "jabber-receiving-presence", plugin,
                           PURPLE_CALLBACK (on_jabber_presence), NULL);
  purple_signal_connect (purple_connections_get_handle (), "signed-off", plugin,
                         PURPLE_CALLBACK (on_signed_off), NULL);
}

void
smmp_signals_adopt_open_chats (void)
{
  for (GList *l = purple_get_chats (); l != NULL; l = l->next)
    {
      PurpleConversation *conv = l->data;
      SmmpRoom *room;

      if (purple_conv_chat_has_left (PURPLE_CONV_CHAT (conv)))
        continue;
      room = smmp_room_get (conv, TRUE);
      if (room != NULL)
        smmp_room_joined (room, conv);
    }
}
