// The app's MessageDecoder: reads one whole ITK document (a bare ITK2 Distribution Envelope;
// ITK3 Bundles join with the FHIR reader) into a Message, for document-oriented transports.
#pragma once

#include "itk/transport.h"

namespace itk {

Result<Message> decodeItkDocument(std::shared_ptr<const std::string> bytes);

}  // namespace itk
