// The operators' part of the admin API: dead letters and a message's history over HTTP, for the
// people (and scripts) running the hub without shell access to its store.
//
//   GET  /admin/dead-letters[?route=R&after=ID&limit=N]   viewer    the dead letters, oldest first
//   POST /admin/dead-letters/replay/ID                    operator  one dead letter back to pending
//   POST /admin/dead-letters/replay/all[?route=R]         operator  every dead letter (of route R)
//   GET  /admin/messages/TRACKING_ID                      viewer    deliveries and IG audit trail
//
// Answers are JSON. A replay is audited with the token's name as actor and wakes the delivery
// engine at once. The same operations exist on the command line (itk-router dead-letters, audit).
#pragma once

#include <functional>

#include "itk/clock.h"
#include "itk/store.h"
#include "server/admin.h"

namespace itk {

// `wake` is called after a replay (the delivery engine's notify()).
void addOperationsApi(AdminService& admin, Store& store, const Clock& clock,
                      std::function<void()> wake);

}  // namespace itk
