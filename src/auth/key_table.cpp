#include "auth/key_table.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace infergate::auth {

bool ApiKey::allows(std::string_view model) const noexcept {
  if (models.empty()) return true;
  return std::any_of(models.begin(), models.end(), [model](const std::string& pattern) {
    if (!pattern.empty() && pattern.back() == '*') {
      return model.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1));
    }
    return model == pattern;
  });
}

const RateLimit* ApiKey::model_limit(std::string_view model) const noexcept {
  const auto it = model_limits.find(model);
  return it == model_limits.end() ? nullptr : &it->second;
}

std::optional<ApiKey> make_api_key(const ApiKeyConfig& config) {
  const auto digest = configured_key_digest(config.key);
  if (!digest) return std::nullopt;
  return ApiKey{config.name, config.team, *digest, config.models, config.priority, config.limits,
                config.model_limits};
}

KeyTable::KeyTable(const std::vector<ApiKeyConfig>& keys, std::vector<std::string>* rejected) {
  keys_.reserve(keys.size());
  std::set<Digest> seen;
  for (const ApiKeyConfig& config : keys) {
    auto key = make_api_key(config);
    const char* why = !key ? "the key is not usable" : !seen.insert(key->digest).second
                                                            ? "the same key as an earlier one"
                                                            : nullptr;
    if (why) {
      if (rejected) rejected->push_back(fmt::format("{}: {}", config.name, why));
      continue;
    }
    by_digest_.emplace_back(key->digest, keys_.size());
    keys_.push_back(std::move(*key));
  }
  std::sort(by_digest_.begin(), by_digest_.end());
}

const ApiKey* KeyTable::find(std::string_view presented) const noexcept {
  Digest digest{};
  if (by_digest_.empty() || !sha256(presented, digest)) return nullptr;
  return find_digest(digest);
}

const ApiKey* KeyTable::find_digest(const Digest& digest) const noexcept {
  const auto it = std::lower_bound(by_digest_.begin(), by_digest_.end(), digest,
                                   [](const auto& entry, const Digest& d) { return entry.first < d; });
  if (it == by_digest_.end()) return nullptr;
  // Constant time over the whole digest, whatever the search compared on the way.
  if (CRYPTO_memcmp(it->first.data(), digest.data(), digest.size()) != 0) return nullptr;
  return &keys_[it->second];
}

std::vector<std::string> KeyTable::teams() const {
  std::vector<std::string> teams;
  for (const ApiKey& key : keys_) teams.push_back(key.team);
  std::sort(teams.begin(), teams.end());
  teams.erase(std::unique(teams.begin(), teams.end()), teams.end());
  return teams;
}

}  // namespace infergate::auth
