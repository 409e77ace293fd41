// The example tables in routing-rules/examples load without errors or warnings.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "itk/routing.h"
#include "routing_test_support.h"

namespace itk {
namespace {

namespace fs = std::filesystem;

const fs::path kExamples = fs::path(ITK_SOURCE_DIR) / "routing-rules" / "examples";

class ExamplesTest : public ::testing::Test {
 protected:
  ExamplesTest() { test::registerFakeTransports(transports_); }

  void expectClean(const std::vector<std::string>& files) {
    TableLoadResult r = loadRoutingTables(files, transports_);
    for (const auto& e : r.errors) ADD_FAILURE() << e.toString();
    for (const auto& w : r.warnings) ADD_FAILURE() << w.toString();
    EXPECT_NE(r.table, nullptr);
  }

  TransportRegistry transports_;
};

TEST_F(ExamplesTest, each_single_file_example_loads_cleanly) {
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(kExamples)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    expectClean({entry.path().string()});
    ++seen;
  }
  EXPECT_GE(seen, 2);
}

TEST_F(ExamplesTest, multi_file_example_loads_as_one_table) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(kExamples / "multi-file")) {
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 2u);
  expectClean(files);
}

TEST_F(ExamplesTest, hub_example_routes_as_its_comments_say) {
  TableLoadResult r = loadRoutingTables({(kExamples / "hub.yaml").string()}, transports_);
  ASSERT_NE(r.table, nullptr);
  const RoutingTable& t = *r.table;
  auto route = [&](std::string_view service, std::string_view address,
                   std::string_view sender = "") {
    const Route* w = t.lookup(RouteQuery{service, address, sender, ""});
    return w ? w->name : "<none>";
  };
  const char* cda = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";
  EXPECT_EQ(route(cda, "urn:nhs-uk:addressing:ods:RHM:maternity"), "rhm");
  EXPECT_EQ(route(cda, "urn:nhs-uk:addressing:ods:RHM:pathology:haem"), "rhm-pathology");
  EXPECT_EQ(route(cda, "urn:nhs-uk:addressing:ods:J82002"), "gp-discharge");
  EXPECT_EQ(route("urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0",
                  "urn:nhs-uk:addressing:ods:J82002"),
            "gp-acks");
  EXPECT_EQ(
      route("urn:nhs-itk:services:201005:verifyNHSNumber-v1-0", "urn:nhs-uk:addressing:ods:X26"),
      "pds");
  EXPECT_EQ(route(cda, "urn:nhs-uk:addressing:ods:RBZ:ward9"), "rbz-closed");
  EXPECT_EQ(
      route(cda, "urn:nhs-uk:addressing:ods:RHM:ward1", "urn:nhs-uk:addressing:ods:RHM:oldpas"),
      "rhm-old-pas");
  EXPECT_EQ(route(cda, "urn:nhs-uk:addressing:ods:RX1"), "default-spine");
  EXPECT_EQ(route(cda, "X26ABC1"), "default-spine");

  MessageHeader h;
  h.service = cda;
  h.addresses = {"urn:nhs-uk:addressing:ods:J82002", "urn:nhs-uk:addressing:ods:J82005",
                 "urn:nhs-uk:addressing:ods:RBZ:ward9"};
  RoutingDecision d = decide(t, h);
  ASSERT_EQ(d.deliveries.size(), 1u);
  EXPECT_EQ(d.deliveries[0].addresses.size(), 2u);
  ASSERT_EQ(d.refused.size(), 1u);
  EXPECT_EQ(d.refused[0].reason.message(), "RBZ closed on 2026-04-01; send to R1F");
}

// The README's example is examples/hub.yaml without its leading comment: one table, documented
// and tested, that cannot drift apart.
TEST_F(ExamplesTest, readme_example_is_the_hub_example) {
  auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string readme = read(kExamples.parent_path() / "README.md");
  size_t section = readme.find("## A realistic hub");
  ASSERT_NE(section, std::string::npos);
  size_t start = readme.find("```yaml\n", section);
  ASSERT_NE(start, std::string::npos);
  start += 8;
  std::string block = readme.substr(start, readme.find("```", start) - start);
  std::string hub = read(kExamples / "hub.yaml");
  ASSERT_NE(hub.find("version:"), std::string::npos);
  EXPECT_EQ(block, hub.substr(hub.find("version:")));
}

}  // namespace
}  // namespace itk
