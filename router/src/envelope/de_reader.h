// Reads an itk:DistributionEnvelope subtree and enforces its schema (spec/itk2.md §1.2, rule 10
// of §1.3) as it goes: element order and cardinality, required and blank attributes, attribute
// types, no text in the header. Payload content is not interpreted, only delimited (and an
// acknowledgement payload handed to its reader).
#pragma once

#include <array>

#include "ack_reader.h"
#include "itk/envelope/vocabulary.h"
#include "sub_reader.h"

namespace itk::itk2::internal {

class DeReader final : public SubReader {
 public:
  // `scope` gives the namespace declarations inherited from enclosing SOAP elements.
  void begin(DistributionEnvelope* out, size_t max_list_entries, NamespaceScope* scope);
  Status start(const xml::StartTag& tag, size_t depth) override;
  Status end(const xml::EndTag& tag, size_t depth) override;
  Status text(std::u16string_view text) override;

 private:
  // The header's children, in their xs:sequence order.
  enum class HeaderPart : int8_t {
    kNone = -1,
    kAddressList,
    kAuditIdentity,
    kManifest,
    kSenderAddress,
    kHandlingSpecification,
  };

  Status startEnvelope(const xml::StartTag& tag);
  Status startSection(const xml::StartTag& tag);
  Status startHeader(const xml::StartTag& tag);
  Status startPayloads(const xml::StartTag& tag);
  Status startHeaderPart(const xml::StartTag& tag);
  Status startPayload(const xml::StartTag& tag);
  Status startEntry(const xml::StartTag& tag);
  Status startPayloadContent(const xml::StartTag& tag, size_t depth);
  Status endSection(const xml::EndTag& tag, size_t depth);
  Status countEntry(DeError code, std::string_view list);
  Status unexpected(const xml::StartTag& tag, DeError code, std::string_view where) const;
  // The DE code of the open structural element at `depth`.
  DeError codeAt(size_t depth) const;

  DistributionEnvelope* out_ = nullptr;
  size_t max_list_entries_ = 0;
  NamespaceScope* scope_ = nullptr;
  bool seen_header_ = false;
  bool seen_payloads_ = false;
  bool in_header_ = false;
  HeaderPart part_ = HeaderPart::kNone;  // the header child we are in (or last saw)
  bool seen_manifest_ = false;
  size_t entries_ = 0;              // entries in the current list
  Payload* payload_ = nullptr;      // while inside a payload
  size_t depth_ = 0;                // depth of the innermost open element
  std::array<DeError, 4> codes_{};  // the DE code of each open structural element
  InfrastructureResponseReader infrastructure_reader_;
  BusinessResponseReader business_reader_;
  SubReader* ack_reader_ = nullptr;  // while inside an acknowledgement payload
};

}  // namespace itk::itk2::internal
