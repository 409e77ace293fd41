// loadRoutingTables: the YAML format, validation and diagnostics with file and line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "itk/routing.h"
#include "routing_test_support.h"

namespace itk {
namespace {

using test::FakeEndpointConfig;
using test::TempDir;
using ::testing::HasSubstr;

constexpr const char* kSend = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";

// The 1-based line of the first occurrence of `needle` in `text`.
int lineOf(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

std::string sha256(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < size; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

class LoaderTest : public ::testing::Test {
 protected:
  LoaderTest() { test::registerFakeTransports(transports_); }

  TableLoadResult load(const std::string& text, const std::string& file = "hub.yaml") {
    return loadRoutingSources({{file, text}}, transports_);
  }

  // The one diagnostic whose message contains `needle`, as "file:line: severity: message".
  static std::string find(const std::vector<TableDiagnostic>& list, const std::string& needle) {
    for (const auto& d : list) {
      if (d.message.find(needle) != std::string::npos) return d.toString();
    }
    std::string all;
    for (const auto& d : list) all += "\n  " + d.toString();
    ADD_FAILURE() << "no diagnostic with '" << needle << "' among:" << all;
    return {};
  }

  TransportRegistry transports_;
};

const std::string kHub = R"(version: "2026-11-25.1"
defaults:
  retry:
    max_attempts: 5
    initial_backoff: 30s
  time_to_live: 10m
endpoints:
  rhm-soap:
    transport: soap
    description: University Hospital integration engine
    max_concurrency: 4
    urls: [https://tie.rhm.example/itk]
    tls: {ca: /etc/itk/ca.pem}
  gp-mesh:
    transport: mesh
    mailbox: X26HUB01
    to: X26GP001
    workflow: TOC_FHIR_EB_DS
routes:
  - name: rhm
    description: everything for the trust, at any depth
    match:
      address: {prefix: "urn:nhs-uk:addressing:ods:RHM"}
    endpoint: rhm-soap
  - name: gps
    match:
      service: [urn:nhs-itk:services:201005:SendCDADocument-v2-0, "urn:nhs-itk:services:201005:Send*Ack-v1-0"]
      address: [urn:nhs-uk:addressing:ods:A81001, urn:nhs-uk:addressing:ods:A81002]
    endpoint: gp-mesh
    priority: 3
    retry: {max_attempts: 20, max_backoff: 1h, multiplier: 1.5, jitter: 0.1, deadline: 5d}
    ordering: {fifo: [sender, address]}
    timeout: 2m
  - name: closed
    match:
      address: urn:nhs-uk:addressing:ods:RBAD
    reject: {reason: "RBAD has closed; send to RHM", code: 3000}
  - name: pds
    match:
      service: "urn:nhs-itk:services:201005:verifyNHSNumber-v1-0"
    mode: sync-proxy
    endpoint: rhm-soap
)";

TEST_F(LoaderTest, loads_a_realistic_table) {
  TableLoadResult r = load(kHub);
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().toString();
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front().toString();
  ASSERT_NE(r.table, nullptr);
  const RoutingTable& t = *r.table;
  EXPECT_EQ(t.version(), "2026-11-25.1");
  EXPECT_EQ(t.checksum(), sha256(kHub));
  ASSERT_EQ(t.endpoints().size(), 2u);
  // rhm + gps (2 services x 2 addresses) + closed + pds
  ASSERT_EQ(t.routes().size(), 7u);

  const Route& rhm = t.routes()[0];
  EXPECT_EQ(rhm.file, "hub.yaml");
  EXPECT_EQ(rhm.line, lineOf(kHub, "- name: rhm"));
  EXPECT_EQ(rhm.address, FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM"));
  EXPECT_EQ(rhm.service, FieldMatch::any());
  EXPECT_EQ(rhm.retry.max_attempts, 5);  // from defaults
  EXPECT_EQ(rhm.retry.initial_backoff, std::chrono::seconds(30));
  EXPECT_EQ(rhm.retry.max_backoff, RetrySpec{}.max_backoff);  // built-in default
  EXPECT_EQ(rhm.time_to_live, std::chrono::minutes(10));
  EXPECT_EQ(rhm.mode, RouteMode::kStoreAndForward);

  const Route* gps = t.route("gps");
  ASSERT_NE(gps, nullptr);
  EXPECT_EQ(gps->priority, 3);
  EXPECT_EQ(gps->retry.max_attempts, 20);
  EXPECT_EQ(gps->retry.initial_backoff, std::chrono::seconds(30));  // defaults, merged
  EXPECT_EQ(gps->retry.max_backoff, std::chrono::hours(1));
  EXPECT_DOUBLE_EQ(gps->retry.multiplier, 1.5);
  EXPECT_DOUBLE_EQ(gps->retry.jitter, 0.1);
  EXPECT_EQ(gps->retry.deadline, std::chrono::hours(120));
  EXPECT_EQ(gps->ordering.kind, OrderingSpec::Kind::kFifo);
  EXPECT_EQ(gps->ordering.key, "sender+address");
  EXPECT_EQ(gps->timeout, std::chrono::minutes(2));
  EXPECT_EQ(gps->service, FieldMatch::exact(kSend));
  EXPECT_EQ(t.routes()[3].service, FieldMatch::glob("urn:nhs-itk:services:201005:Send*Ack-v1-0"));
  EXPECT_EQ(t.routes()[4].address, FieldMatch::exact("urn:nhs-uk:addressing:ods:A81002"));

  const Route* closed = t.route("closed");
  ASSERT_NE(closed, nullptr);
  EXPECT_TRUE(closed->reject);
  EXPECT_EQ(closed->reject_reason, "RBAD has closed; send to RHM");
  EXPECT_EQ(closed->reject_code, ToolkitCode::kAccessDenied);
  EXPECT_EQ(t.route("pds")->mode, RouteMode::kSyncProxy);

  const Route* w = t.lookup({kSend, "urn:nhs-uk:addressing:ods:A81002", "", ""});
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->name, "gps");
  w = t.lookup({"urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0",
                "urn:nhs-uk:addressing:ods:A81001", "", ""});
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->name, "gps");
}

TEST_F(LoaderTest, endpoint_parameters_reach_the_transport_without_common_keys) {
  TableLoadResult r = load(kHub);
  ASSERT_NE(r.table, nullptr);
  const EndpointSpec* soap = r.table->endpoint("rhm-soap");
  ASSERT_NE(soap, nullptr);
  EXPECT_EQ(soap->transport, "soap");
  EXPECT_EQ(soap->max_concurrency, 4);
  const auto* config = soap->as<FakeEndpointConfig>();
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->keys, (std::vector<std::string>{"urls", "tls"}));
  EXPECT_EQ(config->params["urls"][0].as<std::string>(), "https://tie.rhm.example/itk");
  EXPECT_EQ(r.table->endpoint("gp-mesh")->max_concurrency, 8);  // the default
}

TEST_F(LoaderTest, tables_split_across_files_load_as_one) {
  const std::string endpoints =
      "endpoints:\n  spine:\n    transport: spine\n"
      "    party_key: YES-0000806\n    asid: '928942012545'\n";
  const std::string routes =
      "defaults:\n  timeout: 5s\nroutes:\n"
      "  - name: default\n    endpoint: spine\n";
  TableLoadResult r =
      loadRoutingSources({{"endpoints.yaml", endpoints}, {"routes.yaml", routes}}, transports_);
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().toString();
  EXPECT_EQ(r.table->checksum(), sha256(endpoints + routes));
  EXPECT_EQ(r.table->version(), "");
  EXPECT_EQ(r.table->routes()[0].timeout, std::chrono::seconds(5));
  EXPECT_EQ(r.table->routes()[0].file, "routes.yaml");
}

TEST_F(LoaderTest, defaults_apply_to_routes_in_earlier_files) {
  const std::string routes =
      "endpoints: {e: {transport: loopback}}\n"
      "routes:\n  - name: r\n    endpoint: e\n";
  const std::string defaults = "defaults:\n  mode: sync-proxy\n";
  TableLoadResult r = loadRoutingSources({{"a.yaml", routes}, {"b.yaml", defaults}}, transports_);
  ASSERT_NE(r.table, nullptr);
  EXPECT_EQ(r.table->routes()[0].mode, RouteMode::kSyncProxy);
}

TEST_F(LoaderTest, infrastructure_ack_defaults_to_the_endpoint_and_a_route_can_take_it_over) {
  const std::string yaml =
      "defaults: {infrastructure_ack: endpoint}\n"
      "endpoints: {e: {transport: loopback}}\n"
      "routes:\n"
      "  - name: passes-acks-through\n    endpoint: e\n    match: {address: a}\n"
      "  - name: acks-itself\n    endpoint: e\n    match: {address: b}\n"
      "    infrastructure_ack: router\n";
  TableLoadResult r = loadRoutingSources({{"a.yaml", yaml}}, transports_);
  ASSERT_NE(r.table, nullptr);
  EXPECT_FALSE(r.table->routes()[0].router_infack);
  EXPECT_TRUE(r.table->routes()[1].router_infack);

  TableLoadResult bad = loadRoutingSources(
      {{"b.yaml", "endpoints: {e: {transport: loopback}}\nroutes:\n  - name: r\n    endpoint: e\n"
                  "    infrastructure_ack: sometimes\n"}},
      transports_);
  ASSERT_EQ(bad.table, nullptr);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].toString(),
            "b.yaml:5: error: infrastructure_ack must be endpoint or router, not 'sometimes'");
}

