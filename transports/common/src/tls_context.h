// OpenSSL contexts for the HTTP server and client: TLS 1.2 or newer only.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include "itk/http/client.h"
#include "itk/http/server.h"
#include "itk/status.h"

namespace itk::http {

Result<boost::asio::ssl::context> makeServerTlsContext(const TlsServerConfig& config);
// A client context: the CA bundle (or the system CAs), an optional client certificate and key,
// peer verification on unless turned off. Host name checks are per connection (the client sets
// them on each SSL object).
Result<boost::asio::ssl::context> makeClientTlsContext(const ClientTlsConfig& config);

}  // namespace itk::http
