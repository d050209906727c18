// "prefix-cache-scorer": the share of the prompt's leading blocks this gateway already sent to
// each endpoint (whose KV cache probably still holds them): matched leading blocks / total
// blocks. Parameters: block_size (bytes of canonical prompt per block, 64), max_blocks (256),
// index_bytes (memory bound of the index, 16 MiB), hot_spot_queue (0).
// Hot-spot guard: a warm cache is worth less than a wait for a batch slot. Endpoints whose
// backlog (requests waiting on the server now, estimated: EndpointView::backlog) is more than
// hot_spot_queue above the smallest candidate backlog score 0, so a popular prefix spreads as soon
// as its favourite starts queueing while another server has room, and load wins. The guard reads
// the waiting queue, not the running count: a server with free slots serves a warm request at
// once however many it runs, whatever its batch size (8 or 256), and a request that waits costs
// about a slot's turnover, of the order of an uncached prefill. An endpoint is hot when its
// backlog exceeds hot_spot_queue + 2 x the smallest: with room somewhere (smallest 0) a warm
// server that starts queueing loses its affinity at once (default 0); when every server queues
// (overload), a warm one may queue up to twice as deep, since its hits shorten the prefills that
// hold the slots everyone waits for. In bench/routing: a margin of 8 in-flight requests let warm
// 8-sequence servers queue a full batch deep; a fixed margin of 2 waiting, 8-10 deep at half load;
// a fixed margin of 0 spread every group under overload (prefix hits 92% -> 69% at 120% load).
// State: the PrefixIndex (thread-safe, see prefix_index.hpp), updated by on_dispatched, which
// also tells the leading blocks the endpoint held already (its cached bytes: the pending-prefill
// estimate counts only the rest of the prompt).
#include "routing/plugins/plugins.hpp"

#include <algorithm>

#include "routing/prefix_hash.hpp"
#include "routing/prefix_index.hpp"
#include "routing/registry.hpp"

namespace infergate::plugins {
namespace {

class PrefixCacheScorer final : public Scorer {
 public:
  explicit PrefixCacheScorer(const PluginConfig& config)
      : block_size_(static_cast<std::size_t>(plugin_param(config, "block_size"))),
        max_blocks_(static_cast<std::size_t>(plugin_param(config, "max_blocks"))),
        hot_spot_queue_(plugin_param(config, "hot_spot_queue")),
        index_(static_cast<std::size_t>(plugin_param(config, "index_bytes"))) {}

  std::string_view type() const noexcept override { return "prefix-cache-scorer"; }

  void prepare(SchedulingRequest& request) const override {
    prefix_block_hashes(request.facts->prompt, request.model, block_size_, max_blocks_,
                        request.prefix_hashes);
  }

  void score(const SchedulingRequest& request, std::span<const EndpointView* const> candidates,
             std::span<double> out) const override {
    const std::size_t n = candidates.size();
    std::fill(out.begin(), out.end(), 0.0);
    if (request.prefix_hashes.empty() || n == 0) return;
    thread_local std::vector<std::uint32_t> ids, matched;
    ids.resize(n);
    matched.resize(n);
    double min_backlog = candidates[0]->backlog;
    for (std::size_t i = 0; i < n; ++i) {
      ids[i] = candidates[i]->endpoint->id;
      min_backlog = std::min(min_backlog, candidates[i]->backlog);
    }
    index_.match(request.prefix_hashes, ids, matched);
    const double total = static_cast<double>(request.prefix_hashes.size());
    for (std::size_t i = 0; i < n; ++i) {
      const bool hot = candidates[i]->backlog > 2 * min_backlog + hot_spot_queue_;
      out[i] = hot ? 0.0 : matched[i] / total;
    }
  }

  std::size_t on_dispatched(const Endpoint& endpoint, const DispatchedRequest& request) const override {
    return index_.insert(request.prefix_hashes, endpoint.id) * block_size_;
  }

  std::size_t state_entries(const Endpoint& endpoint) const override {
    return index_.entries(endpoint.id);
  }
  void count_state_entries(std::unordered_map<std::uint32_t, std::size_t>& counts) const override {
    index_.count_entries(counts);
  }

 private:
  std::size_t block_size_;
  std::size_t max_blocks_;
  double hot_spot_queue_;
  mutable PrefixIndex index_;
};

}  // namespace

std::unique_ptr<Plugin> make_prefix_cache_scorer(const PluginConfig& config) {
  return std::make_unique<PrefixCacheScorer>(config);
}

}  // namespace infergate::plugins
