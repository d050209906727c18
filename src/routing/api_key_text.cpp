#include "routing/api_key_text.hpp"

#include <algorithm>
#include <memory>

#include <openssl/evp.h>

namespace infergate {
namespace {

constexpr std::string_view digest_prefix = "sha256:";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_hex_digest(std::string_view hex, KeyDigest& out) noexcept {
  if (hex.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = hex_value(hex[2 * i]), low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return true;
}

// One context per thread, made once: EVP_Digest() would allocate and fetch on every call.
struct ThreadDigest {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~ThreadDigest() { EVP_MD_CTX_free(ctx); }
};

const EVP_MD* sha256_md() noexcept {
  // Fetched once for the process (OpenSSL 3: EVP_sha256() would be looked up again per init).
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

bool valid_clear_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > max_api_key_bytes) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x21 && u <= 0x7e;
  });
}

std::optional<std::string> api_key_problem(std::string_view configured) {
  if (configured.starts_with(digest_prefix)) {
    KeyDigest digest{};
    if (!parse_hex_digest(configured.substr(digest_prefix.size()), digest)) {
      return "a 'sha256:' key needs exactly 64 hex digits after the prefix "
             "(printf %s KEY | sha256sum)";
    }
    return std::nullopt;
  }
  if (configured.empty()) return "must not be empty";
  if (configured.size() > max_api_key_bytes) return "a key may have at most 1024 bytes";
  if (!valid_clear_key(configured)) {
    return "a key may only hold printable ASCII without spaces (0x21..0x7e)";
  }
  return std::nullopt;
}

bool sha256(std::string_view data, KeyDigest& out) noexcept {
  thread_local ThreadDigest thread;
  const EVP_MD* md = sha256_md();
  unsigned int length = 0;
  return thread.ctx != nullptr && md != nullptr &&
         EVP_DigestInit_ex2(thread.ctx, md, nullptr) == 1 &&
         EVP_DigestUpdate(thread.ctx, data.data(), data.size()) == 1 &&
         EVP_DigestFinal_ex(thread.ctx, out.data(), &length) == 1 && length == out.size();
}

std::optional<KeyDigest> configured_key_digest(std::string_view configured) {
  if (api_key_problem(configured)) return std::nullopt;
  KeyDigest digest{};
  if (configured.starts_with(digest_prefix)) {
    parse_hex_digest(configured.substr(digest_prefix.size()), digest);
    return digest;
  }
  if (!sha256(configured, digest)) return std::nullopt;
  return digest;
}

std::string digest_text(const KeyDigest& digest) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string text(digest_prefix);
  text.reserve(digest_prefix.size() + 2 * digest.size());
  for (const unsigned char b : digest) {
    text += hex[b >> 4];
    text += hex[b & 0xf];
  }
  return text;
}

}  // namespace infergate
