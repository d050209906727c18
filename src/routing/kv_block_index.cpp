#include "routing/kv_block_index.hpp"

#include <algorithm>
#include <iterator>
#include <mutex>
#include <xxhash.h>

namespace infergate::kv {

namespace {

BlockKey block_gw_key(BlockKey parent, std::span<const std::int64_t> tokens) {
  // Token ids fit in 32 bits for every tokenizer in use; hashing them as u32 halves the input.
  std::uint32_t buf[64];
  XXH3_state_t* st = nullptr;
  if (tokens.size() <= 64) {
    for (std::size_t i = 0; i < tokens.size(); ++i) buf[i] = static_cast<std::uint32_t>(tokens[i]);
    return XXH3_64bits_withSeed(buf, tokens.size() * 4, parent);
  }
  st = XXH3_createState();
  XXH3_64bits_reset_withSeed(st, parent);
  for (std::size_t i = 0; i < tokens.size(); i += 64) {
    const std::size_t n = std::min<std::size_t>(64, tokens.size() - i);
    for (std::size_t j = 0; j < n; ++j) buf[j] = static_cast<std::uint32_t>(tokens[i + j]);
    XXH3_64bits_update(st, buf, n * 4);
  }
  const BlockKey k = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return k;
}

constexpr BlockKey kRootSeed = 0x6b76626c6f636b73ULL;  // "kvblocks": parent of a first block

}  // namespace

std::vector<BlockKey> chain_keys(std::span<const std::int64_t> tokens, std::size_t block_size) {
  std::vector<BlockKey> out;
  if (block_size == 0) return out;
  out.reserve(tokens.size() / block_size);
  BlockKey prev = kRootSeed;
  for (std::size_t i = 0; i + block_size <= tokens.size(); i += block_size) {
    prev = block_gw_key(prev, tokens.subspan(i, block_size));
    out.push_back(prev);
  }
  return out;
}

KvBlockIndex::KvBlockIndex(std::size_t max_blocks_per_endpoint)
    : max_blocks_(max_blocks_per_endpoint == 0 ? 1 : max_blocks_per_endpoint) {}

void KvBlockIndex::clear(Endpoint& ep) {
  ep.by_engine.clear();
  ep.by_gw.clear();
  ep.lru.clear();
  ep.st.blocks = 0;
}

void KvBlockIndex::remove(Endpoint& ep, BlockKey engine_hash) {
  auto it = ep.by_engine.find(engine_hash);
  if (it == ep.by_engine.end()) return;
  auto g = ep.by_gw.find(it->second.gw_key);
  if (g != ep.by_gw.end() && --g->second == 0) ep.by_gw.erase(g);
  ep.lru.erase(it->second.lru);
  ep.by_engine.erase(it);
}

void KvBlockIndex::store(Endpoint& ep, const KvEvent& e) {
  const auto bs = static_cast<std::size_t>(e.block_size);
  ep.st.block_size = bs;
  BlockKey prev = kRootSeed;
  if (e.parent) {
    auto p = ep.by_engine.find(*e.parent);
    if (p == ep.by_engine.end()) return;  // parent unknown (evicted or missed): cannot key these
    prev = p->second.gw_key;
  }
  std::span<const std::int64_t> toks(e.token_ids);
  for (std::size_t i = 0; i < e.block_hashes.size(); ++i) {
    if ((i + 1) * bs > toks.size()) break;  // fewer tokens than blocks: keep what is keyed
    const BlockKey gw = block_gw_key(prev, toks.subspan(i * bs, bs));
    prev = gw;
    const BlockKey h = e.block_hashes[i];
    remove(ep, h);  // re-store refreshes the LRU position
    while (ep.by_engine.size() >= max_blocks_) {
      remove(ep, ep.lru.front());
      ++ep.st.evicted;
    }
    ep.lru.push_back(h);
    ep.by_engine.emplace(h, Block{gw, std::prev(ep.lru.end())});
    ++ep.by_gw[gw];
  }
}

KvBlockIndex::Seq KvBlockIndex::apply(const std::string& endpoint, std::int64_t seq,
                                      const KvEventBatch& batch) {
  std::unique_lock lock(mu_);
  Endpoint& ep = eps_[endpoint];
  Seq result = Seq::InOrder;
  if (ep.st.batches == 0 && ep.st.last_seq < 0) {
    result = Seq::First;
  } else if (seq > ep.st.last_seq + 1) {
    result = Seq::Gap;
    ++ep.st.gaps;
    clear(ep);
  } else if (seq <= ep.st.last_seq) {
    result = Seq::Restart;
    ++ep.st.restarts;
    clear(ep);
  }
  ep.st.last_seq = seq;
  ++ep.st.batches;
  ep.st.events += batch.events.size();
  ep.st.last_event = std::chrono::steady_clock::now();
  for (const auto& e : batch.events) {
    switch (e.type) {
      case KvEvent::Type::Stored: store(ep, e); break;
      case KvEvent::Type::Removed:
        for (auto h : e.block_hashes) remove(ep, h);
        break;
      case KvEvent::Type::AllCleared: clear(ep); break;
    }
  }
  ep.st.blocks = ep.by_engine.size();
  return result;
}

void KvBlockIndex::erase(const std::string& endpoint) {
  std::unique_lock lock(mu_);
  eps_.erase(endpoint);
}

std::size_t KvBlockIndex::match(const std::string& endpoint, std::span<const BlockKey> keys) const {
  std::shared_lock lock(mu_);
  auto it = eps_.find(endpoint);
  if (it == eps_.end()) return 0;
  std::size_t n = 0;
  while (n < keys.size() && it->second.by_gw.contains(keys[n])) ++n;
  return n;
}

std::size_t KvBlockIndex::block_size(const std::string& endpoint) const {
  std::shared_lock lock(mu_);
  auto it = eps_.find(endpoint);
  return it == eps_.end() ? 0 : it->second.st.block_size;
}

EndpointKvState KvBlockIndex::state(const std::string& endpoint) const {
  std::shared_lock lock(mu_);
  auto it = eps_.find(endpoint);
  return it == eps_.end() ? EndpointKvState{} : it->second.st;
}

std::map<std::string, EndpointKvState> KvBlockIndex::states() const {
  std::shared_lock lock(mu_);
  std::map<std::string, EndpointKvState> out;
  for (const auto& [name, ep] : eps_) out.emplace(name, ep.st);
  return out;
}

}  // namespace infergate::kv
