// The DTS transport: ITK2 over the DTS client's file pairs (spec/itk2.md §6).
//
// router.yaml:
//   transports:
//     dts:
//       root: /var/spool/dts        # the DTS client's folder with OUT, IN and SENT
//                                   # (default <data_dir>/dts; created when missing)
//       temp: /var/spool/dts/TEMP   # where pairs are written before the move into OUT; on the
//                                   # same filesystem as root (default <root>/TEMP)
//       archive: /var/spool/dts/ITK # our housekeeping folders: processed/, rejected/ (IN),
//                                   # done/, error/ (SENT); same filesystem (default <root>/ITK)
//       mailboxes: [X26HUB01DTS]    # ours: endpoints send from them, IN is read for them
//       prefix: X26HUB01DTSITK      # our file prefix, [A-Za-z0-9_-] (§6.2: ${siteid}${APP});
//                                   # default ITK
//       workflows: [TOC_DISCH_DMS]  # optional IN filter; empty: every workflow
//       poll_interval: 5s           # IN and SENT (default 5s)
//       max_message_bytes: 104857600  # larger .dat files are rejected (kept in rejected/)
//
// Routing-table endpoint:
//   - name: rw1-dts
//     transport: dts
//     mailbox: X26HUB01DTS   # ours (From_DTS), one of transports.dts.mailboxes
//     to: RW1DTS001          # the recipient (To_DTS)
//     workflow: TOC_DISCH_DMS  # WorkflowId
//     subject: ...           # optional Subject (default the DE service)
//
// Outbound (§6.2, §6.3): send() writes <prefix><LocalId>.dat (the DE bytes, verbatim) and then
// <prefix><LocalId>.ctl (MessageType Data, LocalId = the DE tracking id when it is a safe file
// token, else an id derived from the delivery) into temp, fsyncs them, renames them into OUT
// (.dat first, so the DTS client never sees a .ctl without its data) and fsyncs OUT. Then the
// DTS client has the message: the send is kDelivered with remote_id = the pair's file name
// (<prefix><LocalId>, with _<delivery>_<attempt> when a pair of that name exists already, as when
// one message goes to two DTS endpoints), which reports about it name. Failing to write
// is kRetryable. The DTS client later moves the pair to SENT with a StatusRecord (Event TRANSFER);
// the poller reads our pairs there (our prefix, From_DTS ours): Status ERROR becomes a
// DeliveryFailureReport (InboundSink::reportDeliveryFailure) and the pair goes to archive/error/
// once the router has taken it; SUCCESS is logged and the pair goes to archive/done/. A
// MessageType Report in IN (Event SEND) is handled the same way.
//
// Inbound: IN is polled for complete pairs (a .ctl whose .dat exists; the client writes the .ctl
// last). Pairs whose To_DTS is not one of our mailboxes, or whose WorkflowId is filtered out, are
// left alone: other applications share the folder. A Data pair's .dat is read with the
// TransportContext decoder (the DE is the data file, §6.3) and handed to the router; the pair
// leaves IN (for archive/processed/) only once the router answered kAccepted or kDuplicate, and
// stays for the next poll when it is busy. A pair that cannot be read (control file, DE) or that
// the router refuses goes to archive/rejected/ with a .reason file: nothing is deleted.
//
// Threading: all folder work runs on one strand; send() may be called from any thread and its
// callback never runs inline.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "itk/transport.h"

namespace itk::dts {

struct TransportConfig {
  std::string root;     // empty: <data_dir>/dts
  std::string temp;     // empty: <root>/TEMP
  std::string archive;  // empty: <root>/ITK
  std::vector<std::string> mailboxes;
  std::string prefix = "ITK";
  std::vector<std::string> workflows;
  std::chrono::milliseconds poll_interval{5000};
  size_t max_message_bytes = size_t{100} << 20;

  bool ownsMailbox(std::string_view id) const;
};

// Parses transports.dts (a null node gives the defaults, which have no mailbox: an error).
Result<TransportConfig> parseTransportConfig(const YAML::Node& node);

struct Endpoint final : EndpointConfig {
  std::string mailbox;   // From_DTS
  std::string to;        // To_DTS
  std::string workflow;  // WorkflowId
  std::string subject;
};
// Parses a routing-table endpoint; `mailbox`, `to` and `workflow` are required and checked.
Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(const YAML::Node& node);

std::unique_ptr<TransportFactory> makeDtsTransportFactory();

}  // namespace itk::dts
