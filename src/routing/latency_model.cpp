#include "routing/latency_model.hpp"

#include <algorithm>
#include <cmath>

namespace infergate {

RecursiveLeastSquares::RecursiveLeastSquares(double forgetting, double initial_variance)
    : lambda_(forgetting) {
  for (std::size_t i = 0; i < kDim; ++i) p_[i][i] = initial_variance;
}

double RecursiveLeastSquares::predict(const Vector& x) const {
  double y = 0;
  for (std::size_t i = 0; i < kDim; ++i) y += w_[i] * x[i];
  return y;
}

void RecursiveLeastSquares::update(const Vector& x, double y) {
  Vector px{};  // P x
  for (std::size_t i = 0; i < kDim; ++i)
    for (std::size_t j = 0; j < kDim; ++j) px[i] += p_[i][j] * x[j];
  double denom = lambda_;
  for (std::size_t i = 0; i < kDim; ++i) denom += x[i] * px[i];
  if (!(denom > 1e-12) || !std::isfinite(denom)) return;
  const double err = y - predict(x);
  for (std::size_t i = 0; i < kDim; ++i) w_[i] += px[i] / denom * err;
  for (std::size_t i = 0; i < kDim; ++i)
    for (std::size_t j = 0; j < kDim; ++j) p_[i][j] = (p_[i][j] - px[i] * px[j] / denom) / lambda_;
}

// Scaled so each feature is O(1) in a pool's working range: P stays well conditioned.
RecursiveLeastSquares::Vector LatencyModel::vectorize(const LatencyFeatures& f) {
  const double uncached = std::max(0.0, f.prompt_tokens - f.prefix_tokens);
  return {1.0, f.waiting / 10.0, f.running / 10.0, f.kv_use, uncached / 1000.0,
          f.prefix_tokens / 1000.0};
}

namespace {
constexpr double kMaeWeight = 0.05;  // ~20-sample memory for the error shown on /debug
void track(double& mae, std::uint64_t& n, double err) {
  mae = n == 0 ? err : mae + kMaeWeight * (err - mae);
  ++n;
}
}  // namespace

void LatencyModel::observe_ttft(const LatencyFeatures& f, double ttft_ms) {
  if (!std::isfinite(ttft_ms) || ttft_ms < 0) return;
  const auto x = vectorize(f);
  std::lock_guard lock(mu_);
  track(state_.ttft_mae_ms, state_.ttft_samples, std::abs(ttft_.predict(x) - ttft_ms));
  ttft_.update(x, ttft_ms);
}

void LatencyModel::observe_tpot(const LatencyFeatures& f, double tpot_ms) {
  if (!std::isfinite(tpot_ms) || tpot_ms < 0) return;
  const auto x = vectorize(f);
  std::lock_guard lock(mu_);
  track(state_.tpot_mae_ms, state_.tpot_samples, std::abs(tpot_.predict(x) - tpot_ms));
  tpot_.update(x, tpot_ms);
}

LatencyModel::Prediction LatencyModel::predict(const LatencyFeatures& f) const {
  const auto x = vectorize(f);
  std::lock_guard lock(mu_);
  return {std::max(0.0, ttft_.predict(x)), std::max(0.0, tpot_.predict(x)),
          state_.ttft_samples >= min_samples_ && state_.tpot_samples >= min_samples_};
}

LatencyModel::State LatencyModel::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

}  // namespace infergate
