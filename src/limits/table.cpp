#include "limits/table.hpp"

namespace infergate::limits::detail {

namespace {

// "infergate:limits:<len>:<key><model>:r": the key's length keeps "ab"+"c" apart from "a"+"bc".
std::string store_key_of(std::string_view key, std::string_view model, char kind) {
  std::string out = "infergate:limits:";
  out += std::to_string(key.size());
  out += ':';
  out += key;
  out += model;
  out += ':';
  out += kind;
  return out;
}

}  // namespace

Entry::Entry(std::string_view k, std::string_view m, std::uint32_t s)
    : key(k), model(m), store_key{store_key_of(k, m, 'r'), store_key_of(k, m, 't')}, shard(s) {}

Entry& Table::find_or_create(std::uint32_t index, EntryId id, std::int64_t now_ms) {
  Shard& s = shards_[index];
  if (now_ms >= s.next_sweep_ms) {
    sweep_locked(s, now_ms);
  }
  auto it = s.entries.find(id);
  if (it == s.entries.end()) {
    auto entry = std::make_unique<Entry>(id.key, id.model, index);
    const EntryId own = entry->id();
    it = s.entries.emplace(own, std::move(entry)).first;
  }
  it->second->last_used_ms = now_ms;
  return *it->second;
}

std::size_t Table::sweep_locked(Shard& s, std::int64_t now_ms) {
  s.next_sweep_ms = now_ms + kSweepEveryMs;
  return std::erase_if(s.entries, [now_ms](const auto& kv) {
    const Entry& e = *kv.second;
    return e.refs == 0 && now_ms - e.last_used_ms > kIdleMs;
  });
}

std::size_t Table::sweep(std::int64_t now_ms) {
  std::size_t n = 0;
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += sweep_locked(s, now_ms);
  }
  return n;
}

void Table::for_each(const std::function<void(Entry&)>& fn) {
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    for (auto& kv : s.entries) fn(*kv.second);
  }
}

std::size_t Table::size() {
  std::size_t n = 0;
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

ShardLocks::ShardLocks(Table& table, std::uint32_t a, std::uint32_t b, bool two) {
  if (two && b < a) std::swap(a, b);
  first_ = &table.shard(a).mu;
  if (two && b != a) second_ = &table.shard(b).mu;
  first_->lock();
  if (second_) second_->lock();
}

ShardLocks::~ShardLocks() {
  if (second_) second_->unlock();
  first_->unlock();
}

std::int64_t to_ms(Clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace infergate::limits::detail
