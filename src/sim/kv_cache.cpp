#include "sim/kv_cache.hpp"

#include <xxhash.h>

namespace infergate::sim {

KvCache::KvCache(std::uint32_t num_blocks, std::uint32_t block_size)
    : block_size_(block_size == 0 ? 1 : block_size), blocks_(num_blocks) {
  for (std::uint32_t i = 0; i < num_blocks; ++i) {
    blocks_[i].free_pos = free_.insert(free_.end(), i);
  }
}

std::vector<std::uint64_t> KvCache::block_hashes(std::span<const std::uint32_t> tokens) const {
  std::vector<std::uint64_t> out;
  out.reserve(tokens.size() / block_size_);
  std::uint64_t prev = 0;
  for (std::size_t at = 0; at + block_size_ <= tokens.size(); at += block_size_) {
    prev = XXH64(tokens.data() + at, block_size_ * sizeof(std::uint32_t), prev);
    out.push_back(prev);
  }
  return out;
}

std::uint32_t KvCache::cached_prefix(std::span<const std::uint64_t> hashes) const {
  std::uint32_t n = 0;
  for (auto h : hashes) {
    if (by_hash_.find(h) == by_hash_.end()) break;
    ++n;
  }
  return n;
}

std::optional<KvCache::Allocation> KvCache::allocate(std::span<const std::uint64_t> hashes,
                                                     std::uint32_t total_blocks,
                                                     std::uint32_t max_cached) {
  std::uint32_t hits = std::min(cached_prefix(hashes), std::min(max_cached, total_blocks));
  std::uint32_t hits_free = 0;  // hit blocks that currently sit on the free list
  for (std::uint32_t i = 0; i < hits; ++i) {
    if (blocks_[by_hash_.at(hashes[i])].refs == 0) ++hits_free;
  }
  const std::uint32_t fresh = total_blocks - hits;
  if (fresh > free_blocks() - hits_free) return std::nullopt;

  Allocation a;
  a.blocks.reserve(total_blocks);
  a.cached_blocks = hits;
  for (std::uint32_t i = 0; i < hits; ++i) {
    const std::uint32_t id = by_hash_.at(hashes[i]);
    Block& b = blocks_[id];
    if (b.refs++ == 0) free_.erase(b.free_pos);
    a.blocks.push_back(id);
  }
  for (std::uint32_t i = hits; i < total_blocks; ++i) {
    const std::uint32_t id = free_.front();
    free_.pop_front();
    Block& b = blocks_[id];
    if (b.has_hash) {  // evict: the cached content is overwritten
      by_hash_.erase(b.hash);
      b.has_hash = false;
    }
    b.refs = 1;
    if (i < hashes.size() && by_hash_.emplace(hashes[i], id).second) {
      b.hash = hashes[i];
      b.has_hash = true;
    }
    a.blocks.push_back(id);
  }
  return a;
}

void KvCache::release(const std::vector<std::uint32_t>& blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    Block& b = blocks_[*it];
    if (b.refs == 0 || --b.refs > 0) continue;
    // Blocks without content are reused first; cached ones queue up in release order.
    b.free_pos = b.has_hash ? free_.insert(free_.end(), *it) : free_.insert(free_.begin(), *it);
  }
}

}  // namespace infergate::sim
