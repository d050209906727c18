// Which endpoint holds which KV blocks, learned from the servers' KV events (kv_events.hpp).
//
// Keys: the gateway cannot recompute an engine's block hashes (vLLM seeds them per process
// unless PYTHONHASHSEED is shared, and the hash function is configurable), so, as llm-d does,
// every stored block is re-keyed from its tokens: gateway key = XXH3(tokens of the block, seed =
// key of the parent block). A request's tokens chained the same way (chain_keys) give the keys
// to look up. Engine hash -> gateway key is kept per endpoint so that BlockRemoved, which only
// carries engine hashes, can be applied.
//
// Bounds: at most `max_blocks` blocks per endpoint; storing into a full endpoint evicts its
// least recently stored block (the server would have evicted its own LRU block by then too).
//
// Sequence numbers: a message whose seq is not last+1 means missed events (gap) or a restarted
// publisher (seq went back). Either way the endpoint's view is no longer trustworthy (a missed
// BlockRemoved would leave a false hit), so its blocks are cleared and re-learned; callers that
// can replay the missing range do so before applying (see apply's result).
//
// Threads: one writer per endpoint (the subscriber thread), many readers (scorer); a
// shared_mutex guards everything: writes are short per batch, reads take it shared.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "routing/kv_events.hpp"

namespace infergate::kv {

// Gateway keys of the full blocks of `tokens` (a trailing partial block has no key).
std::vector<BlockKey> chain_keys(std::span<const std::int64_t> tokens, std::size_t block_size);

struct EndpointKvState {
  std::uint64_t batches = 0;       // messages applied
  std::uint64_t events = 0;        // events inside them
  std::int64_t last_seq = -1;
  std::uint64_t gaps = 0;          // seq jumped forward
  std::uint64_t restarts = 0;      // seq went back (publisher restarted)
  std::uint64_t evicted = 0;       // dropped by the per-endpoint cap
  std::size_t blocks = 0;          // blocks held now
  std::size_t block_size = 0;      // from the last BlockStored
  std::chrono::steady_clock::time_point last_event{};
};

class KvBlockIndex {
 public:
  enum class Seq { First, InOrder, Gap, Restart };

  explicit KvBlockIndex(std::size_t max_blocks_per_endpoint);

  // Applies one message from `endpoint`. Gap/Restart clear the endpoint's blocks first.
  Seq apply(const std::string& endpoint, std::int64_t seq, const KvEventBatch& batch);
  // Forgets an endpoint (removed from its pool, or its publisher went silent).
  void erase(const std::string& endpoint);

  // How many leading blocks of `keys` the endpoint holds (0 when unknown).
  std::size_t match(const std::string& endpoint, std::span<const BlockKey> keys) const;
  // Block size the endpoint reported (0 when it has sent no BlockStored yet).
  std::size_t block_size(const std::string& endpoint) const;
  EndpointKvState state(const std::string& endpoint) const;
  std::map<std::string, EndpointKvState> states() const;

 private:
  struct Block {
    BlockKey gw_key;
    std::list<BlockKey>::iterator lru;  // position in Endpoint::lru (engine hashes)
  };
  struct Endpoint {
    EndpointKvState st;
    std::unordered_map<BlockKey, Block> by_engine;      // engine hash -> block
    std::unordered_map<BlockKey, std::uint32_t> by_gw;  // gateway key -> refcount
    std::list<BlockKey> lru;                            // engine hashes, oldest first
  };

  void clear(Endpoint& ep);
  void remove(Endpoint& ep, BlockKey engine_hash);
  void store(Endpoint& ep, const KvEvent& e);

  std::size_t max_blocks_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Endpoint> eps_;
};

}  // namespace infergate::kv
