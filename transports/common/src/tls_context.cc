#include "tls_context.h"

#include <openssl/err.h>

namespace itk::http {
namespace ssl = boost::asio::ssl;

namespace {

std::string lastOpensslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<ssl::context> makeServerTlsContext(const TlsServerConfig& config) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(config.cert_file, ec);
  if (ec) {
    return Status::invalid("cannot load TLS certificate " + config.cert_file + ": " +
                           lastOpensslError());
  }
  ctx.use_private_key_file(config.key_file, ssl::context::pem, ec);
  if (ec) {
    return Status::invalid("cannot load TLS private key " + config.key_file + ": " +
                           lastOpensslError());
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return Status::invalid("TLS private key " + config.key_file + " does not match " +
                           config.cert_file);
  }
  using ClientCert = TlsServerConfig::ClientCert;
  if (config.client_cert != ClientCert::kNone) {
    if (config.ca_file.empty()) {
      return Status::invalid("client certificates need a CA file (tls.ca)");
    }
    ctx.load_verify_file(config.ca_file, ec);
    if (ec) {
      return Status::invalid("cannot load CA bundle " + config.ca_file + ": " +
                             lastOpensslError());
    }
    // Tell clients which CAs we accept, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
    }
    ctx.set_verify_mode(config.client_cert == ClientCert::kRequired
                            ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                            : ssl::verify_peer);
  }
  return ctx;
}

Result<ssl::context> makeClientTlsContext(const ClientTlsConfig& config) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (config.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
    if (ec) return Status::invalid("cannot load the system CA certificates: " + lastOpensslError());
  } else {
    ctx.load_verify_file(config.ca_file, ec);
    if (ec) {
      return Status::invalid("cannot load CA bundle " + config.ca_file + ": " + lastOpensslError());
    }
  }
  if (!config.cert_file.empty() || !config.key_file.empty()) {
    if (config.cert_file.empty() || config.key_file.empty()) {
      return Status::invalid("a client certificate needs both a certificate and a key file");
    }
    ctx.use_certificate_chain_file(config.cert_file, ec);
    if (ec) {
      return Status::invalid("cannot load TLS client certificate " + config.cert_file + ": " +
                             lastOpensslError());
    }
    ctx.use_private_key_file(config.key_file, ssl::context::pem, ec);
    if (ec) {
      return Status::invalid("cannot load TLS client key " + config.key_file + ": " +
                             lastOpensslError());
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      return Status::invalid("TLS client key " + config.key_file + " does not match " +
                             config.cert_file);
    }
  }
  ctx.set_verify_mode(config.verify_peer ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

}  // namespace itk::http
