// OpenSSL contexts for the HTTP server and client: TLS 1.2 or newer only.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include "itk/http/server.h"
#include "itk/status.h"

namespace itk::http {

Result<boost::asio::ssl::context> makeServerTlsContext(const TlsServerConfig& config);

}  // namespace itk::http