TEST_F(LoaderTest, reads_files_from_disk) {
  TempDir dir;
  std::string file = dir.write("hub.yaml", kHub);
  TableLoadResult r = loadRoutingTables({file}, transports_);
  ASSERT_NE(r.table, nullptr);
  EXPECT_EQ(r.table->routes()[0].file, file);
  EXPECT_EQ(r.table->checksum(), sha256(kHub));

  TableLoadResult missing =
      loadRoutingTables({file, (dir.path() / "nope.yaml").string()}, transports_);
  EXPECT_EQ(missing.table, nullptr);
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_THAT(missing.errors[0].toString(), HasSubstr("nope.yaml: error: cannot open"));
}

TEST_F(LoaderTest, yaml_syntax_error_has_file_and_line) {
  const std::string text = "routes:\n  - name: a\n    endpoint: [unclosed\n";
  TableLoadResult r = load(text);
  EXPECT_EQ(r.table, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].toString(), ::testing::StartsWith("hub.yaml:"));
  EXPECT_THAT(r.errors[0].message, HasSubstr("YAML syntax"));
  EXPECT_GT(r.errors[0].line, 0);
}

TEST_F(LoaderTest, reports_every_error_with_file_and_line) {
  const std::string text = R"(endpoints:
  good: {transport: loopback}
  nowhere: {transport: pigeon}
  broken: {transport: soap, fail: "urls is required"}
  "bad name": {transport: soap}
  nomad: {max_concurrency: 3}
routes:
  - name: unknown-endpoint
    endpoint: missing
  - name: both
    endpoint: good
    reject: "no"
  - name: neither
  - name: typo
    endpoint: good
    retires: 3
  - name: bad-duration
    endpoint: good
    timeout: 30x
  - name: backoff
    endpoint: good
    retry: {initial_backoff: 10m, max_backoff: 1m}
  - name: silent-reject
    reject: {code: 3000}
  - name: wild-prefix
    match: {address: {prefix: "urn:nhs-uk:*"}}
    endpoint: good
  - name: patient
    endpoint: good
    ordering: {fifo: patient}
  - name: sync-fifo
    endpoint: good
    mode: sync-proxy
    ordering: fifo
  - name: typo
    endpoint: good
  - name: dup-key
    endpoint: good
    endpoint: good
  - name: jitter
    endpoint: good
    retry: {jitter: 1.5, max_attempts: 0, multiplier: x}
  - name: bad-code
    reject: {reason: r, code: 2100}
  - name: trailing-colon
    match: {address: {prefix: "urn:nhs-uk:addressing:"}}
    endpoint: good
  - name: empty
    match: {service: ""}
    endpoint: good
  - name: weird-kind
    match: {address: {regex: ".*"}}
    endpoint: good
)";
  TableLoadResult r = load(text);
  EXPECT_EQ(r.table, nullptr);
  auto at = [&](const std::string& needle) {
    return "hub.yaml:" + std::to_string(lineOf(text, needle)) + ": error: ";
  };
  EXPECT_THAT(find(r.errors, "pigeon"), ::testing::StartsWith(at("transport: pigeon")));
  EXPECT_THAT(find(r.errors, "pigeon"), HasSubstr("known: dts, loopback, mesh, soap, spine"));
  EXPECT_THAT(find(r.errors, "urls is required"), ::testing::StartsWith(at("broken:")));
  EXPECT_THAT(find(r.errors, "urls is required"), HasSubstr("endpoint 'broken' (soap)"));
  EXPECT_THAT(find(r.errors, "'bad name'"), ::testing::StartsWith(at("\"bad name\"")));
  EXPECT_THAT(find(r.errors, "'nomad' needs transport"), ::testing::StartsWith(at("nomad")));
  EXPECT_THAT(find(r.errors, "unknown endpoint 'missing'"),
              ::testing::StartsWith(at("endpoint: missing")));
  EXPECT_THAT(find(r.errors, "route 'both' needs exactly one"),
              ::testing::StartsWith(at("- name: both")));
  EXPECT_THAT(find(r.errors, "route 'neither' needs exactly one"),
              ::testing::StartsWith(at("- name: neither")));
  EXPECT_THAT(find(r.errors, "unknown key 'retires'"),
              ::testing::StartsWith(at("retires") + "route 'typo': unknown key"));
  EXPECT_THAT(find(r.errors, "timeout: '30x' is not a duration"),
              ::testing::StartsWith(at("timeout: 30x")));
  EXPECT_THAT(find(r.errors, "max_backoff (1m) is shorter"),
              ::testing::StartsWith(at("{initial_backoff: 10m")));
  EXPECT_THAT(find(r.errors, "reject needs a reason"), ::testing::StartsWith(at("{code: 3000}")));
  EXPECT_THAT(find(r.errors, "a prefix has no wildcards"),
              ::testing::StartsWith(at("\"urn:nhs-uk:*\"")));
  EXPECT_THAT(find(r.errors, "ordering by patient"), ::testing::StartsWith(at("patient}")));
  EXPECT_THAT(find(r.errors, "sync-proxy route cannot order"),
              ::testing::StartsWith(at("- name: sync-fifo")));
  EXPECT_THAT(find(r.errors, "route 'typo' is already defined at hub.yaml:" +
                                 std::to_string(lineOf(text, "- name: typo"))),
              HasSubstr("error"));
  EXPECT_THAT(find(r.errors, "duplicate key 'endpoint'"), HasSubstr("error"));
  EXPECT_THAT(find(r.errors, "retry.jitter must be at least 0"), HasSubstr("error"));
  EXPECT_THAT(find(r.errors, "retry.max_attempts must be between 1"), HasSubstr("error"));
  EXPECT_THAT(find(r.errors, "retry.multiplier must be a number"), HasSubstr("error"));
  EXPECT_THAT(find(r.errors, "reject.code must be 1000"), HasSubstr("2100"));
  EXPECT_THAT(find(r.errors, "without a leading or trailing ':'"), HasSubstr("error"));
  EXPECT_THAT(find(r.errors, "match.service is empty"), HasSubstr("error"));
  EXPECT_THAT(find(r.errors, "not 'regex'"), HasSubstr("error"));
}

