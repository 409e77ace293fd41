// The loopback transport: in-process, for tests and the example configuration.
//
// Inbound: every `*.xml` file that appears in `inbound_dir` is read as an ITK document and handed
// to the router; the file is removed once the router has durably accepted it (so a file that is
// gone has been acknowledged), moved to `rejected/` with a `.reason` file when refused, and left
// for the next scan when the router is busy. Writers create `name.tmp` and rename it to
// `name.xml`, so a half-written file is never read.
//
// Outbound: an endpoint is configured to deliver (optionally writing each message to
// `deliver_dir`), to fail retryably or permanently, or to fail its first N attempts.
#pragma once

#include <memory>

#include "itk/transport.h"

namespace itk {

std::unique_ptr<TransportFactory> makeLoopbackTransportFactory();

}  // namespace itk
