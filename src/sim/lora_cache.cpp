#include "sim/lora_cache.hpp"

#include <algorithm>

namespace infergate::sim {

LoraCache::LoraCache(std::uint32_t max_loras, Micros load_delay)
    : max_loras_(max_loras), load_delay_(load_delay) {}

std::optional<Micros> LoraCache::acquire(const std::string& name, Micros now) {
  if (auto it = entries_.find(name); it != entries_.end()) {
    Entry& e = it->second;
    ++e.refs;
    lru_.splice(lru_.end(), lru_, e.lru_pos);  // most recently used
    return std::max(now, e.ready_at);
  }
  if (max_loras_ == 0) return std::nullopt;
  if (entries_.size() >= max_loras_) {
    auto victim = std::find_if(lru_.begin(), lru_.end(),
                               [&](const std::string& n) { return entries_.at(n).refs == 0; });
    if (victim == lru_.end()) return std::nullopt;
    entries_.erase(*victim);
    lru_.erase(victim);
    ++evictions_;
  }
  Entry e;
  e.refs = 1;
  e.ready_at = now + load_delay_;
  e.lru_pos = lru_.insert(lru_.end(), name);
  entries_.emplace(name, e);
  ++loads_;
  return e.ready_at;
}

void LoraCache::release(const std::string& name) {
  if (auto it = entries_.find(name); it != entries_.end() && it->second.refs > 0) {
    --it->second.refs;
  }
}

std::vector<std::string> LoraCache::running() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) {
    if (e.refs > 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace infergate::sim
