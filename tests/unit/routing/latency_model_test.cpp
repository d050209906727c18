// The online latency model: RLS recovers a linear relation, forgets old regimes, and the pool
// model counts samples, reports errors and only calls itself trained after enough samples.
#include <doctest/doctest.h>

#include <limits>
#include <thread>
#include <vector>

#include "routing/latency_model.hpp"

using namespace infergate;

namespace {
// A synthetic endpoint: TTFT grows with queue and uncached prompt, TPOT with running requests.
double true_ttft(const LatencyFeatures& f) {
  return 20 + 15 * f.waiting + 0.05 * (f.prompt_tokens - f.prefix_tokens);
}
double true_tpot(const LatencyFeatures& f) { return 8 + 1.5 * f.running + 10 * f.kv_use; }

LatencyFeatures sample(int i) {
  return {double(i % 7), double(i % 11), (i % 5) / 5.0, double(200 + (i * 37) % 1800),
          double((i * 13) % 200)};
}
}  // namespace

TEST_CASE("RLS recovers a linear relation exactly") {
  RecursiveLeastSquares rls(1.0);
  for (int i = 0; i < 200; ++i) {
    const auto f = sample(i);
    rls.update(LatencyModel::vectorize(f), true_ttft(f));
  }
  for (int i = 1000; i < 1010; ++i) {
    const auto f = sample(i);
    CHECK(rls.predict(LatencyModel::vectorize(f)) == doctest::Approx(true_ttft(f)).epsilon(0.01));
  }
}

TEST_CASE("forgetting tracks a changed endpoint") {
  RecursiveLeastSquares rls(0.95);
  const LatencyFeatures f{2, 3, 0.5, 500, 0};
  for (int i = 0; i < 100; ++i) rls.update(LatencyModel::vectorize(sample(i)), 100.0);
  for (int i = 0; i < 200; ++i) rls.update(LatencyModel::vectorize(sample(i)), 300.0);
  CHECK(rls.predict(LatencyModel::vectorize(f)) == doctest::Approx(300.0).epsilon(0.02));
}

TEST_CASE("pool model: untrained until min samples, then predicts with small error") {
  LatencyModel model(20);
  CHECK_FALSE(model.predict(sample(0)).trained);
  for (int i = 0; i < 19; ++i) {
    model.observe_ttft(sample(i), true_ttft(sample(i)));
    model.observe_tpot(sample(i), true_tpot(sample(i)));
  }
  CHECK_FALSE(model.predict(sample(0)).trained);
  for (int i = 19; i < 300; ++i) {
    model.observe_ttft(sample(i), true_ttft(sample(i)));
    model.observe_tpot(sample(i), true_tpot(sample(i)));
  }
  const auto p = model.predict(sample(5000));
  CHECK(p.trained);
  CHECK(p.ttft_ms == doctest::Approx(true_ttft(sample(5000))).epsilon(0.02));
  CHECK(p.tpot_ms == doctest::Approx(true_tpot(sample(5000))).epsilon(0.02));
  const auto s = model.state();
  CHECK(s.ttft_samples == 300);
  CHECK(s.tpot_samples == 300);
  CHECK(s.ttft_mae_ms < 1.0);
  CHECK(s.tpot_mae_ms < 1.0);
}

TEST_CASE("a busier endpoint is predicted slower") {
  LatencyModel model(5);
  for (int i = 0; i < 100; ++i) {
    model.observe_ttft(sample(i), true_ttft(sample(i)));
    model.observe_tpot(sample(i), true_tpot(sample(i)));
  }
  const LatencyFeatures idle{0, 0, 0.1, 500, 0}, busy{6, 9, 0.8, 500, 0};
  CHECK(model.predict(idle).ttft_ms < model.predict(busy).ttft_ms);
  CHECK(model.predict(idle).tpot_ms < model.predict(busy).tpot_ms);
}

TEST_CASE("invalid observations are ignored; concurrent updates are safe") {
  LatencyModel model(1);
  model.observe_ttft(sample(0), -1);
  model.observe_tpot(sample(0), std::numeric_limits<double>::quiet_NaN());
  CHECK(model.state().ttft_samples == 0);
  CHECK(model.state().tpot_samples == 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&model, t] {
      for (int i = 0; i < 500; ++i) model.observe_ttft(sample(i + t), true_ttft(sample(i + t)));
    });
  for (auto& th : threads) th.join();
  CHECK(model.state().ttft_samples == 2000);
}
