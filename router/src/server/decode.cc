#include "server/decode.h"

#include "itk/envelope/reader.h"
#include "itk/fhir/itk3.h"

namespace itk {

Result<Message> decodeItkDocument(std::shared_ptr<const std::string> bytes) {
  // ITK3 first: a FHIR Bundle is recognised by its root without parsing the whole document.
  if (itk3::looksLikeBundle(*bytes)) return itk3::decodeMessage(std::move(bytes));
  auto header = itk2::readDistributionEnvelope(*bytes);
  if (!header.ok()) return header.status();
  Message message;
  message.header = std::move(*header);
  message.body = std::move(bytes);
  return message;
}

}  // namespace itk
