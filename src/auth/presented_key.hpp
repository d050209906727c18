// The key a request presents, from the raw values of its `Authorization` and `x-api-key` headers
// (either may be empty: absent). `Authorization: Bearer <key>` is what the OpenAI SDKs send
// (scheme case-insensitive, one or more spaces before the key); `x-api-key: <key>` is what
// Anthropic-style clients send. When both are present, Authorization decides, even when it is
// malformed or the two differ: one rule, so no client can pick the header that suits it.
// A key is 1..1024 bytes of printable ASCII without spaces; anything else is refused here, before
// hashing. Reads only inside the given views.
#pragma once

#include <cstdint>
#include <string_view>

#include <boost/system/result.hpp>

namespace infergate::auth {

enum class KeyProblem : std::uint8_t {
  missing,       // neither header (or both empty)
  wrong_scheme,  // Authorization with another scheme (Basic, ...) or no space after Bearer
  empty,         // "Bearer" with no key after it
  too_long,      // over 1024 bytes
  bad_bytes,     // control bytes, spaces inside the key, non-ASCII
};

// The key (a view into one of the arguments) or why there is none.
boost::system::result<std::string_view, KeyProblem> presented_key(std::string_view authorization,
                                                                   std::string_view x_api_key) noexcept;

// For the 401 body (OpenAI's wording where it has one) and logs: never quotes the key.
std::string_view describe(KeyProblem problem) noexcept;
// Short label for logs and metrics: "missing", "wrong_scheme", ...
std::string_view label(KeyProblem problem) noexcept;

}  // namespace infergate::auth
