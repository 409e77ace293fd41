// The ITK Web Service transport (spec/itk2.md §4): SOAP 1.1 over HTTP(S), inbound and outbound.
//
// Inbound: each listener reads a request with the envelope library (readItkDocument), applies
// the same checks as `itk-router validate` (checkSoapRequest: SOAP 1.1, WS-Addressing,
// WS-Security, the DE rules), then the HTTP-only ones (SOAPAction present and equal to
// wsa:Action, UTF-8), hands the message to the router and answers once the router has: 200
// SimpleMessageResponse, 202 for a pattern-1 request with a non-anonymous ReplyTo, 200 with the
// response DE of a synchronously proxied service, a SOAP fault with ToolkitErrorInfo (HTTP 500)
// for a refusal, or 503 (the ITK busy tone) when the router cannot take work.
//
// Outbound: the DE bytes, unchanged, go in a new SOAP request (new MessageID, Timestamp with the
// route's time to live, Username = the router's identity, Action = the DE service) to the
// endpoint's first URL, failing over to the next on a connection failure or 503. The answer is
// classified for the delivery engine: 200 SimpleMessageResponse or 202 delivered; 503, no
// connection, a timeout or fault 2100 retryable; anything else permanent.
//
// Configuration: README.md beside this file.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "itk/transport.h"

namespace itk {

std::unique_ptr<TransportFactory> makeSoapTransportFactory();

// The port the listener `name` of a started SOAP transport bound (useful with port 0), or 0 when
// `transport` is not a SOAP transport or has no such listener.
uint16_t soapListenerPort(const Transport& transport, std::string_view name);

}  // namespace itk
