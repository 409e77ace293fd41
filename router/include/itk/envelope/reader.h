// One SAX pass over a message body that is a bare Distribution Envelope, a SOAP 1.1 envelope
// holding one (or a SimpleMessageResponse or a fault), or a bare ITK acknowledgement payload.
// Transports call this on every inbound body; `itk-router validate` calls it on files.
#pragma once

#include <optional>
#include <string_view>

#include "itk/envelope/distribution_envelope.h"
#include "itk/envelope/soap.h"
#include "itk/status.h"
#include "itk/xml/sax.h"

namespace itk::itk2 {

struct ReadOptions {
  xml::Limits xml;
  // The most entries one DE list may have (addresses, audit identities, manifest items, handling
  // specifications, payloads): a router has no use for more, and each costs memory.
  size_t max_list_entries = 1000;
};

enum class DocumentRoot : uint8_t {
  kDistributionEnvelope,    // itk:DistributionEnvelope
  kSoapEnvelope,            // Envelope in any namespace (SOAP 1.2 is a VersionMismatch)
  kInfrastructureResponse,  // a bare itk:InfrastructureResponse (an infack payload)
  kBusinessResponse,        // a bare hl7:BusinessResponseMessage (a busack payload)
};

struct ItkDocument {
  DocumentRoot root = DocumentRoot::kDistributionEnvelope;
  SoapEnvelope soap;                       // root == kSoapEnvelope
  std::optional<DistributionEnvelope> de;  // a bare DE, or the one in the SOAP Body
  // A bare acknowledgement payload (root kInfrastructureResponse / kBusinessResponse). An ack
  // inside a DE is in de->infrastructure_response / de->business_response.
  std::optional<InfrastructureResponse> infrastructure_response;
  std::optional<BusinessResponse> business_response;
};

// Reads `input` in place (it must outlive the call; the result keeps byte ranges into it, not
// pointers). Fails with toolkit code 1000 when the bytes are not well-formed UTF-8 XML within
// the limits (DE0001), when the root is none of the above (DE0001), and when the DE breaks its
// schema: an unknown, repeated or misplaced element, a missing or blank attribute, an attribute
// of the wrong type, non-whitespace text in the header (rule 10, with the DE code of the part).
// A SOAP 1.2 envelope is read (envelope_namespace says so) and nothing more.
Result<ItkDocument> readItkDocument(std::string_view input, const ReadOptions& options = {});

// For transports that carry bare DEs (DTS, MESH, loopback): reads `input`, which must be an
// itk:DistributionEnvelope (else 1000/DE0001), and returns checkDistributionEnvelope()'s header.
Result<MessageHeader> readDistributionEnvelope(std::string_view input,
                                               const ReadOptions& options = {});

}  // namespace itk::itk2
