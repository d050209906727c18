// The text of an API key as the config writes it: the key in clear, or "sha256:<64 hex digits>".
// Shared by the config loader (validation, duplicate keys) and src/auth (the key table). Pure
// functions over OpenSSL's SHA-256; no YAML, no I/O.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace infergate {

using KeyDigest = std::array<unsigned char, 32>;

// Longest key accepted, in clear, from a config, a key file or a request header.
inline constexpr std::size_t max_api_key_bytes = 1024;

// A key in clear is 1..1024 bytes of printable ASCII without spaces (0x21..0x7e): what fits in
// a header value unquoted and what `openssl rand -base64/-hex` and every provider's keys produce.
bool valid_clear_key(std::string_view key) noexcept;

// Why a configured key cannot be used ("sha256: needs 64 hex digits", ...), or nullopt when it
// can. The message never quotes the key: it may be a secret.
std::optional<std::string> api_key_problem(std::string_view configured);

// SHA-256 of `data` into `out`; false only when OpenSSL fails (out of memory). Reuses one digest
// context per thread: no allocation per call, so it is fit for the request path.
bool sha256(std::string_view data, KeyDigest& out) noexcept;

// The digest a configured key stands for: the hex of "sha256:..." (either case), or the SHA-256
// of a clear key. nullopt when api_key_problem() has something to say.
std::optional<KeyDigest> configured_key_digest(std::string_view configured);

// "sha256:<64 lower-case hex digits>".
std::string digest_text(const KeyDigest& digest);

}  // namespace infergate
