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

std::uint64_t PrefixIndex::holders(std::uint64_t hash, const void* table_ptr) const {
  const auto& table = *static_cast<const IdTable*>(table_ptr);
  const std::size_t b = bucket_of(hash);
  std::uint64_t mask = 0;
  std::lock_guard lock(stripe(b));
  for (const Way& way : buckets_[b].ways) {
    if (way.hash != hash || way.endpoint == 0) continue;
    if (const auto i = table.find(way.endpoint); i >= 0) mask |= std::uint64_t{1} << i;
  }
  return mask;
}

// Hashes are chained, so an endpoint that holds block k was sent the whole prefix up to k: the
// number of leading blocks an endpoint holds is found by bisection, for each group of endpoints
// at once. A 4 KB prompt (62 blocks) costs about 6 bucket probes per distinct matched length
// instead of one per block. (An evicted block in the middle is then looked past: the server's
// cache evicts from the end of a prefix, not from its middle, so that is the better guess.)
void PrefixIndex::bisect(std::span<const std::uint64_t> hashes, const void* table,
                         std::uint32_t lo, std::uint32_t hi, std::uint64_t group,
                         std::span<std::uint32_t> matched) const {
  // Every endpoint in `group` holds at least `lo` and at most `hi` leading blocks.
  while (group != 0) {
    if (lo == hi) {
      for (; group != 0; group &= group - 1) matched[static_cast<std::size_t>(std::countr_zero(group))] = lo;
      return;
    }
    const std::uint32_t mid = lo + (hi - lo + 1) / 2;  // does it hold block mid - 1?
    const std::uint64_t holding = holders(hashes[mid - 1], table) & group;
    bisect(hashes, table, mid, hi, holding, matched);
    group &= ~holding;
    hi = mid - 1;
  }
}

void PrefixIndex::match(std::span<const std::uint64_t> hashes,
                        std::span<const std::uint32_t> endpoint_ids,
                        std::span<std::uint32_t> matched) const {
  std::fill(matched.begin(), matched.end(), 0u);
  if (hashes.empty()) return;
  thread_local IdTable table;
  const auto blocks = static_cast<std::uint32_t>(hashes.size());
  // Groups of 64 candidates: one bit each.
  for (std::size_t first = 0; first < endpoint_ids.size(); first += 64) {
    const std::size_t n = std::min<std::size_t>(64, endpoint_ids.size() - first);
    table.build(endpoint_ids.subspan(first, n));
    const std::uint64_t all = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    bisect(hashes, &table, 0, blocks, all, matched.subspan(first, n));
  }
}

std::uint32_t PrefixIndex::insert(std::span<const std::uint64_t> hashes, std::uint32_t endpoint_id) {
  if (endpoint_id == 0) return 0;
  const std::uint32_t now = tick_.fetch_add(1, std::memory_order_relaxed) + 1;
  std::uint32_t held = 0;  // leading hashes found already there
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    const std::uint64_t h = hashes[i];
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
      // Empty ways first (age beyond any real one), then the least recently used. A way written
      // by a concurrent insert that drew a later tick counts as the newest (age 0), not as a
      // wrapped-around "oldest".
      const std::uint32_t since = now - way.tick;
      const std::uint32_t age = way.endpoint == 0                     ? UINT32_MAX
                                : static_cast<std::int32_t>(since) < 0 ? 0
                                                                       : std::min(since, UINT32_MAX - 1);
      if (!victim || age > oldest_age) victim = &way, oldest_age = age;
    }
    if (!refreshed) *victim = Way{h, endpoint_id, now};
    if (refreshed && held == i) ++held;
  }
  return held;
}

void PrefixIndex::count_entries(std::unordered_map<std::uint32_t, std::size_t>& counts) const {
  for (std::size_t b = 0; b < buckets_count_; ++b) {
    std::lock_guard lock(stripe(b));
    for (const Way& way : buckets_[b].ways) {
      if (way.endpoint != 0) ++counts[way.endpoint];
    }
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
