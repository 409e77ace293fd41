// Readers for the two acknowledgement payloads (spec/itk2.md §3), bare or inside a DE payload.
// Tolerant: they take the fields they know and skip the rest; the rules on the values are
// applied by messageHeaderOf() and the checks.
#pragma once

#include "sub_reader.h"

namespace itk::itk2::internal {

class InfrastructureResponseReader final : public SubReader {
 public:
  void begin(InfrastructureResponse* out);
  Status start(const xml::StartTag& tag, size_t depth) override;
  Status end(const xml::EndTag& tag, size_t depth) override;
  Status text(std::u16string_view text) override;

 private:
  InfrastructureResponse* out_ = nullptr;
  ElementPath path_;
  TextCapture capture_;
};

class BusinessResponseReader final : public SubReader {
 public:
  void begin(BusinessResponse* out);
  Status start(const xml::StartTag& tag, size_t depth) override;
  Status end(const xml::EndTag& tag, size_t depth) override;
  Status text(std::u16string_view text) override;

 private:
  BusinessResponse* out_ = nullptr;
  ElementPath path_;
  TextCapture capture_;
};

}  // namespace itk::itk2::internal
