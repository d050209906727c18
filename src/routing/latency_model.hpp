// Online per-pool latency model: predicts TTFT and TPOT (ms) from an endpoint's load and the
// request's shape, learnt from the requests this gateway completes.
//
// Why recursive least squares with forgetting: the features are few (<10) and the relation of
// queue depth / KV use / uncached prompt tokens to latency is close to linear over a pool's working
// range (llm-d's SLO-aware predictor uses the same inputs). RLS costs O(d^2) per update and
// O(d) per prediction, needs no batch, no allocation, and the forgetting factor tracks drift
// (model swaps, autoscaling) without a retraining job. Updates take a mutex held for ~100 ns; they
// run when a response completes, never on the pick path, which only reads a copied weight vector.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace infergate {

// What is known about a candidate endpoint and the request when it is picked.
struct LatencyFeatures {
  double waiting = 0;          // requests queued at the endpoint (scraped + this replica's)
  double running = 0;          // requests running at the endpoint
  double kv_use = 0;           // KV-cache use, 0..1
  double prompt_tokens = 0;    // estimated prompt length
  double prefix_tokens = 0;    // tokens the prefix scorer expects cached
};

// Recursive least squares with exponential forgetting over a fixed-size feature vector.
class RecursiveLeastSquares {
 public:
  static constexpr std::size_t kDim = 6;  // bias + 5 features
  using Vector = std::array<double, kDim>;

  explicit RecursiveLeastSquares(double forgetting = 0.995, double initial_variance = 1e4);
  void update(const Vector& x, double y);
  double predict(const Vector& x) const;
  const Vector& weights() const { return w_; }

 private:
  double lambda_;
  Vector w_{};
  std::array<Vector, kDim> p_{};  // inverse covariance estimate
};

// Thread-safe TTFT + TPOT model of one pool, with sample counts and mean absolute errors.
class LatencyModel {
 public:
  struct Prediction {
    double ttft_ms = 0;
    double tpot_ms = 0;
    bool trained = false;  // enough samples for the prediction to mean something
  };
  struct State {
    std::uint64_t ttft_samples = 0, tpot_samples = 0;
    double ttft_mae_ms = 0, tpot_mae_ms = 0;  // exponentially weighted, prediction made before update
  };

  explicit LatencyModel(std::uint64_t min_samples = 20) : min_samples_(min_samples) {}

  void observe_ttft(const LatencyFeatures& f, double ttft_ms);
  void observe_tpot(const LatencyFeatures& f, double tpot_ms);
  Prediction predict(const LatencyFeatures& f) const;
  State state() const;

  static RecursiveLeastSquares::Vector vectorize(const LatencyFeatures& f);

 private:
  std::uint64_t min_samples_;
  mutable std::mutex mu_;
  RecursiveLeastSquares ttft_, tpot_;
  State state_;
};

}  // namespace infergate
