/* smmp.h: the SMMP core, one include for everything public. */
#ifndef SMMP_H
#define SMMP_H

#include "smmp-armour.h"
#include "smmp-bd.h"
#include "smmp-error.h"
#include "smmp-event.h"
#include "smmp-frame.h"
#include "smmp-identity.h"
#include "smmp-init.h"
#include "smmp-ka.h"
#include "smmp-kdf.h"
#include "smmp-pair.h"
#include "smmp-ratchet.h"
#include "smmp-session.h"
#include "smmp-state.h"

#endif /* SMMP_H */
