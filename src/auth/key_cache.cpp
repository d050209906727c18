#include "auth/key_cache.hpp"

#include <openssl/crypto.h>
#include <xxhash.h>

namespace infergate::auth {

KeyCache::KeyCache(const KeySource& source, std::uint64_t seed)
    : source_(source), seed_(seed), generation_(source.generation()), table_(source.current()) {}

const KeyTablePtr& KeyCache::table() {
  const std::uint64_t generation = source_.generation();
  if (generation != generation_) {
    // The generation first, then the table: the table is at least as new as the number kept.
    generation_ = generation;
    table_ = source_.current();
    for (Slot& slot : slots_) slot.found = nullptr;
  }
  return table_;
}

const ApiKey* KeyCache::find(std::string_view presented) {
  const std::uint64_t tag = XXH3_64bits_withSeed(presented.data(), presented.size(), seed_);
  Slot& slot = slots_[tag % slots_.size()];
  if (slot.found && slot.tag == tag && slot.key.size() == presented.size() &&
      CRYPTO_memcmp(slot.key.data(), presented.data(), presented.size()) == 0) {
    return slot.found;
  }
  const ApiKey* found = table_->find(presented);
  if (found) {
    slot.tag = tag;
    slot.key.assign(presented);
    slot.found = found;
  }
  return found;
}

}  // namespace infergate::auth
