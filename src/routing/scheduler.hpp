// Inside src/routing: the pieces of schedule() that tests and the benchmark reach directly.
// The proxy calls schedule() and record_dispatch() from infergate/routing.hpp.
#pragma once

#include <optional>
#include <span>

#include "infergate/routing.hpp"
#include "routing/endpoint_view.hpp"

namespace infergate {

// Header names the proxy reads into RequestContext, or writes (debug_headers).
inline constexpr std::string_view kSessionHeader = "x-session-id";
inline constexpr std::string_view kObjectiveHeader = "x-gateway-inference-objective";
inline constexpr std::string_view kScoresHeader = "x-gateway-destination-endpoint-scores";
inline constexpr std::string_view kApiKeyHeader = "x-api-key";  // Anthropic-style clients' key

// One target of `model` drawn with probability weight / total_weight; never a weight-0 target.
// nullptr when the model has no target with a positive weight.
const Target* pick_target(const ModelRoute& model, Rng& rng);

// The priority of a request: its objective's when the snapshot knows it, else its API key's
// default (`key_priority`), else its model's.
int request_priority(const Snapshot& snapshot, const ModelRoute& model, std::string_view objective,
                     std::optional<int> key_priority = std::nullopt);

// What read_view needs from a pool's settings, for a request of `priority` (the batch slots
// reserved for Critical count as full for the others).
ViewOptions view_options(const Pool& pool, int priority);

// Whether a queued request of `priority` for `pool` could be dispatched now: the pool has
// endpoints and is not saturated for it. The proxy checks it when capacity may have freed (a response finished, a scrape
// arrived) before popping its wait queue and calling schedule() again.
bool pool_accepts(const Pool& pool, int priority, SteadyClock::time_point now);

// The pending-prefill estimate of a prompt of `prompt_bytes` whose first `cached_bytes` the
// endpoint probably holds: the rest at about four bytes per token (English text under common
// tokenizers; the prompt is counted raw, JSON escapes included, which is close enough).
inline constexpr std::size_t kPromptBytesPerToken = 4;
std::int64_t prefill_tokens_estimate(std::size_t prompt_bytes, std::size_t cached_bytes);

// True when every available candidate (all of them, when none is available) is saturated.
bool pool_saturated(std::span<const EndpointView> views);

}  // namespace infergate
