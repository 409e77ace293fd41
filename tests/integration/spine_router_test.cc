// The real itk-router process with the Spine transport (spec/itk2.md §7). A SoapPeer plays the
// national Spine: it takes the trunk messages the router sends and the ebXML Acknowledgments it
// POSTs back. Messages enter through the loopback spool (outbound case) or as a trunk POST on
// the router's Spine listener (inbound case, routed on to a loopback endpoint).
#include <gtest/gtest.h>

#include <filesystem>

#include "itk/spine/ebxml.h"
#include "itk/uuid.h"
#include "support/loopback_spool.h"
#include "support/router_process.h"
#include "support/soap_peer.h"

namespace itk::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string config(const SoapPeer& spine) {
  return loopbackRouterYaml(R"(  spine:
    party_key: X26HUB-807354
    asid: "200000001234"
    cpa_id: S3024519A3110234
    listen: 127.0.0.1:0
    ack_urls:
      AAA-123456: )" + spine.url("/reliablemessaging/intermediary") +
                                "\n",
                            "X26");
}

std::string routes(const SoapPeer& spine) {
  return R"(endpoints:
  spine-trunk:
    transport: spine
    party_key: BBB-654321
    asid: "000000000000"
    url: )" +
         spine.url("/reliablemessaging/reliablerequest") +
         R"(
  archive:
    transport: loopback
    behaviour: deliver
    deliver_dir: out
routes:
  - name: rhm-over-spine
    match:
      address: {prefix: "urn:nhs-uk:addressing:ods:RHM"}
    endpoint: spine-trunk
  - name: everything-else
    endpoint: archive
)";
}

class SpineRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(spine_.started()) << spine_.error();
    spine_.setDefault(SoapPeer::respond(202));
    dir_.write("routes.yaml", routes(spine_));
    fs::create_directories(dir_.path() / "in");
    router_ = std::make_unique<RouterProcess>(dir_, config(spine_));
    std::string why;
    ASSERT_TRUE(router_->waitReady(&why)) << why;
  }

  SoapPeer spine_{std::nullopt, "spine"};
  TempDir dir_;
  std::unique_ptr<RouterProcess> router_;
};

TEST_F(SpineRouterTest, AMessageRoutedToASpineEndpointArrivesAsATrunkMessage) {
  const std::string id = newUuid();
  const std::string de = loopbackDe(id, 1);  // addressed to ods:RHM
  dropIntoSpool(dir_, "1.xml", de);
  ASSERT_TRUE(spine_.waitFor(1, 60s)) << router_->log();
  auto got = spine_.received()[0];
  EXPECT_EQ(got.target, "/reliablemessaging/reliablerequest");
  EXPECT_EQ(*got.headers.get("SOAPAction"), "\"urn:nhs:names:services:itk/COPC_IN000001GB01\"");
  auto trunk = spine::parseTrunkMessage(std::string(*got.headers.get("Content-Type")), got.body);
  ASSERT_TRUE(trunk.ok()) << trunk.status().toString();
  EXPECT_EQ(trunk->de, de);  // the DE, intact
  EXPECT_EQ(trunk->ebxml.from_party, "X26HUB-807354");
  EXPECT_EQ(trunk->ebxml.to_party, "BBB-654321");
  EXPECT_EQ(trunk->ebxml.cpa_id, "S3024519A3110234");
  EXPECT_EQ(trunk->ebxml.action, "COPC_IN000001GB01");
  EXPECT_TRUE(isUuid(trunk->ebxml.message_id, true));
  EXPECT_TRUE(eventually([&] { return router_->log().find("spine.sent") != std::string::npos; }));
}

TEST_F(SpineRouterTest, ATrunkMessageOnTheListenerIsRoutedAndAcknowledged) {
  const uint16_t port = router_->listenerPort("spine");
  ASSERT_NE(port, 0) << router_->log();
  const std::string tracking = newUuid();
  std::string de = loopbackDe(tracking, 1);
  const std::string rhm = "urn:nhs-uk:addressing:ods:RHM\"";
  de.replace(de.find(rhm), rhm.size(), "urn:nhs-uk:addressing:ods:RW1\"");  // to the archive
  spine::TrunkSpec s;
  s.from_party = "AAA-123456";
  s.to_party = "X26HUB-807354";
  s.cpa_id = "S3024519A3110234";
  s.message_id = newUuid();
  s.conversation_id = s.message_id;
  s.timestamp = "2026-11-25T10:00:00Z";
  s.sender_asid = "866971180017";
  s.receiver_asid = "200000001234";
  s.hl7_id = newUuid();
  s.hl7_creation_time = "20261125100000";
  s.ebxml_content_id = "ebxml@test";
  s.hl7_content_id = "hl7@test";
  s.de_content_id = "de@test";
  spine::BuiltRequest request = spine::buildTrunkRequest(s, de);
  HttpConnection c(port);
  auto reply = c.request("POST", "/reliablemessaging/intermediary", request.body,
                         {{"Content-Type", request.content_type},
                          {"SOAPAction", "\"urn:nhs:names:services:itk/COPC_IN000001GB01\""}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200) << reply->body << router_->log();
  EXPECT_TRUE(reply->body.empty());
  // The asynchronous ebXML Acknowledgment goes to the sender's ack URL.
  ASSERT_TRUE(spine_.waitFor(1, 60s)) << router_->log();
  auto ack = spine_.received()[0];
  EXPECT_EQ(ack.target, "/reliablemessaging/intermediary");
  auto header = spine::parseEbxml(ack.body);
  ASSERT_TRUE(header.ok()) << header.status().toString();
  EXPECT_EQ(header->kind(), spine::EbxmlHeader::Kind::kAcknowledgment);
  EXPECT_EQ(header->ref_to_message_id, s.message_id);
  // And the DE goes on to the archive.
  ASSERT_TRUE(eventually([&] { return deliveredFiles(dir_).count(tracking) > 0; }, 60s))
      << router_->log();
}

}  // namespace
}  // namespace itk::test
