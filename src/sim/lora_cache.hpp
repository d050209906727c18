// LoRA adapter residency: at most `max_loras` adapters are loaded; loading one that is not
// resident costs `load_delay` and evicts the least recently used adapter that no running request
// holds. When every slot is held, the request waits (as in vLLM's scheduler).
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/sim_time.hpp"

namespace infergate::sim {

class LoraCache {
 public:
  LoraCache(std::uint32_t max_loras, Micros load_delay);

  // Pins `name` for one running request that starts at `now` and returns when the adapter is
  // ready to use: `now` when resident, later while it loads. nullopt (nothing changed) when no
  // slot can be freed.
  std::optional<Micros> acquire(const std::string& name, Micros now);

  // Unpins one use of `name`; it stays resident until evicted.
  void release(const std::string& name);

  bool resident(const std::string& name) const { return entries_.count(name) != 0; }
  // Resident adapters, least recently used first.
  std::vector<std::string> resident_lru() const { return {lru_.begin(), lru_.end()}; }
  // Adapters pinned by running requests (sorted by name, for stable output).
  std::vector<std::string> running() const;
  std::uint32_t max_loras() const { return max_loras_; }
  std::uint64_t loads() const { return loads_; }
  std::uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    std::uint32_t refs = 0;
    Micros ready_at = 0;
    std::list<std::string>::iterator lru_pos;
  };

  std::uint32_t max_loras_;
  Micros load_delay_;
  std::list<std::string> lru_;  // front: least recently used
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t loads_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace infergate::sim
