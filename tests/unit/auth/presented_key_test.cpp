// The key a request presents: Bearer or x-api-key, and every malformed value refused by type.
#include "auth/presented_key.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using namespace infergate::auth;

namespace {

struct Case {
  std::string authorization;
  std::string x_api_key;
  std::string key;          // expected key when ok
  KeyProblem problem;       // expected problem otherwise
  bool ok;
};

Case good(std::string authorization, std::string x_api_key, std::string key) {
  return {std::move(authorization), std::move(x_api_key), std::move(key), KeyProblem::missing, true};
}

Case bad(std::string authorization, std::string x_api_key, KeyProblem problem) {
  return {std::move(authorization), std::move(x_api_key), {}, problem, false};
}

}  // namespace

TEST_CASE("presented keys: each form and each refusal") {
  const std::string k1024(1024, 'k');
  const std::string k1025(1025, 'k');
  const std::string big(10 * 1024, 'A');
  const std::vector<Case> cases = {
      good("Bearer sk-1", "", "sk-1"),
      good("bearer sk-1", "", "sk-1"),
      good("BEARER sk-1", "", "sk-1"),
      good("BeArEr sk-1", "", "sk-1"),
      good("Bearer    sk-1", "", "sk-1"),
      good("  Bearer sk-1  ", "", "sk-1"),
      good("\tBearer sk-1\t", "", "sk-1"),
      good("", "sk-2", "sk-2"),
      good("", "  sk-2 ", "sk-2"),
      good("Bearer sk-1", "sk-1", "sk-1"),
      good("Bearer sk-1", "sk-2", "sk-1"),  // both, different: Authorization decides
      good("Bearer " + k1024, "", k1024),
      good("", k1024, k1024),
      good("Bearer !~#$%&'*+-.^_`|", "", "!~#$%&'*+-.^_`|"),
      bad("", "", KeyProblem::missing),
      bad("   ", "\t", KeyProblem::missing),
      bad("Basic dXNlcjpwYXNz", "", KeyProblem::wrong_scheme),
      bad("Basic dXNlcjpwYXNz", "sk-2", KeyProblem::wrong_scheme),  // Authorization decides
      bad("Bearer", "", KeyProblem::empty),
      bad("Bearer   ", "", KeyProblem::empty),
      bad("Bearer", "sk-2", KeyProblem::empty),
      bad("Bearersk-1", "", KeyProblem::wrong_scheme),
      bad("Bearer\tsk-1", "", KeyProblem::wrong_scheme),
      bad("Beare sk-1", "", KeyProblem::wrong_scheme),
      bad("Bear", "", KeyProblem::wrong_scheme),
      bad("sk-1", "", KeyProblem::wrong_scheme),
      bad("Bearer sk 1", "", KeyProblem::bad_bytes),
      bad("Bearer sk-1 extra", "", KeyProblem::bad_bytes),
      bad("Bearer sk-1\r\nX-Injected: 1", "", KeyProblem::bad_bytes),
      bad("Bearer sk-1\n", "", KeyProblem::bad_bytes),
      bad("Bearer sk-\t1", "", KeyProblem::bad_bytes),
      bad(std::string("Bearer sk-\0-1", 13), "", KeyProblem::bad_bytes),
      bad(std::string("Bearer \0", 8), "", KeyProblem::bad_bytes),
      bad("Bearer sk-\x7f", "", KeyProblem::bad_bytes),
      bad("Bearer ключ", "", KeyProblem::bad_bytes),
      bad("Bearer sk-\xff\xfe", "", KeyProblem::bad_bytes),
      bad("Bearér sk-1", "", KeyProblem::wrong_scheme),
      bad("Bearer " + k1025, "", KeyProblem::too_long),
      bad("", k1025, KeyProblem::too_long),
      bad("Bearer " + big, "", KeyProblem::too_long),
      bad("", big, KeyProblem::too_long),
      bad(big, "", KeyProblem::wrong_scheme),
      bad("", "sk 2", KeyProblem::bad_bytes),
      bad("", "Bearer sk-2", KeyProblem::bad_bytes),
      bad("", std::string("\0", 1), KeyProblem::bad_bytes),
      bad("", "sk-2\r\n", KeyProblem::bad_bytes),
      bad("", "\xe2\x82\xac", KeyProblem::bad_bytes),
  };
  for (const Case& c : cases) {
    CAPTURE(c.authorization.substr(0, 40));
    CAPTURE(c.x_api_key.substr(0, 40));
    const auto result = presented_key(c.authorization, c.x_api_key);
    REQUIRE(result.has_value() == c.ok);
    if (c.ok) {
      CHECK(*result == c.key);
      // A view into the argument it came from, not a copy.
      const std::string& source = c.authorization.find(c.key) != std::string::npos ? c.authorization : c.x_api_key;
      CHECK(result->data() >= source.data());
      CHECK(result->data() + result->size() <= source.data() + source.size());
    } else {
      CHECK(result.error() == c.problem);
      CHECK_FALSE(describe(c.problem).empty());
      CHECK(label(c.problem) != "unknown");
    }
  }
}

TEST_CASE("random header values: never out of bounds, a key only when it is one") {
  // Values cut from a buffer whose neighbouring bytes are valid key bytes: an over-read would
  // show as a key longer than the view (and ASan/valgrind would see it).
  std::mt19937 rng(20261207);
  static constexpr char bytes[] = "Bb eEaArR\t\r\n\0\x7f\xc3\xa9-_~k";
  const std::string alphabet(bytes, sizeof bytes - 1);  // the NUL inside included
  for (int round = 0; round < 20'000; ++round) {
    std::string buffer(std::size_t(rng() % 1100), '\0');
    for (char& c : buffer) c = alphabet[rng() % alphabet.size()];
    if (rng() % 4 == 0) buffer = "Bearer " + buffer;
    const std::string padded = "kkkk" + buffer + "kkkk";
    const std::string_view value(padded.data() + 4, buffer.size());
    const auto as_auth = presented_key(value, {});
    const auto as_x = presented_key({}, value);
    for (const auto& result : {as_auth, as_x}) {
      if (!result) continue;
      CHECK(result->data() >= value.data());
      CHECK(result->data() + result->size() <= value.data() + value.size());
      CHECK(!result->empty());
      CHECK(result->size() <= 1024);
      for (const char c : *result) CHECK((static_cast<unsigned char>(c) >= 0x21 && static_cast<unsigned char>(c) <= 0x7e));
    }
  }
}
