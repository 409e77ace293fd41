// Operator commands on the store, for the itk-router binary (and later the admin API):
//
//   itk-router messages show ID --store PATH
//       ID is a tracking id, or a transport's id (wsa:MessageID, MESH message id, or an id the
//       next hop gave a delivery). Prints each matching message's header fields, its deliveries
//       (state, attempts, last error), its acknowledgements and its audit trail.
//   itk-router audit ID --store PATH
//       The IG audit trail of a message: every state change (accepted, attempts, delivered, dead
//       letter, acknowledgements, replays, ...) with when, who (the sender's address, audit
//       identity, transport identity; the actor of operator actions) and where it went, oldest
//       first, one tab-separated line per event. ID as for `messages show`. Never payload
//       content. Audit events outlive bodies (store.retention.audit).
//   itk-router dead-letters list [--route R] [--after ID] [--limit N] --store PATH
//   itk-router dead-letters replay DELIVERY_ID|--all [--route R] --store PATH
//       Puts dead letters back to pending with attempts reset and a fresh deadline; a running
//       router picks them up within its engine's idle poll (one second by default).
//
// `args` are the words after the command name ("show", "T-1", "--store", "var/x.db"). The store
// is opened in tool mode (StoreConfig::Mode::kTool): an existing SQLite store, no lock, no
// recovery, so a router may be running on it (WAL; writes wait up to the busy timeout).
// Output goes to `out`, problems to `err`. Returns 0 on success, 1 when something was not found
// or failed, 2 for a usage error.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "itk/clock.h"

namespace itk {

int runMessagesCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runAuditCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runDeadLettersCommand(const std::vector<std::string>& args, std::ostream& out,
                          std::ostream& err);

// The same with the time replays are stamped with (tests pass a ManualClock).
int runDeadLettersCommand(const std::vector<std::string>& args, std::ostream& out,
                          std::ostream& err, const Clock& clock);

}  // namespace itk
