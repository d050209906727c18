// The counters: one Entry per key (and per key + model that has limits of its own), in sharded
// hash maps. A shard's mutex guards its map and every counter of its entries, so admission is one
// short critical section per shard touched (two at most), and nothing allocates once an entry
// exists. Entries idle for more than two minutes are swept, unless a charge or a store call
// still refers to them (refs).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "limits/lease.hpp"
#include "limits/window.hpp"

namespace infergate::limits::detail {

enum Kind : unsigned { kRequests = 0, kTokens = 1 };

struct Counter {
  Window window;  // what this replica admitted in the sliding minute
  Lease lease;    // its share of the shared limit (Redis store only)
};

// Who a counter belongs to; model empty: the key as a whole.
struct EntryId {
  std::string_view key, model;
  bool operator==(const EntryId&) const = default;
};
struct EntryIdHash {
  std::size_t operator()(const EntryId& id) const noexcept {
    const std::size_t h = std::hash<std::string_view>{}(id.key);
    return h ^ (std::hash<std::string_view>{}(id.model) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

struct Entry {
  Entry(std::string_view key, std::string_view model, std::uint32_t shard);
  EntryId id() const noexcept { return {key, model}; }

  const std::string key, model;
  const std::array<std::string, 2> store_key;  // the Redis keys of its two counters
  const std::uint32_t shard;
  std::array<Counter, 2> counters;
  std::int64_t last_used_ms = 0;
  std::uint32_t refs = 0;  // charges and store calls that point here
};

inline constexpr std::int64_t kIdleMs = 120'000;   // swept after two idle minutes
inline constexpr std::int64_t kSweepEveryMs = 30'000;

struct alignas(64) Shard {
  std::mutex mu;
  // The map's keys view the entry's own strings (the entry never moves: it is heap-allocated).
  std::unordered_map<EntryId, std::unique_ptr<Entry>, EntryIdHash> entries;
  std::int64_t next_sweep_ms = 0;
};

class Table {
 public:
  static constexpr std::uint32_t kShards = 32;

  std::uint32_t shard_index(EntryId id) const noexcept {
    return static_cast<std::uint32_t>(EntryIdHash{}(id) % kShards);
  }
  Shard& shard(std::uint32_t index) noexcept { return shards_[index]; }

  // The entry of `id`, created if new; the shard's lock is held. Sweeps the shard now and then.
  Entry& find_or_create(std::uint32_t shard_index, EntryId id, std::int64_t now_ms);
  // Drops the shard's idle entries; its lock is held. Returns how many went.
  std::size_t sweep_locked(Shard& shard, std::int64_t now_ms);
  // Every shard, each under its own lock.
  std::size_t sweep(std::int64_t now_ms);
  // Calls fn(Entry&) for every entry, each shard under its lock.
  void for_each(const std::function<void(Entry&)>& fn);
  std::size_t size();

 private:
  std::array<Shard, kShards> shards_;
};

// Locks the shards of up to two entries, in index order (the same shard once).
class ShardLocks {
 public:
  ShardLocks(Table& table, std::uint32_t a, std::uint32_t b, bool two);
  ~ShardLocks();
  ShardLocks(const ShardLocks&) = delete;
  ShardLocks& operator=(const ShardLocks&) = delete;

 private:
  std::mutex* first_;
  std::mutex* second_ = nullptr;
};

std::int64_t to_ms(Clock::time_point t) noexcept;

}  // namespace infergate::limits::detail
