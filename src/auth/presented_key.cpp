#include "auth/presented_key.hpp"

#include <algorithm>

#include "routing/api_key_text.hpp"

namespace infergate::auth {
namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

// Header values arrive without their surrounding whitespace from a conforming parser; strip it
// anyway (SP and HTAB, RFC 9110 OWS) so the rule does not depend on the parser.
std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20) && ((x >= 'A' && x <= 'Z') || (x >= 'a' && x <= 'z'));
         });
}

boost::system::result<std::string_view, KeyProblem> checked(std::string_view key) noexcept {
  if (key.empty()) return KeyProblem::empty;
  if (key.size() > max_api_key_bytes) return KeyProblem::too_long;
  if (!valid_clear_key(key)) return KeyProblem::bad_bytes;
  return key;
}

boost::system::result<std::string_view, KeyProblem> from_authorization(std::string_view value) noexcept {
  constexpr std::string_view scheme = "Bearer";
  if (value.size() < scheme.size() || !iequals(value.substr(0, scheme.size()), scheme)) {
    return KeyProblem::wrong_scheme;
  }
  std::string_view rest = value.substr(scheme.size());
  if (rest.empty()) return KeyProblem::empty;   // "Bearer" alone
  if (rest.front() != ' ') return KeyProblem::wrong_scheme;  // "Bearerx", "Bearer\tx"
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return checked(rest);
}

}  // namespace

boost::system::result<std::string_view, KeyProblem> presented_key(std::string_view authorization,
                                                                   std::string_view x_api_key) noexcept {
  authorization = trim(authorization);
  if (!authorization.empty()) return from_authorization(authorization);
  x_api_key = trim(x_api_key);
  if (!x_api_key.empty()) return checked(x_api_key);
  return KeyProblem::missing;
}

std::string_view describe(KeyProblem problem) noexcept {
  switch (problem) {
    case KeyProblem::missing:
      return "You didn't provide an API key. You need to provide your API key in an Authorization "
             "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the x-api-key header.";
    case KeyProblem::wrong_scheme:
      return "The Authorization header must use the Bearer scheme (Authorization: Bearer YOUR_KEY).";
    case KeyProblem::empty:
      return "The Authorization header holds no API key after 'Bearer'.";
    case KeyProblem::too_long:
      return "The API key provided is too long (at most 1024 bytes).";
    case KeyProblem::bad_bytes:
      return "The API key provided holds characters no key has (spaces, control bytes or non-ASCII).";
  }
  return "Incorrect API key provided.";
}

std::string_view label(KeyProblem problem) noexcept {
  switch (problem) {
    case KeyProblem::missing: return "missing";
    case KeyProblem::wrong_scheme: return "wrong_scheme";
    case KeyProblem::empty: return "empty";
    case KeyProblem::too_long: return "too_long";
    case KeyProblem::bad_bytes: return "bad_bytes";
  }
  return "unknown";
}

}  // namespace infergate::auth
