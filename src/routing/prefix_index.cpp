// The set-associative prefix index (see prefix_index.hpp for the why).
#include "routing/prefix_index.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>

namespace infergate {
namespace {

// Endpoint id -> candidate position, rebuilt per match() call: open addressing, no allocation
// once warm. Ids are nonzero, so 0 marks an empty slot.
class IdTable {
 public:
  void build(std::span<const std::uint32_t> ids) {
    const std::size_t size = std::bit_ceil(std::max<std::size_t>(8, ids.size() * 2));
    slots_.assign(size, Slot{0, 0});
    mask_ = size - 1;
    for (std::uint32_t i = 0; i < ids.size(); ++i) {
      std::size_t s = hash(ids[i]);
      while (slots_[s].id != 0 && slots_[s].id != ids[i]) s = (s + 1) & mask_;
      if (slots_[s].id == 0) slots_[s] = {ids[i], i};
    }
  }
  // Position of `id` among the candidates, or -1.
  std::int64_t find(std::uint32_t id) const {
    for (std::size_t s = hash(id);; s = (s + 1) & mask_) {
      if (slots_[s].id == id) return slots_[s].index;
      if (slots_[s].id == 0) return -1;
    }
  }

 private:
  struct Slot {
    std::uint32_t id;
    std::uint32_t index;
  };
  std::size_t hash(std::uint32_t id) const { return (id * 0x9E3779B1u) & mask_; }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
};

}  // namespace

void PrefixIndex::FreeBuckets::operator()(Bucket* b) const { std::free(b); }

PrefixIndex::PrefixIndex(std::size_t bytes) {
  const std::size_t wanted = std::max<std::size_t>(16, bytes / sizeof(Bucket));
  buckets_count_ = std::bit_floor(wanted);
  shift_ = 64u - static_cast<unsigned>(std::countr_zero(buckets_count_));
  // calloc: a large zeroed block comes straight from the kernel, its pages touched only as used.
  buckets_.reset(static_cast<Bucket*>(std::calloc(buckets_count_, sizeof(Bucket))));
  if (!buckets_) throw std::bad_alloc();
}

void PrefixIndex::match(std::span<const std::uint64_t> hashes,
                        std::span<const std::uint32_t> endpoint_ids,
                        std::span<std::uint32_t> matched) const {
  const std::size_t n = endpoint_ids.size();
  std::fill(matched.begin(), matched.end(), 0u);
  if (n == 0) return;
  thread_local IdTable table;
  thread_local std::vector<char> alive, seen;
  table.build(endpoint_ids);
  alive.assign(n, 1);
  std::size_t alive_count = n;
  for (std::uint32_t block = 0; block < hashes.size() && alive_count > 0; ++block) {
    const std::uint64_t h = hashes[block];
    const std::size_t b = bucket_of(h);
    seen.assign(n, 0);
    {
      std::lock_guard lock(stripe(b));
      for (const Way& way : buckets_[b].ways) {
        if (way.hash != h || way.endpoint == 0) continue;
        if (const auto i = table.find(way.endpoint); i >= 0) seen[static_cast<std::size_t>(i)] = 1;
      }
    }
    alive_count = 0;
    for (std::size_t i = 0; i < n; ++i) {
      alive[i] = alive[i] && seen[i];
      if (alive[i]) {
        matched[i] = block + 1;
        ++alive_count;
      }
    }
  }
}

void PrefixIndex::insert(std::span<const std::uint64_t> hashes, std::uint32_t endpoint_id) {
  if (endpoint_id == 0) return;
  const std::uint32_t now = tick_.fetch_add(1, std::memory_order_relaxed) + 1;
  for (const std::uint64_t h : hashes) {
    const std::size_t b = bucket_of(h);
    std::lock_guard lock(stripe(b));
    Way* victim = nullptr;
    std::uint32_t oldest_age = 0;
    bool refreshed = false;
    for (Way& way : buckets_[b].ways) {
      if (way.endpoint == endpoint_id && way.hash == h) {
        way.tick = now;
        refreshed = true;
        break;
      }
      // Empty ways first (age beyond any real one), then the least recently used.
      const std::uint32_t age = way.endpoint == 0 ? UINT32_MAX : now - way.tick;
      if (!victim || age > oldest_age) victim = &way, oldest_age = age;
    }
    if (!refreshed) *victim = Way{h, endpoint_id, now};
  }
}

std::size_t PrefixIndex::entries(std::uint32_t endpoint_id) const {
  std::size_t count = 0;
  for (std::size_t b = 0; b < buckets_count_; ++b) {
    std::lock_guard lock(stripe(b));
    for (const Way& way : buckets_[b].ways) count += way.endpoint == endpoint_id ? 1 : 0;
  }
  return count;
}

}  // namespace infergate
