// Certificates for TLS tests, made fresh by the `openssl` command line in a temporary folder:
// a CA, a server certificate for localhost/127.0.0.1, a client certificate, and a second
// ("other") CA with its own client certificate that the first CA does not vouch for.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

#include "support/temp_dir.h"

namespace itk::test {

struct TestPki {
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::string client_cert, client_key;  // CN=itk-test-client, O=ITK Test
  std::string other_ca_cert, other_ca_key;
  std::string other_client_cert, other_client_key;               // signed by the other CA
  std::string client_subject = "CN=itk-test-client,O=ITK Test";  // RFC 2253 form

  // Generates everything under `dir`. On failure returns nullopt with the openssl output in
  // `error`.
  static std::optional<TestPki> generate(const TempDir& dir, std::string* error) {
    TestPki p;
    const std::string d = dir.path().string();
    const std::string log = d + "/openssl.log";
    auto run = [&](const std::string& command) {
      std::string full = "cd '" + d + "' && " + command + " >>'" + log + "' 2>&1";
      if (std::system(full.c_str()) != 0) {
        if (error) *error = "failed: " + command + "\n" + readFile(log);
        return false;
      }
      return true;
    };
    const std::string ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    auto makeCa = [&](const std::string& name) {
      return run("openssl req -x509 " + ec_key + " -keyout " + name + ".key -out " + name +
                 ".pem -days 2 -subj '/CN=" + name +
                 "' -addext basicConstraints=critical,CA:TRUE"
                 " -addext keyUsage=critical,keyCertSign,cRLSign");
    };
    auto makeLeaf = [&](const std::string& name, const std::string& subject, const std::string& ca,
                        const std::string& extensions, int serial) {
      dir.write(name + ".ext", extensions);
      return run("openssl req " + ec_key + " -keyout " + name + ".key -out " + name +
                 ".csr -subj '" + subject + "'") &&
             run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
                 ".key -set_serial " + std::to_string(serial) + " -days 2 -out " + name +
                 ".pem -extfile " + name + ".ext");
    };
    if (!makeCa("itk-test-ca") || !makeCa("itk-other-ca")) return std::nullopt;
    if (!makeLeaf("server", "/CN=localhost", "itk-test-ca",
                  "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                  "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
                  2) ||
        !makeLeaf("client", "/O=ITK Test/CN=itk-test-client", "itk-test-ca",
                  "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n", 3) ||
        !makeLeaf("other-client", "/O=Elsewhere/CN=intruder", "itk-other-ca",
                  "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n", 4)) {
      return std::nullopt;
    }
    p.ca_cert = d + "/itk-test-ca.pem";
    p.ca_key = d + "/itk-test-ca.key";
    p.server_cert = d + "/server.pem";
    p.server_key = d + "/server.key";
    p.client_cert = d + "/client.pem";
    p.client_key = d + "/client.key";
    p.other_ca_cert = d + "/itk-other-ca.pem";
    p.other_ca_key = d + "/itk-other-ca.key";
    p.other_client_cert = d + "/other-client.pem";
    p.other_client_key = d + "/other-client.key";
    return p;
  }
};

}  // namespace itk::test