TEST_F(LoaderTest, version_and_defaults_may_be_set_once) {
  TableLoadResult r = loadRoutingSources({{"a.yaml", "version: 1\ndefaults: {timeout: 1s}\n"},
                                          {"b.yaml", "version: 2\ndefaults: {timeout: 2s}\n"}},
                                         transports_);
  EXPECT_EQ(r.table, nullptr);
  EXPECT_EQ(find(r.errors, "version is already set"),
            "b.yaml:1: error: version is already set at a.yaml:1");
  EXPECT_EQ(find(r.errors, "defaults are already set"),
            "b.yaml:2: error: defaults are already set at a.yaml:2");
}

TEST_F(LoaderTest, duplicate_endpoint_across_files) {
  TableLoadResult r = loadRoutingSources({{"a.yaml", "endpoints:\n  e: {transport: loopback}\n"},
                                          {"b.yaml", "\nendpoints:\n  e: {transport: loopback}\n"}},
                                         transports_);
  EXPECT_EQ(find(r.errors, "already defined"),
            "b.yaml:3: error: endpoint 'e' is already defined at a.yaml:2");
}

TEST_F(LoaderTest, warns_about_shadowed_routes) {
  const std::string text = R"(endpoints:
  a: {transport: loopback}
  b: {transport: loopback}
routes:
  - name: trust
    match: {address: {prefix: "urn:nhs-uk:addressing:ods:RHM"}}
    endpoint: a
  - name: teams
    match: {address: "urn:nhs-uk:addressing:ods:RHM:te?m"}
    endpoint: b
  - name: rhm-any
    match: {address: "urn:nhs-uk:addressing:ods:RHM:*"}
    endpoint: a
  - name: rhm-some
    match: {address: "urn:nhs-uk:addressing:ods:RHM:?*"}
    endpoint: b
  - name: trust-again
    match: {address: {prefix: "urn:nhs-uk:addressing:ods:RHM"}}
    endpoint: b
  - name: loud
    match: {address: {prefix: "urn:nhs-uk:addressing:ods:RXX"}}
    priority: 9
    endpoint: a
  - name: quiet
    match: {address: {prefix: "urn:nhs-uk:addressing:ods:RXX"}, service: "*"}
    endpoint: b
  - name: cda
    match: {address: "urn:nhs-uk:addressing:ods:RHM:lab", service: "urn:nhs-itk:services:201005:SendCDADocument-v2-0"}
    endpoint: a
  - name: not-shadowed
    match: {address: "urn:nhs-uk:addressing:ods:RHM:lab"}
    endpoint: b
)";
  TableLoadResult r = load(text);
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().toString();
  ASSERT_NE(r.table, nullptr);  // warnings never refuse a table
  // Two globs pinning the same characters, one inside the other: the first defined wins all.
  EXPECT_EQ(find(r.warnings, "route 'rhm-some' can never win"),
            "hub.yaml:" + std::to_string(lineOf(text, "- name: rhm-some")) +
                ": warning: route 'rhm-some' can never win: route 'rhm-any' at hub.yaml:" +
                std::to_string(lineOf(text, "- name: rhm-any")) +
                " matches every message it matches and takes precedence (equally specific "
                "with the same priority; defined first (hub.yaml:" +
                std::to_string(lineOf(text, "- name: rhm-any")) + "))");
  EXPECT_THAT(
      find(r.warnings, "route 'trust-again' can never win"),
      HasSubstr("defined first (hub.yaml:" + std::to_string(lineOf(text, "- name: trust")) + ")"));
  EXPECT_THAT(find(r.warnings, "route 'quiet' can never win"), HasSubstr("priority 9 beats 0"));
  for (const auto& w : r.warnings) {
    // A glob inside a prefix pins more characters, so it outranks the prefix: not shadowed.
    EXPECT_THAT(w.message, ::testing::Not(HasSubstr("'teams' can")));
    EXPECT_THAT(w.message, ::testing::Not(HasSubstr("'not-shadowed' can")));
    EXPECT_THAT(w.message, ::testing::Not(HasSubstr("'cda' can")));
  }
  EXPECT_EQ(r.warnings.size(), 3u);
}

