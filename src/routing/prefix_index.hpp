// Which endpoints were sent which prompt blocks: an approximate LRU index with a hard memory
// bound, shared by every worker.
//
// Shape: a set-associative table. A block hash picks a bucket of 16 ways; a way holds one
// (block hash, endpoint id, last-use tick). A block sent to several endpoints takes one way per
// endpoint. Inserting into a full bucket replaces its least recently used way, so each bucket is
// an LRU of its own and the whole is an approximate LRU per endpoint: memory is fixed up front
// (bytes / 256 buckets), nothing is allocated after construction, and the table's pages are only
// touched as it fills (calloc).
//
// Threads: 64 mutex stripes (bucket index mod 64). A lookup or insert holds one stripe for the
// scan of one bucket (16 ways, 4 cache lines) and never two at once: no deadlock, and workers
// touching different blocks rarely meet. Chosen over per-worker copies because a prefix warmed
// by one worker must be seen by all, and over a lock-free table because a match probes only
// about 6 buckets per distinct matched length (bisection over the chained hashes), so a few
// uncontended lock/unlock pairs (~20 ns each) per decision are cheap. An insert (at dispatch)
// takes one stripe per block: ~60 for a 4 KB prompt.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

namespace infergate {

class PrefixIndex {
 public:
  static constexpr std::size_t kWays = 16;
  static constexpr std::size_t kBucketBytes = kWays * 16;

  explicit PrefixIndex(std::size_t bytes);
  PrefixIndex(const PrefixIndex&) = delete;
  PrefixIndex& operator=(const PrefixIndex&) = delete;

  // For each of `endpoint_ids` (nonzero), how many of the leading `hashes` it holds, in
  // `matched` (same size as endpoint_ids). Assumes chained hashes (holding block k implies
  // holding the blocks before it) and finds each length by bisection.
  void match(std::span<const std::uint64_t> hashes, std::span<const std::uint32_t> endpoint_ids,
             std::span<std::uint32_t> matched) const;

  // Records that `hashes` were sent to `endpoint_id` (refreshes those already there). Returns how
  // many leading hashes it held already: what the endpoint probably has cached of this prompt,
  // learnt from the walk the insert does anyway.
  std::uint32_t insert(std::span<const std::uint64_t> hashes, std::uint32_t endpoint_id);

  // Ways held for `endpoint_id`: a scan of the whole table (debug output only).
  std::size_t entries(std::uint32_t endpoint_id) const;
  // Ways held per endpoint id, added to `counts`: one scan for all endpoints (debug output).
  void count_entries(std::unordered_map<std::uint32_t, std::size_t>& counts) const;
  std::size_t capacity() const { return buckets_count_ * kWays; }

 private:
  struct Way {
    std::uint64_t hash;
    std::uint32_t endpoint;  // 0: empty
    std::uint32_t tick;
  };
  struct Bucket {
    Way ways[kWays];
  };
  struct FreeBuckets {
    void operator()(Bucket* b) const;
  };

  // Bit i set when candidate i of the IdTable holds `hash`.
  std::uint64_t holders(std::uint64_t hash, const void* table) const;
  void bisect(std::span<const std::uint64_t> hashes, const void* table, std::uint32_t lo,
              std::uint32_t hi, std::uint64_t group, std::span<std::uint32_t> matched) const;

  std::size_t bucket_of(std::uint64_t hash) const { return (hash * 0x9E3779B97F4A7C15ULL) >> shift_; }
  std::mutex& stripe(std::size_t bucket) const { return stripes_[bucket & (stripes_.size() - 1)]; }

  std::size_t buckets_count_;
  unsigned shift_;
  std::unique_ptr<Bucket[], FreeBuckets> buckets_;
  mutable std::array<std::mutex, 64> stripes_;
  std::atomic<std::uint32_t> tick_{0};
};

}  // namespace infergate
