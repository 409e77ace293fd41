// The real itk-router process with the DTS transport (spec/itk2.md §6): a message routed to a
// dts endpoint is written as a file pair into the DTS client's OUT folder, and a pair the DTS
// client delivers into IN is taken, routed onwards (to a loopback endpoint here) and moved out
// of IN. Messages enter through the loopback spool, so no SOAP peer is needed.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "itk/uuid.h"
#include "support/loopback_spool.h"
#include "support/router_process.h"

namespace itk::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kConfig = loopbackRouterYaml(R"(  dts:
    root: dts
    mailboxes: [X26HUB01DTS]
    prefix: X26HUBITK
    poll_interval: 50ms
)",
                                               "X26");

const char* kRoutes = R"(endpoints:
  rw1-dts:
    transport: dts
    mailbox: X26HUB01DTS
    to: RW1DTS001
    workflow: TOC_DISCH_DMS
  archive:
    transport: loopback
    behaviour: deliver
    deliver_dir: out
routes:
  - name: rw1
    match:
      address: {prefix: "urn:nhs-uk:addressing:ods:RW1"}
    endpoint: rw1-dts
  - name: everything-else
    endpoint: archive
)";

std::string deFor(const std::string& tracking_id, const std::string& ods) {
  std::string de = loopbackDe(tracking_id, 1);
  const std::string from = "urn:nhs-uk:addressing:ods:RHM\"";
  de.replace(de.find(from), from.size(), "urn:nhs-uk:addressing:ods:" + ods + "\"");
  return de;
}

std::string field(const std::string& ctl, const std::string& name) {
  std::smatch m;
  std::regex re("<" + name + ">([^<]*)</" + name + ">");
  return std::regex_search(ctl, m, re) ? m[1].str() : std::string();
}

class DtsRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("routes.yaml", kRoutes);
    fs::create_directories(dir_.path() / "in");
    router_ = std::make_unique<RouterProcess>(dir_, kConfig);
    std::string why;
    ASSERT_TRUE(router_->waitReady(&why)) << why;
  }

  TempDir dir_;
  std::unique_ptr<RouterProcess> router_;
};

TEST_F(DtsRouterTest, AMessageRoutedToADtsEndpointAppearsAsAPairInOut) {
  auto ready = httpGet(router_->adminPort(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;

  const std::string id = newUuid();
  const std::string de = deFor(id, "RW1");
  dropIntoSpool(dir_, "1.xml", de);
  const fs::path ctl = dir_.path() / "dts/OUT" / ("X26HUBITK" + id + ".ctl");
  const fs::path dat = dir_.path() / "dts/OUT" / ("X26HUBITK" + id + ".dat");
  ASSERT_TRUE(eventually([&] { return fs::exists(ctl); }, 30s)) << router_->log();
  EXPECT_TRUE(fs::exists(dat));
  EXPECT_EQ(readFile(dat.string()), de);  // the DE, verbatim
  std::string control = readFile(ctl.string());
  EXPECT_EQ(field(control, "MessageType"), "Data");
  EXPECT_EQ(field(control, "AddressType"), "DTS");
  EXPECT_EQ(field(control, "From_DTS"), "X26HUB01DTS");
  EXPECT_EQ(field(control, "To_DTS"), "RW1DTS001");
  EXPECT_EQ(field(control, "WorkflowId"), "TOC_DISCH_DMS");
  EXPECT_EQ(field(control, "LocalId"), id);
  EXPECT_TRUE(fs::is_empty(dir_.path() / "dts/TEMP"));
  EXPECT_TRUE(eventually([&] { return router_->log().find("dts.written") != std::string::npos; }));
}

TEST_F(DtsRouterTest, APairDeliveredIntoInIsRoutedOnwards) {
  const std::string id = newUuid();
  const std::string control = R"(<?xml version="1.0" encoding="UTF-8"?>
<DTSControl>
  <Version>1.0</Version>
  <AddressType>DTS</AddressType>
  <MessageType>Data</MessageType>
  <From_DTS>RW1DTS001</From_DTS>
  <To_DTS>X26HUB01DTS</To_DTS>
  <Subject>Discharge</Subject>
  <LocalId>RW1-LOCAL-1</LocalId>
  <Compress>N</Compress>
  <Encrypted>N</Encrypted>
  <WorkflowId>TOC_DISCH_DMS</WorkflowId>
  <IsCompressed>N</IsCompressed>
  <StatusRecord><DateTime>20261125093002</DateTime><Event>TRANSFER</Event><Status>SUCCESS</Status>
    <StatusCode>00</StatusCode><Description>Transferred to recipient mailbox</Description></StatusRecord>
</DTSControl>
)";
  // As the DTS client does: the .dat first, then the .ctl, each whole.
  dir_.write("dts/IN/RW1DTS001_0001.dat.part", deFor(id, "RHM"));
  fs::rename(dir_.path() / "dts/IN/RW1DTS001_0001.dat.part",
             dir_.path() / "dts/IN/RW1DTS001_0001.dat");
  dir_.write("dts/IN/RW1DTS001_0001.ctl.part", control);
  fs::rename(dir_.path() / "dts/IN/RW1DTS001_0001.ctl.part",
             dir_.path() / "dts/IN/RW1DTS001_0001.ctl");

  ASSERT_TRUE(eventually([&] { return deliveredFiles(dir_).count(id) == 1; }, 30s))
      << router_->log();
  ASSERT_TRUE(eventually(
      [&] { return fs::exists(dir_.path() / "dts/ITK/processed/RW1DTS001_0001.ctl"); }, 10s))
      << router_->log();
  EXPECT_TRUE(fs::exists(dir_.path() / "dts/ITK/processed/RW1DTS001_0001.dat"));
  EXPECT_FALSE(fs::exists(dir_.path() / "dts/IN/RW1DTS001_0001.ctl"));
}

}  // namespace
}  // namespace itk::test
