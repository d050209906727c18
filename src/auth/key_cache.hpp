// One worker's view of the keys: its own reference to the current table, and the valid keys it
// was shown lately, so that a caller who comes back (every SDK client does, on every request)
// costs a seeded 64-bit hash and one constant-time compare instead of a SHA-256.
//
// Only keys the table accepted enter the cache, so unknown keys always take the full path and
// cannot evict anyone on purpose more than by luck (slots are chosen by a hash with a per-worker
// random seed). The cache holds the clear text of those keys in this worker's memory, as the
// requests that carried them did; it is emptied whenever a new table is published, so a removed
// key stops working at the same poll as without it.
//
// Thread: one worker's only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/key_source.hpp"

namespace infergate::auth {

class KeyCache {
 public:
  KeyCache(const KeySource& source, std::uint64_t seed);

  // The current table, refreshed from the source when its generation moved (one atomic load
  // otherwise). Keep the pointer while using a key of it.
  const KeyTablePtr& table();

  // The key `presented` names in table(), or null. Call table() first.
  const ApiKey* find(std::string_view presented);

 private:
  struct Slot {
    std::uint64_t tag = 0;
    std::string key;
    const ApiKey* found = nullptr;  // null: empty slot
  };

  const KeySource& source_;
  std::uint64_t seed_;
  std::uint64_t generation_;
  KeyTablePtr table_;
  std::array<Slot, 16> slots_;
};

}  // namespace infergate::auth
