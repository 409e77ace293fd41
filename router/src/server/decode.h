// The app's MessageDecoder: reads one whole ITK document — an ITK3 FHIR message Bundle or a bare
// ITK2 Distribution Envelope — into a Message, for document-oriented transports (loopback, MESH).
#pragma once

#include "itk/transport.h"

namespace itk {

Result<Message> decodeItkDocument(std::shared_ptr<const std::string> bytes);

}  // namespace itk
