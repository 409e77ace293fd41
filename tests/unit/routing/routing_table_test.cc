// Lookup and precedence on tables built directly (the loader has its own tests).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>

#include "itk/routing.h"
#include "routing/index.h"
#include "routing_test_support.h"

namespace itk {
namespace {

using test::endpointsNamed;
using test::makeRoute;

constexpr const char* kSend = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";
constexpr const char* kTeam = "urn:nhs-uk:addressing:ods:RHM:team1:A";

std::shared_ptr<RoutingTable> table(std::vector<Route> routes) {
  return std::make_shared<RoutingTable>(std::move(routes), endpointsNamed({"ep"}), "v", "c");
}

std::string winner(const RoutingTable& t, std::string_view address,
                   std::string_view service = kSend, std::string_view sender = "",
                   std::string_view interaction = "") {
  const Route* r = t.lookup(RouteQuery{service, address, sender, interaction});
  return r ? r->name : "<none>";
}

TEST(RoutingTableTest, no_route_gives_null) {
  auto t = table({makeRoute("rhm", FieldMatch::exact("urn:nhs-uk:addressing:ods:RHM"))});
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RXX"), "<none>");
  EXPECT_EQ(winner(*t, ""), "<none>");
  EXPECT_TRUE(table({})->candidates(RouteQuery{kSend, kTeam, "", ""}).empty());
}

TEST(RoutingTableTest, exact_address_matches_only_itself) {
  auto t = table({makeRoute("rhm", FieldMatch::exact("urn:nhs-uk:addressing:ods:RHM"))});
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RHM"), "rhm");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RHM:team1"), "<none>");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods"), "<none>");
}

TEST(RoutingTableTest, plain_string_addresses_route_like_uris) {
  // DTS mailboxes and Spine ASIDs are addresses too (spec/itk2.md §1.5): routed on their text.
  auto t = table({makeRoute("dts", FieldMatch::glob("X26*")),
                  makeRoute("asid", FieldMatch::exact("123456789012"))});
  EXPECT_EQ(winner(*t, "X26ABC1"), "dts");
  EXPECT_EQ(winner(*t, "123456789012"), "asid");
  EXPECT_EQ(winner(*t, "Y26ABC1"), "<none>");
}

TEST(RoutingTableTest, exact_beats_prefix_beats_any) {
  auto t = table({makeRoute("default", FieldMatch::any()),
                  makeRoute("trust", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM")),
                  makeRoute("team", FieldMatch::exact(kTeam))});
  EXPECT_EQ(winner(*t, kTeam), "team");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RHM:team2"), "trust");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RHM"), "trust");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RHMX"), "default");
}

