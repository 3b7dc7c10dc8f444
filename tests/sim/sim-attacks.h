/* sim-attacks.h: hostile rooms and hostile insiders for the simulated room.
 *
 * Each attack installs a post hook on a SimRoom (see sim-room.h) before the
 * run, and marks any attacking member as such so that it is not counted
 * among the honest.  The attacker uses only what such an attacker has: the
 * room sees and rewrites frames; an insider also holds its own keys.
 */
#ifndef SIM_ATTACKS_H
#define SIM_ATTACKS_H

#include "sim-room.h"

G_BEGIN_DECLS

typedef enum {
  SIM_ATTACK_NONE,
  SIM_ATTACK_EQUIVOCATE,  /* insider sends one K to some members, another K to the rest */
  SIM_ATTACK_MITM,        /* room swaps a member's signing key and H for its own */
  SIM_ATTACK_REPLAY,      /* room replays a whole earlier session */
  SIM_ATTACK_IMPERSONATE, /* insider answers with someone else's identity key */
  SIM_ATTACK_BAD_H,       /* insider sends H = p - 1 */
  SIM_ATTACK_BAD_K,       /* insider sends K = p */
  SIM_ATTACK_STALE_SIG,   /* room swaps H in a member's AUTH frame, signature left as it was */
  SIM_ATTACK_JUNK,        /* room adds truncated and oversized frames: must be harmless */
  /* In the conversation: */
  SIM_ATTACK_FORGE,       /* insider seals a message and claims another member sent it */
  SIM_ATTACK_REPLAY_DATA, /* room posts earlier message frames again */
  SIM_ATTACK_TAMPER,      /* room alters message frames (the sender resends) */
  SIM_ATTACK_OUTSIDER,    /* someone outside the session posts frames into it */
} SimAttack;

/* Parses "equivocate", "mitm", ...; SIM_ATTACK_NONE for NULL. FALSE if unknown. */
gboolean sim_attack_parse (const char *name, SimAttack *out);
const char *sim_attack_name (SimAttack attack);

/* Runs a key agreement in @room with member 0 inviting all the others,
 * under @attack.  The attacking member (for insider attacks) or the victim
 * (for room attacks) is member @target (not 0).  For SIM_ATTACK_REPLAY an
 * honest session runs first and the room then replays it to everyone. */
void sim_attack_run (SimRoom *room, SimAttack attack, guint target);

/* TRUE for the attacks on the conversation rather than the key agreement. */
gboolean sim_attack_on_conversation (SimAttack attack);

/* Runs a key agreement, then @messages messages from the honest members in
 * turn under a conversation @attack by or against member @target.  TRUE
 * iff the attack was seen (frames refused with the right reason) and no
 * honest member showed a forged, tampered or replayed message. */
gboolean sim_attack_conversation (SimRoom *room, SimAttack attack, guint target,
                                  guint messages, GPtrArray *submitted);

/* TRUE iff the attack is one that must make the session fail. */
gboolean sim_attack_must_fail (SimAttack attack);

G_END_DECLS

#endif /* SIM_ATTACKS_H */
