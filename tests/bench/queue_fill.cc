// itk_queue_fill: writes a router store holding a long queue (the end-to-end benchmark's
// 1,000,000-message backlog, tests/bench/e2e.py). Each queued message is a real ITK2 DE
// (tests/bench/itk_message.h) with its own tracking id, pending on route gp-to-trust to endpoint
// trust-soap (queue_fill.h); 256 are left in flight, as if the router had been killed mid-send.
//
// usage: itk_queue_fill --store PATH [--count N] [--body-bytes B] [--in-flight K]
#include <cstdio>
#include <iostream>
#include <random>
#include <string>

#include "itk/log.h"
#include "itk_message.h"
#include "queue_fill.h"

int main(int argc, char** argv) {
  std::string path;
  size_t count = 1000000, body_bytes = 2000, in_flight = 256;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--store") {
      path = v;
    } else if (a == "--count") {
      count = std::stoul(v);
    } else if (a == "--body-bytes") {
      body_bytes = std::stoul(v);
    } else if (a == "--in-flight") {
      in_flight = std::stoul(v);
    } else {
      path.clear();
      break;
    }
  }
  if (path.empty()) {
    std::cerr << "usage: itk_queue_fill --store PATH [--count N] [--body-bytes B] "
                 "[--in-flight K]\n";
    return 2;
  }
  itk::log::configure(itk::log::Format::kText, itk::log::Level::kError);
  namespace b = itk::bench;
  // The DE alone (what the store keeps) is the SOAP request minus its envelope.
  auto deOf = [](const std::string& soap) {
    size_t start = soap.find("<itk:DistributionEnvelope");
    size_t end = soap.find("</itk:DistributionEnvelope>");
    return soap.substr(start, end + 27 - start);
  };
  const b::ItkMessage unpadded(0, "http://sink/itk");
  const size_t envelope = unpadded.size() - deOf(unpadded.head() + unpadded.tail()).size();
  const b::ItkMessage message(body_bytes + envelope, "http://sink/itk");
  std::random_device rd;
  const uint64_t prefix = (uint64_t{rd()} << 32) | rd();
  auto make = [&](size_t i, itk::TimePoint now) {
    std::string head = message.head();
    message.fill(head, prefix, i, std::chrono::system_clock::to_time_t(now));
    std::string de = deOf(head + message.tail());
    size_t at = de.find("trackingid=\"") + 12;
    std::string tracking_id = de.substr(at, 36);
    itk::AcceptRequest r =
        b::queuedRequest(tracking_id, std::make_shared<const std::string>(std::move(de)), now);
    r.message.header.service = std::string(b::kService);
    r.message.header.interaction =
        "urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0";
    r.message.header.addresses = {std::string(b::kRecipient)};
    r.message.header.sender_address = std::string(b::kSender);
    r.message.header.infack_requested = false;
    r.deliveries[0].address = r.message.header.addresses[0];
    return r;
  };
  std::fprintf(stderr, "queue_fill: %zu messages, DE bodies of %zu bytes, %zu left in flight\n",
               count, deOf(message.head() + message.tail()).size(), in_flight);
  itk::Status s = b::fillQueue(path, count, make, in_flight);
  if (!s.ok()) {
    std::cerr << "queue_fill: " << s.toString() << "\n";
    return 1;
  }
  return 0;
}