TEST_F(LoaderTest, warns_about_unused_endpoints_and_settings_on_rejects) {
  const std::string text = R"(endpoints:
  used: {transport: loopback}
  spare: {transport: mesh, mailbox: X26HUB01, to: X26ABC2, workflow: W}
routes:
  - name: r
    endpoint: used
  - name: closed
    match: {address: [X26BAD, X26BAD]}
    reject: closed
    retry: {max_attempts: 3}
)";
  TableLoadResult r = load(text);
  ASSERT_NE(r.table, nullptr);
  EXPECT_EQ(find(r.warnings, "spare"),
            "hub.yaml:3: warning: endpoint 'spare' is not used by any route");
  EXPECT_THAT(find(r.warnings, "retry has no effect on a reject route"),
              ::testing::StartsWith("hub.yaml:10: warning:"));
  EXPECT_THAT(find(r.warnings, "lists exact \"X26BAD\" twice"),
              ::testing::StartsWith("hub.yaml:8: warning:"));
  EXPECT_EQ(r.table->routes().size(), 2u);
}

TEST_F(LoaderTest, an_empty_file_warns_and_a_table_without_routes_is_refused) {
  TableLoadResult r = loadRoutingSources(
      {{"empty.yaml", "# nothing yet\n"}, {"routes.yaml", "routes:\n  - {name: d, reject: x}\n"}},
      transports_);
  ASSERT_NE(r.table, nullptr);
  EXPECT_EQ(find(r.warnings, "empty"), "empty.yaml: warning: the file is empty");

  // What an editor's file looks like between truncating and writing it.
  r = loadRoutingSources({{"hub.yaml", ""}}, transports_);
  EXPECT_EQ(r.table, nullptr);
  EXPECT_THAT(find(r.errors, "the table has no routes"), ::testing::StartsWith("hub.yaml: error:"));
  r = loadRoutingSources({{"hub.yaml", "endpoints: {e: {transport: loopback}}\n"}}, transports_);
  EXPECT_EQ(r.table, nullptr);
}

