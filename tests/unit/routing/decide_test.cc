// Fan-out: one delivery per distinct (route, endpoint), refusals with their reason and code.
#include <gtest/gtest.h>

#include "itk/routing.h"
#include "routing_test_support.h"

namespace itk {
namespace {

using test::endpointsNamed;
using test::makeRoute;

constexpr const char* kSend = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";

class DecideTest : public ::testing::Test {
 protected:
  DecideTest() {
    std::vector<Route> routes;
    routes.push_back(
        makeRoute("rhm", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM"), {}, "rhm-soap"));
    routes.push_back(
        makeRoute("gp-mesh", FieldMatch::glob("urn:nhs-uk:addressing:ods:A8*"), {}, "mesh"));
    Route blocked = makeRoute("blocked", FieldMatch::exact("urn:nhs-uk:addressing:ods:RBAD"));
    blocked.endpoint.clear();
    blocked.reject = true;
    blocked.reject_reason = "RBAD is closed";
    blocked.reject_code = ToolkitCode::kAccessDenied;
    routes.push_back(blocked);
    Route ordered =
        makeRoute("ordered", FieldMatch::exact("urn:nhs-uk:addressing:ods:RORD"), {}, "mesh");
    ordered.ordering = {OrderingSpec::Kind::kFifo, "sender+address"};
    routes.push_back(ordered);
    // Same endpoint as rhm, different route: a separate delivery.
    routes.push_back(makeRoute(
        "rhm-pathology", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM:path"), {}, "rhm-soap"));
    table_ = std::make_shared<RoutingTable>(std::move(routes), endpointsNamed({"rhm-soap", "mesh"}),
                                            "1", "c");
  }

  MessageHeader header(std::vector<std::string> addresses) {
    MessageHeader h;
    h.service = kSend;
    h.sender_address = "urn:nhs-uk:addressing:ods:A81001";
    h.addresses = std::move(addresses);
    return h;
  }

  std::shared_ptr<RoutingTable> table_;
};

TEST_F(DecideTest, one_delivery_per_address_on_distinct_routes) {
  auto d = decide(
      *table_, header({"urn:nhs-uk:addressing:ods:RHM:team1", "urn:nhs-uk:addressing:ods:A81002"}));
  ASSERT_EQ(d.deliveries.size(), 2u);
  EXPECT_TRUE(d.refused.empty());
  EXPECT_EQ(d.deliveries[0].route->name, "rhm");
  EXPECT_EQ(d.deliveries[0].endpoint->name, "rhm-soap");
  EXPECT_EQ(d.deliveries[0].addresses,
            std::vector<std::string>{"urn:nhs-uk:addressing:ods:RHM:team1"});
  EXPECT_EQ(d.deliveries[1].route->name, "gp-mesh");
  EXPECT_EQ(d.deliveries[1].endpoint->name, "mesh");
  EXPECT_FALSE(d.synchronous());
}

TEST_F(DecideTest, addresses_on_the_same_route_and_endpoint_are_delivered_once) {
  auto d = decide(*table_,
                  header({"urn:nhs-uk:addressing:ods:RHM:team1", "urn:nhs-uk:addressing:ods:A81002",
                          "urn:nhs-uk:addressing:ods:RHM:team2",
                          "urn:nhs-uk:addressing:ods:RHM:team1"}));  // listed twice
  ASSERT_EQ(d.deliveries.size(), 2u);
  EXPECT_EQ(d.deliveries[0].route->name, "rhm");
  EXPECT_EQ(d.deliveries[0].addresses,
            (std::vector<std::string>{"urn:nhs-uk:addressing:ods:RHM:team1",
                                      "urn:nhs-uk:addressing:ods:RHM:team2"}));
}

TEST_F(DecideTest, same_endpoint_on_another_route_is_another_delivery) {
  auto d = decide(*table_, header({"urn:nhs-uk:addressing:ods:RHM:team1",
                                   "urn:nhs-uk:addressing:ods:RHM:path:lab"}));
  ASSERT_EQ(d.deliveries.size(), 2u);
  EXPECT_EQ(d.deliveries[0].route->name, "rhm");
  EXPECT_EQ(d.deliveries[1].route->name, "rhm-pathology");
  EXPECT_EQ(d.deliveries[0].endpoint, d.deliveries[1].endpoint);
}

TEST_F(DecideTest, reject_route_refuses_with_its_reason_and_code) {
  auto d =
      decide(*table_, header({"urn:nhs-uk:addressing:ods:RBAD", "urn:nhs-uk:addressing:ods:RHM"}));
  ASSERT_EQ(d.refused.size(), 1u);
  ASSERT_EQ(d.deliveries.size(), 1u);
  const RefusedAddress& r = d.refused[0];
  EXPECT_EQ(r.address, "urn:nhs-uk:addressing:ods:RBAD");
  ASSERT_NE(r.route, nullptr);
  EXPECT_EQ(r.route->name, "blocked");
  EXPECT_EQ(r.reason.code(), Code::kRejected);
  EXPECT_EQ(r.reason.message(), "RBAD is closed");
  EXPECT_EQ(r.reason.toolkitCode(), ToolkitCode::kAccessDenied);
}

TEST_F(DecideTest, no_route_is_route_not_found_2200_never_a_silent_drop) {
  auto d = decide(*table_, header({"urn:nhs-uk:addressing:ods:ZZZ", "X26ABC1"}));
  EXPECT_TRUE(d.deliveries.empty());
  ASSERT_EQ(d.refused.size(), 2u);
  for (const auto& r : d.refused) {
    EXPECT_EQ(r.route, nullptr);
    EXPECT_EQ(r.reason.code(), Code::kUnknownAddress);
    EXPECT_EQ(r.reason.toolkitCode(), ToolkitCode::kNotRetryable);
    EXPECT_TRUE(r.reason.message().starts_with("route not found")) << r.reason.message();
    EXPECT_NE(r.reason.message().find(r.address), std::string::npos);
  }
}

TEST_F(DecideTest, empty_address_list_is_refused_as_invalid) {
  auto d = decide(*table_, header({}));
  EXPECT_TRUE(d.deliveries.empty());
  ASSERT_EQ(d.refused.size(), 1u);
  EXPECT_EQ(d.refused[0].reason.code(), Code::kInvalid);
  EXPECT_EQ(d.refused[0].reason.toolkitCode(), ToolkitCode::kInvalidMessage);
}

TEST_F(DecideTest, acknowledgements_route_on_their_address_list_like_any_message) {
  MessageHeader ack = header({"urn:nhs-uk:addressing:ods:A81001"});  // the original sender
  ack.kind = MessageKind::kInfrastructureAck;
  ack.service = "urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0";
  ack.sender_address = "urn:nhs-uk:addressing:ods:RHM";
  auto d = decide(*table_, ack);
  ASSERT_EQ(d.deliveries.size(), 1u);
  EXPECT_EQ(d.deliveries[0].route->name, "gp-mesh");
}

TEST_F(DecideTest, itk3_message_routes_by_recipient_and_message_definition) {
  MessageHeader h;
  h.format = MessageFormat::kItk3;
  h.service = "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-DischargeSummary-MessageDefinition-1";
  h.interaction = "ITK007C";
  h.addresses = {"urn:nhs-uk:addressing:ods:A81002"};
  auto d = decide(*table_, h);
  ASSERT_EQ(d.deliveries.size(), 1u);
  EXPECT_EQ(d.deliveries[0].endpoint->name, "mesh");
}

TEST_F(DecideTest, fifo_route_gets_an_ordering_key_per_route) {
  auto d =
      decide(*table_, header({"urn:nhs-uk:addressing:ods:RORD", "urn:nhs-uk:addressing:ods:RHM"}));
  ASSERT_EQ(d.deliveries.size(), 2u);
  EXPECT_EQ(d.deliveries[0].ordering_key,
            "ordered|urn:nhs-uk:addressing:ods:A81001|urn:nhs-uk:addressing:ods:RORD");
  EXPECT_EQ(d.deliveries[1].ordering_key, "");
}

TEST(OrderingKeyTest, each_key_part) {
  Route r;
  r.name = "r";
  MessageHeader h;
  h.service = "svc";
  h.interaction = "int";
  h.sender_address = "snd";
  EXPECT_EQ(orderingKey(r, h, "addr"), "");
  r.ordering.kind = OrderingSpec::Kind::kFifo;
  r.ordering.key = "sender";
  EXPECT_EQ(orderingKey(r, h, "addr"), "r|snd");
  r.ordering.key = "address";
  EXPECT_EQ(orderingKey(r, h, "addr"), "r|addr");
  r.ordering.key = "service+interaction";
  EXPECT_EQ(orderingKey(r, h, "addr"), "r|svc|int");
}

TEST(DecideSyncTest, synchronous_when_a_delivery_route_is_a_sync_proxy) {
  Route sync = makeRoute("pds", FieldMatch::any());
  sync.mode = RouteMode::kSyncProxy;
  RoutingTable t({sync}, endpointsNamed({"ep"}), "", "");
  MessageHeader h;
  h.service = "urn:nhs-itk:services:201005:verifyNHSNumber-v1-0";
  h.addresses = {"urn:nhs-uk:addressing:ods:SPINE"};
  EXPECT_TRUE(decide(t, h).synchronous());
}

TEST(DecideMissingEndpointTest, route_to_an_unknown_endpoint_is_refused_not_dropped) {
  RoutingTable t({makeRoute("r", FieldMatch::any(), {}, "gone")}, endpointsNamed({"ep"}), "", "");
  MessageHeader h;
  h.addresses = {"a"};
  auto d = decide(t, h);
  ASSERT_EQ(d.refused.size(), 1u);
  EXPECT_EQ(d.refused[0].reason.code(), Code::kInternal);
}

}  // namespace
}  // namespace itk
