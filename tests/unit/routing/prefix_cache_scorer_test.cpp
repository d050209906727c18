// prefix-cache-scorer: chained block hashes, the bounded index, matched leading blocks / total,
// the hot-spot guard.
#include "plugin_fixture.hpp"

#include <thread>

#include <xxhash.h>

#include "routing/prefix_hash.hpp"
#include "routing/prefix_index.hpp"

using namespace infergate;
using namespace infergate::testing;

namespace {

using Part = RequestFacts::PromptPart;

RequestFacts chat(std::vector<Part> parts) {
  RequestFacts facts;
  facts.prompt = std::move(parts);
  return facts;
}

std::vector<std::uint64_t> hashes(const std::vector<Part>& parts, std::string_view model,
                                  std::size_t block = 8, std::size_t max = 100) {
  std::vector<std::uint64_t> out;
  prefix_block_hashes(parts, model, block, max, out);
  return out;
}

}  // namespace

TEST_CASE("block hashes: chained over the canonical prompt, seeded with the model") {
  const std::string system(40, 's');
  const std::vector<Part> a = {{"system", system}, {"user", "hello there, how are you"}};
  const std::vector<Part> b = {{"system", system}, {"user", "something else entirely!"}};
  // Canonical text: role 0x1F text 0x1E per part; 8-byte blocks, whole blocks only.
  std::string canonical;
  for (const auto& p : a) canonical += std::string(p.role) + "\x1f" + std::string(p.text) + "\x1e";
  std::vector<std::uint64_t> expected;
  std::uint64_t chain = XXH3_64bits("m", 1);
  for (std::size_t i = 0; i + 8 <= canonical.size(); i += 8) {
    chain = XXH3_64bits_withSeed(canonical.data() + i, 8, chain);
    expected.push_back(chain);
  }
  CHECK(hashes(a, "m") == expected);
  CHECK(hashes(a, "m").size() == canonical.size() / 8);

  struct Case {
    const char* what;
    std::vector<std::uint64_t> x, y;
    std::size_t common;  // leading blocks equal
  };
  const auto ha = hashes(a, "m"), hb = hashes(b, "m"), hc = hashes(a, "other-model");
  const Case cases[] = {
      {"same prompt", ha, hashes(a, "m"), ha.size()},
      {"shared system prompt", ha, hb, (7 + 40 + 1 + 4) / 8},  // blocks before the user text differs
      {"another model", ha, hc, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    std::size_t common = 0;
    while (common < std::min(c.x.size(), c.y.size()) && c.x[common] == c.y[common]) ++common;
    CHECK(common == c.common);
  }
  CHECK(hashes({{"user", "short"}}, "m", 64).empty());
  CHECK(hashes(a, "m", 8, 3).size() == 3);
}

TEST_CASE("prefix index: leading matches per endpoint, bounded memory") {
  PrefixIndex index(1 << 20);
  const std::vector<std::uint64_t> warm = {11, 12, 13, 14};
  CHECK(index.insert(warm, 1) == 0);
  CHECK(index.insert({{11, 12}}, 2) == 0);
  struct Case {
    std::vector<std::uint64_t> request;
    std::vector<std::uint32_t> expected;  // for endpoints 1, 2, 3
  };
  const std::vector<Case> cases = {
      {{11, 12, 13, 14}, {4, 2, 0}},
      {{11, 12, 99, 14}, {2, 2, 0}},
      {{99, 98, 97}, {0, 0, 0}},
      {{11}, {1, 1, 0}},
      {{}, {0, 0, 0}},
  };
  // (Real hashes are chained: a request never holds a block of a warm prefix after a cold one.)
  const std::vector<std::uint32_t> ids = {1, 2, 3};
  for (const Case& c : cases) {
    std::vector<std::uint32_t> matched(3);
    index.match(c.request, ids, matched);
    CHECK(matched == c.expected);
  }
  CHECK(index.entries(1) == 4);
  // An insert tells how many leading blocks the endpoint held already (the cached part).
  CHECK(index.insert({{11, 12, 13, 15}}, 1) == 3);
  CHECK(index.insert({{11, 12, 13, 14}}, 2) == 2);
  CHECK(index.insert({{99, 12}}, 2) == 0);  // a cold first block: nothing leading is cached

  PrefixIndex small(4096);  // 16 buckets of 16 ways
  CHECK(small.capacity() == 256);
  std::vector<std::uint64_t> many;
  for (std::uint64_t i = 1; i <= 10'000; ++i) many.push_back(i * 0x9E3779B97F4A7C15ULL);
  small.insert(many, 7);
  CHECK(small.entries(7) == 256);
  // The most recent blocks survive (LRU within each bucket).
  std::vector<std::uint32_t> matched(1);
  small.insert({{42}}, 7);
  small.match({{42}}, {{7}}, matched);
  CHECK(matched[0] == 1);
}

TEST_CASE("prefix index: concurrent inserts and matches stay consistent") {
  PrefixIndex index(4 << 20);  // roomy: no eviction, so every insert must be found
  std::vector<std::thread> threads;
  for (std::uint32_t t = 1; t <= 4; ++t) {
    threads.emplace_back([&index, t] {
      std::vector<std::uint64_t> blocks(32);
      std::vector<std::uint32_t> matched(4);
      const std::vector<std::uint32_t> ids = {1, 2, 3, 4};
      for (int round = 0; round < 2000; ++round) {
        for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i] = (round % 50) * 1000 + i + 1;
        index.insert(blocks, t);
        index.match(blocks, ids, matched);
        CHECK(matched[t - 1] >= 1);
      }
    });
  }
  for (auto& t : threads) t.join();
}

TEST_CASE("prefix-cache-scorer: matched share, hot-spot guard, index fed by dispatch") {
  auto scorer = make_plugin<Scorer>("prefix-cache-scorer", {{"block_size", 8}, {"hot_spot_queue", 4}});
  const std::string system(64, 'x');
  RequestFacts warm = chat({{"system", system}, {"user", "first question here"}});
  RequestFacts cold = chat({{"system", system}, {"user", "another question...!"}});
  struct Case {
    const char* what;
    std::vector<double> backlogs;  // requests waiting on each server (EndpointView::backlog)
    std::vector<double> queues;    // requests on each server: the guard ignores them
    std::vector<double> expected;  // the warm endpoint is candidate 0
  };
  Fleet fleet({with_queue(0), with_queue(0), with_queue(0)});
  auto request = request_for(warm);
  scorer->prepare(request);
  const auto total = request.prefix_hashes.size();
  REQUIRE(total > 0);
  CHECK(scorer->on_dispatched(*fleet.endpoints[0], {request.prefix_hashes, "m"}) == 0);
  CHECK(scorer->state_entries(*fleet.endpoints[0]) == total);

  const double shared = static_cast<double>((6 + 1 + 64 + 1 + 4) / 8);  // blocks of the system part
  auto cold_request = request_for(cold);
  scorer->prepare(cold_request);
  const double cold_total = static_cast<double>(cold_request.prefix_hashes.size());
  const std::vector<Case> cases = {
      {"idle", {0, 0, 0}, {0, 0, 0}, {1.0, 0.0, 0.0}},
      {"busier but nobody waits", {0, 0, 0}, {7, 0, 0}, {1.0, 0.0, 0.0}},
      {"4 waiting above the shortest: within the guard", {4, 0, 0}, {12, 0, 0}, {1.0, 0.0, 0.0}},
      {"5 above: load wins", {5, 0, 1}, {13, 8, 9}, {0.0, 0.0, 0.0}},
      {"everyone queues: up to 4 + twice the shortest", {14, 6, 5}, {22, 14, 13}, {1.0, 0.0, 0.0}},
      {"everyone queues, the warm one past that", {15, 6, 5}, {23, 14, 13}, {0.0, 0.0, 0.0}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    for (std::size_t i = 0; i < 3; ++i) {
      fleet.views[i].backlog = c.backlogs[i];
      fleet.views[i].queue = c.queues[i];
    }
    auto r = request_for(warm);
    CHECK(score(*scorer, r, fleet) == c.expected);
  }
  for (auto& v : fleet.views) v.queue = v.backlog = 0;
  auto r = request_for(cold);
  const auto got = score(*scorer, r, fleet);
  CHECK(got[0] == doctest::Approx(shared / cold_total));
  CHECK(got[1] == 0.0);
  // The dispatch hook reports the bytes the endpoint already holds: the shared system blocks.
  CHECK(scorer->on_dispatched(*fleet.endpoints[0], {r.prefix_hashes, "m"}) == shared * 8);
  CHECK(scorer->on_dispatched(*fleet.endpoints[1], {r.prefix_hashes, "m"}) == 0);
  CHECK(scorer->on_dispatched(*fleet.endpoints[1], {r.prefix_hashes, "m"}) == cold_total * 8);
}

TEST_CASE("prefix-cache-scorer: the default guard: a warm server loses affinity once it queues while another has room, or queues twice as deep") {
  auto scorer = make_plugin<Scorer>("prefix-cache-scorer", {{"block_size", 8}});
  const std::string system(64, 'x');  // outlives `facts`, whose parts are views
  const RequestFacts facts = chat({{"system", system}, {"user", "a question"}});
  Fleet fleet({with_queue(0), with_queue(0)});
  auto request = request_for(facts);
  scorer->prepare(request);
  scorer->on_dispatched(*fleet.endpoints[0], {request.prefix_hashes, "m"});
  struct Case {
    double warm_backlog, other_backlog;
    double expected;  // the warm endpoint's score
  };
  // Hot past hot_spot_queue (0) + twice the smallest backlog.
  const Case cases[] = {{0, 0, 1.0}, {1, 0, 0.0}, {1, 1, 1.0}, {4, 2, 1.0}, {5, 2, 0.0},
                        {2, 3, 1.0}, {7, 7, 1.0}, {13, 6, 0.0}};
  for (const Case& c : cases) {
    CAPTURE(c.warm_backlog);
    CAPTURE(c.other_backlog);
    fleet.views[0].backlog = c.warm_backlog;
    fleet.views[1].backlog = c.other_backlog;
    auto r = request_for(facts);
    CHECK(score(*scorer, r, fleet)[0] == c.expected);
  }
}
