#include "server/decode.h"

#include "itk/envelope/reader.h"

namespace itk {

Result<Message> decodeItkDocument(std::shared_ptr<const std::string> bytes) {
  auto header = itk2::readDistributionEnvelope(*bytes);
  if (!header.ok()) return header.status();
  Message message;
  message.header = std::move(*header);
  message.body = std::move(bytes);
  return message;
}

}  // namespace itk
