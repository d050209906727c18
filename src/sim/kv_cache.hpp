// KV cache block accounting with an LRU prefix cache, in the shape of vLLM's block manager:
// a prompt's full blocks carry chained hashes; a released block keeps its hash and stays
// reusable until it is evicted (least recently freed first) to make room for new blocks.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace infergate::sim {

class KvCache {
 public:
  struct Allocation {
    std::vector<std::uint32_t> blocks;  // owned by the request until release()
    std::uint32_t cached_blocks = 0;    // leading blocks that were prefix-cache hits
  };

  KvCache(std::uint32_t num_blocks, std::uint32_t block_size);

  // Hashes of the full blocks of `tokens`: h[i] = XXH64(tokens of block i, seed = h[i-1]), so a
  // block's hash names its whole prefix. A partial last block gets no hash (it is never shared).
  std::vector<std::uint64_t> block_hashes(std::span<const std::uint32_t> tokens) const;

  // Number of leading blocks of `hashes` present in the cache (in use or free), without changing it.
  std::uint32_t cached_prefix(std::span<const std::uint64_t> hashes) const;

  // Takes `total_blocks` blocks for a request whose full prompt blocks hash to `hashes`: the
  // longest cached prefix (at most `max_cached` blocks) is shared, the rest come from the free
  // list, evicting cached blocks least recently freed first. Returns nullopt, changing nothing,
  // when there are not enough free blocks.
  std::optional<Allocation> allocate(std::span<const std::uint64_t> hashes, std::uint32_t total_blocks,
                                     std::uint32_t max_cached);

  // Gives the blocks back. Blocks keep their hashes and stay cached until evicted; the tail of a
  // prompt is evicted before its head, so shared prefixes live longest.
  void release(const std::vector<std::uint32_t>& blocks);

  std::uint32_t num_blocks() const { return static_cast<std::uint32_t>(blocks_.size()); }
  std::uint32_t block_size() const { return block_size_; }
  std::uint32_t free_blocks() const { return static_cast<std::uint32_t>(free_.size()); }
  std::uint32_t used_blocks() const { return num_blocks() - free_blocks(); }
  // Blocks needed to hold `tokens` tokens.
  std::uint32_t blocks_for(std::uint64_t tokens) const {
    return static_cast<std::uint32_t>((tokens + block_size_ - 1) / block_size_);
  }

 private:
  struct Block {
    std::uint64_t hash = 0;
    bool has_hash = false;
    std::uint32_t refs = 0;
    std::list<std::uint32_t>::iterator free_pos;  // valid while refs == 0
  };

  std::uint32_t block_size_;
  std::vector<Block> blocks_;
  std::list<std::uint32_t> free_;  // front: evicted first
  std::unordered_map<std::uint64_t, std::uint32_t> by_hash_;
};

}  // namespace infergate::sim