TEST(RoutingTableTest, longest_prefix_wins_whatever_the_definition_order) {
  auto t = table({makeRoute("all-itk", FieldMatch::prefix("urn:nhs-uk:addressing")),
                  makeRoute("ods", FieldMatch::prefix("urn:nhs-uk:addressing:ods")),
                  makeRoute("team", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM:team1")),
                  makeRoute("rhm", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM"))});
  EXPECT_EQ(winner(*t, kTeam), "team");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RHM:team2:B"), "rhm");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RXX"), "ods");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:org:1"), "all-itk");
}

TEST(RoutingTableTest, glob_and_prefix_are_ranked_by_literal_characters) {
  auto t = table({makeRoute("catch-all", FieldMatch::prefix("urn:nhs-uk:addressing")),
                  makeRoute("teams", FieldMatch::glob("urn:nhs-uk:addressing:ods:RHM:team?:*")),
                  makeRoute("r-trusts", FieldMatch::glob("urn:nhs-uk:addressing:ods:R*")),
                  makeRoute("rhm", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM"))});
  EXPECT_EQ(winner(*t, kTeam), "teams");  // 36 literal characters against rhm's 29
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RHM:x"), "rhm");     // 29 against r-trusts' 27
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RXX"), "r-trusts");  // 27 against 21
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:AAA"), "catch-all");
}

TEST(RoutingTableTest, more_literal_glob_wins_among_globs) {
  auto t = table({makeRoute("any-team", FieldMatch::glob("*:team*")),
                  makeRoute("rhm-team", FieldMatch::glob("urn:nhs-uk:addressing:ods:RHM:team*"))});
  EXPECT_EQ(winner(*t, kTeam), "rhm-team");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RXX:team1"), "any-team");
}

TEST(RoutingTableTest, service_breaks_ties_on_address) {
  auto t = table({makeRoute("any-service", FieldMatch::exact(kTeam)),
                  makeRoute("glob-service", FieldMatch::exact(kTeam),
                            FieldMatch::glob("urn:nhs-itk:services:201005:Send*")),
                  makeRoute("cda", FieldMatch::exact(kTeam), FieldMatch::exact(kSend))});
  EXPECT_EQ(winner(*t, kTeam, kSend), "cda");
  EXPECT_EQ(winner(*t, kTeam, "urn:nhs-itk:services:201005:SendDocument-v1-0"), "glob-service");
  EXPECT_EQ(winner(*t, kTeam, "urn:nhs-itk:services:201005:verifyNHSNumber-v1-0"), "any-service");
}

TEST(RoutingTableTest, address_specificity_comes_before_service) {
  auto t = table({makeRoute("cda-anywhere", FieldMatch::any(), FieldMatch::exact(kSend)),
                  makeRoute("team", FieldMatch::exact(kTeam))});
  EXPECT_EQ(winner(*t, kTeam, kSend), "team");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RXX", kSend), "cda-anywhere");
}

TEST(RoutingTableTest, interaction_then_sender_refine) {
  Route base = makeRoute("base", FieldMatch::exact(kTeam));
  Route by_sender = makeRoute("by-sender", FieldMatch::exact(kTeam));
  by_sender.sender = FieldMatch::exact("urn:nhs-uk:addressing:ods:GP1");
  Route by_interaction = makeRoute("by-interaction", FieldMatch::exact(kTeam));
  by_interaction.interaction = FieldMatch::glob("urn:nhs-itk:interaction:*Discharge*");
  auto t = table({base, by_sender, by_interaction});
  EXPECT_EQ(winner(*t, kTeam, kSend, "urn:nhs-uk:addressing:ods:GP1"), "by-sender");
  EXPECT_EQ(winner(*t, kTeam, kSend, "urn:nhs-uk:addressing:ods:GP1",
                   "urn:nhs-itk:interaction:primaryRecipienteDischargeInpatient-v1-0"),
            "by-interaction");  // interaction is compared before sender
  EXPECT_EQ(winner(*t, kTeam, kSend, "urn:nhs-uk:addressing:ods:GP2"), "base");
  // A route that names a sender never matches a message without one.
  EXPECT_EQ(winner(*t, kTeam, kSend, ""), "base");
}

TEST(RoutingTableTest, priority_breaks_ties_then_definition_order) {
  Route low = makeRoute("low", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM"));
  Route high = makeRoute("high", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM"));
  high.priority = 5;
  Route first = makeRoute("first", FieldMatch::glob("*:team1:*"));
  Route second = makeRoute("second", FieldMatch::glob("*:team1:*"));
  auto t = table({low, high, first, second});
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RHM:x"), "high");
  EXPECT_EQ(winner(*t, "urn:nhs-uk:addressing:ods:RXX:team1:B"), "first");
  EXPECT_TRUE(t->outranks(t->routes()[1], t->routes()[0]));
  EXPECT_TRUE(t->outranks(t->routes()[2], t->routes()[3]));
  // Priority never beats specificity.
  Route exact = makeRoute("exact", FieldMatch::exact(kTeam));
  Route loud = makeRoute("loud", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM"));
  loud.priority = 1000;
  EXPECT_EQ(winner(*table({loud, exact}), kTeam), "exact");
}

TEST(RoutingTableTest, candidates_are_every_match_best_first) {
  auto t = table({makeRoute("default", FieldMatch::any()),
                  makeRoute("trust", FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM")),
                  makeRoute("other", FieldMatch::exact("urn:nhs-uk:addressing:ods:RXX")),
                  makeRoute("team", FieldMatch::exact(kTeam))});
  auto c = t->candidates(RouteQuery{kSend, kTeam, "", ""});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0]->name, "team");
  EXPECT_EQ(c[1]->name, "trust");
  EXPECT_EQ(c[2]->name, "default");
}

TEST(RoutingTableTest, endpoint_and_route_by_name) {
  auto t = table({makeRoute("a", FieldMatch::any()), makeRoute("b", FieldMatch::exact("x"))});
  ASSERT_NE(t->endpoint("ep"), nullptr);
  EXPECT_EQ(t->endpoint("ep")->transport, "loopback");
  EXPECT_EQ(t->endpoint("nope"), nullptr);
  ASSERT_NE(t->route("b"), nullptr);
  EXPECT_EQ(t->route("b"), &t->routes()[1]);
  EXPECT_EQ(t->route("c"), nullptr);
}

// Random tables mixing every pattern kind on every field, for checking the index against the
// definition.
class RandomTables {
 public:
  explicit RandomTables(uint32_t seed) : rng_(seed) {}

  std::string address() {
    std::string a = "urn:nhs-uk:addressing";
    int extra = std::uniform_int_distribution<int>(0, 4)(rng_);
    for (int i = 0; i < extra; ++i) a += ":" + pick(kTokens);
    return a;
  }
  std::string service() { return pick(kServices); }
  uint32_t next() { return static_cast<uint32_t>(rng_()); }

  std::shared_ptr<RoutingTable> table(int max_routes) {
    std::vector<Route> routes;
    int n = std::uniform_int_distribution<int>(1, max_routes)(rng_);
    for (int i = 0; i < n; ++i) {
      Route r = makeRoute("r" + std::to_string(i), pattern([&] { return address(); }),
                          pattern([&] { return service(); }));
      if (next() % 4 == 0) r.sender = FieldMatch::exact("s" + std::to_string(next() % 2));
      if (next() % 4 == 0) r.interaction = FieldMatch::glob("i*");
      r.priority = static_cast<int>(next() % 3);
      if (next() % 10 == 0 && i > 0) r.name = routes.back().name;  // one route's match list
      routes.push_back(std::move(r));
    }
    return std::make_shared<RoutingTable>(std::move(routes), endpointsNamed({"ep"}), "v", "c");
  }

 private:
  inline static const std::vector<std::string> kTokens = {
      "urn", "nhs-uk", "addressing", "ods", "RHM", "RH", "R", "RXX", "team1", "team2", "A", ""};
  inline static const std::vector<std::string> kServices = {"svc:a", "svc:b", "svc:a:x"};

  std::string pick(const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng_)];
  }
  template <class F>
  FieldMatch pattern(F make_value) {
    switch (std::uniform_int_distribution<int>(0, 4)(rng_)) {
      case 0:
        return FieldMatch::any();
      case 1:
        return FieldMatch::exact(make_value());
      case 2: {
        std::string v = make_value();
        size_t at = std::uniform_int_distribution<size_t>(0, v.size())(rng_);
        return FieldMatch::glob(v.substr(0, at) + (next() % 2 ? "*" : "?") +
                                v.substr(std::min(v.size(), at + next() % 3)));
      }
      case 3:
        return FieldMatch::glob("*" + make_value().substr(next() % 5));
      default:
        return FieldMatch::prefix(make_value());
    }
  }

  std::mt19937 rng_;
};

bool coversAll(const Route& s, const Route& r) {
  return s.address.covers(r.address) && s.service.covers(r.service) &&
         s.interaction.covers(r.interaction) && s.sender.covers(r.sender);
}

TEST(RoutingTableTest, index_agrees_with_the_definition_on_random_tables) {
  RandomTables random(20261125);
  for (int round = 0; round < 40; ++round) {
    auto t = random.table(60);
    for (int q = 0; q < 300; ++q) {
      std::string a = random.address(), s = random.service();
      std::string snd = "s" + std::to_string(random.next() % 3);
      std::string inter = random.next() % 2 ? "i1" : "";
      RouteQuery query{s, a, snd, inter};
      // The reference: precedence as routing.h defines it, over every route.
      const Route* expected = nullptr;
      auto key = [](const Route& r) {
        return std::make_tuple(r.address.specificity(), r.service.specificity(),
                               r.interaction.specificity(), r.sender.specificity(), r.priority);
      };
      for (const Route& r : t->routes()) {
        if (!r.address.matches(a) || !r.service.matches(s) || !r.sender.matches(snd) ||
            !r.interaction.matches(inter)) {
          continue;
        }
        if (expected == nullptr || key(r) > key(*expected)) expected = &r;
      }
      ASSERT_EQ(t->lookup(query), expected) << "round " << round << " address " << a;
      auto all = t->candidates(query);
      ASSERT_EQ(all.empty() ? nullptr : all.front(), expected);
    }
  }
}

// The shadowing analysis looks only where the index says a coverer can be; it must find what a
// comparison of every pair finds.
TEST(RoutingTableTest, shadow_analysis_agrees_with_every_pair_on_random_tables) {
  RandomTables random(7);
  int shadowed_seen = 0;
  for (int round = 0; round < 60; ++round) {
    auto t = random.table(40);
    std::map<const Route*, const Route*> expected;
    for (const Route& r : t->routes()) {
      for (const Route& s : t->routes()) {
        if (s.name == r.name || !coversAll(s, r) || !t->outranks(s, r)) continue;
        auto it = expected.find(&r);
        if (it == expected.end() || t->outranks(s, *it->second)) expected[&r] = &s;
      }
    }
    ShadowAnalysis found = findShadowedRoutes(*t, 1'000'000);
    EXPECT_EQ(found.stopped_at, nullptr);
    std::map<const Route*, const Route*> got(found.shadowed.begin(), found.shadowed.end());
    ASSERT_EQ(got, expected) << "round " << round;
    shadowed_seen += static_cast<int>(got.size());
  }
  EXPECT_GT(shadowed_seen, 0);  // the random tables do exercise the analysis
}

TEST(RoutingTableTest, shadow_analysis_stops_when_its_budget_is_spent) {
  // Every route is a candidate coverer of every later one, and none covers another: about
  // 50 * 49 / 2 pair checks for no finding.
  std::vector<Route> routes;
  for (int i = 0; i < 50; ++i) {
    routes.push_back(makeRoute("r" + std::to_string(i), FieldMatch::any()));
    routes.back().sender = FieldMatch::exact("s" + std::to_string(i));
  }
  RoutingTable t(std::move(routes), endpointsNamed({"ep"}), "", "");
  ShadowAnalysis spent = findShadowedRoutes(t, 100);
  EXPECT_NE(spent.stopped_at, nullptr);
  ShadowAnalysis complete = findShadowedRoutes(t, 1'000'000);
  EXPECT_EQ(complete.stopped_at, nullptr);
  EXPECT_TRUE(complete.shadowed.empty());
}

}  // namespace
}  // namespace itk
