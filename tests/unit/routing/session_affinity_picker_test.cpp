// session-affinity: the same session sticks to one endpoint; bounded load moves it on.
#include "plugin_fixture.hpp"

#include <map>
#include <set>

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("session-affinity: sticky, spread, bounded by load") {
  auto picker = make_plugin<Picker>("session-affinity", {{"load_factor", 1.25}});
  RequestFacts facts;
  Rng rng(6);
  Fleet fleet(std::vector<EndpointView>(8));
  std::map<std::string, std::uint32_t> home;
  std::set<std::uint32_t> used;
  for (int s = 0; s < 200; ++s) {
    auto request = request_for(facts);
    const std::string session = "session-" + std::to_string(s);
    request.session_id = session;
    const auto a = pick(*picker, request, fleet, rng);
    const auto b = pick(*picker, request, fleet, rng);
    CHECK(a == b);  // deterministic for a session while loads do not change
    home[session] = a[0];
    used.insert(a[0]);
  }
  CHECK(used.size() == 8);  // sessions spread over the pool

  struct Case {
    std::vector<std::int32_t> loads;  // of the home endpoint (index 0 of the case) and others
    bool moves;
  };
  // ceil(1.25 * (total + 1) / 8): home with 3 of 3 in flight is past ceil(1.25*4/8)=1.
  const std::vector<Case> cases = {{{0}, false}, {{3}, true}, {{1}, true}};
  for (const Case& c : cases) {
    auto request = request_for(facts);
    request.session_id = "session-7";
    std::vector<EndpointView> views(8);
    Fleet loaded(views);
    loaded.views[home["session-7"]].in_flight = c.loads[0];
    const auto order = pick(*picker, request, loaded, rng);
    CHECK((order[0] != home["session-7"]) == c.moves);
  }
  // No session: shortest queue first.
  Fleet queues({with_queue(5), with_queue(1), with_queue(3)});
  CHECK(pick(*picker, request_for(facts), queues, rng)[0] == 1);
}