TEST_F(LoaderTest, pattern_forms) {
  const std::string text = R"(endpoints: {e: {transport: loopback}}
routes:
  - name: r
    match:
      address: [{exact: "a*"}, {glob: "b*"}, {prefix: "c:d"}, "e?", f, "*"]
      sender: {glob: "*"}
    endpoint: e
)";
  TableLoadResult r = load(text);
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().toString();
  const auto& routes = r.table->routes();
  ASSERT_EQ(routes.size(), 6u);
  EXPECT_EQ(routes[0].address, FieldMatch::exact("a*"));
  EXPECT_EQ(routes[1].address, FieldMatch::glob("b*"));
  EXPECT_EQ(routes[2].address, FieldMatch::prefix("c:d"));
  EXPECT_EQ(routes[3].address.kind, FieldMatch::Kind::kGlob);
  EXPECT_EQ(routes[4].address, FieldMatch::exact("f"));
  EXPECT_EQ(routes[5].address, FieldMatch::any());
  EXPECT_EQ(routes[0].sender, FieldMatch::any());
  for (const Route& route : routes) EXPECT_EQ(route.name, "r");
}

TEST_F(LoaderTest, yaml_duplicate_keys_are_errors) {
  TableLoadResult r = load("routes: []\nroutes: []\n");
  EXPECT_EQ(find(r.errors, "duplicate"), "hub.yaml:2: error: the file: duplicate key 'routes'");
}

TEST_F(LoaderTest, no_files_is_an_error) {
  TableLoadResult r = loadRoutingTables({}, transports_);
  EXPECT_EQ(r.table, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
}

}  // namespace
}  // namespace itk
