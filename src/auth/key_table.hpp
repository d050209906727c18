// An immutable table of API keys: who a presented key belongs to, and what it may use.
// Built on the control thread (from the config and the files of keys_dir), then shared read-only
// by every worker through KeySource::current(). Lookup hashes the presented key with SHA-256 and
// finds the digest; the final comparison is constant-time (CRYPTO_memcmp). Ordering by digest
// leaks only how a digest of the attacker's own input compares to stored digests, which says
// nothing usable about the keys. Clear keys are hashed when the table is built; only digests stay.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "infergate/config.hpp"
#include "routing/api_key_text.hpp"

namespace infergate::auth {

using Digest = KeyDigest;  // SHA-256 of the key in clear

struct ApiKey {
  std::string name;  // for logs and metrics; never the key
  std::string team;
  Digest digest{};
  std::vector<std::string> models;  // exact names or "prefix*" ("*": every model); empty: every model
  std::optional<int> priority;      // unset: the model's or the objective's
  RateLimit limits;                 // for the key as a whole
  std::map<std::string, RateLimit, std::less<>> model_limits;  // per exact model name

  // Whether the key may use `model` (the name the client asked for).
  bool allows(std::string_view model) const noexcept;
  // The key's limit for `model`, or nullptr when it has none for that model.
  const RateLimit* model_limit(std::string_view model) const noexcept;
};

class KeyTable {
 public:
  KeyTable() = default;
  // Entries whose key is not usable (see api_key_problem) or whose digest is already in the
  // table are left out (the first one wins); when `rejected` is given, each is named there as
  // "NAME: why". The config loader and the key files report these with locations first.
  explicit KeyTable(const std::vector<ApiKeyConfig>& keys, std::vector<std::string>* rejected = nullptr);

  // The key `presented` (in clear, as the client sent it), or nullptr when it is unknown.
  const ApiKey* find(std::string_view presented) const noexcept;
  // The same by digest (for callers that already hashed).
  const ApiKey* find_digest(const Digest& digest) const noexcept;

  std::size_t size() const noexcept { return keys_.size(); }
  bool empty() const noexcept { return keys_.empty(); }
  // Every key, in the order they were given (config first, then files by name).
  std::span<const ApiKey> keys() const noexcept { return keys_; }
  // Team names, sorted and unique: bounded by the config, for metric labels.
  std::vector<std::string> teams() const;

 private:
  std::vector<ApiKey> keys_;
  std::vector<std::pair<Digest, std::size_t>> by_digest_;  // sorted: digest -> index in keys_
};

// One configured key as a table entry: its digest instead of its text. nullopt when the key text
// is not usable.
std::optional<ApiKey> make_api_key(const ApiKeyConfig& config);

}  // namespace infergate::auth
