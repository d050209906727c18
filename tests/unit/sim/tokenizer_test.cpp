#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sim/text.hpp"
#include "sim/tokenizer.hpp"

using namespace infergate::sim;

TEST_CASE("token counts follow the rules") {
  struct Row {
    const char* text;
    std::size_t tokens;
  };
  const Row rows[] = {
      {"", 0},
      {"Hello", 1},
      {"Hello world", 2},        // "Hello", " world"
      {"abcdefghij", 2},         // words are cut every 6 bytes
      {"a, b.", 4},              // "a", ",", " b", "."
      {"  x", 2},                // " ", " x"
      {"line\n\nnext", 4},       // "line", "\n", "\n", "next"
      {"caf\xc3\xa9", 2},        // "caf", one token for the 2-byte code point
      {"12345678", 2},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    std::vector<std::uint32_t> ids;
    tokenize(r.text, ids);
    CHECK(ids.size() == r.tokens);
    CHECK(count_tokens(r.text) == r.tokens);
  }
}

TEST_CASE("equal text gives equal ids, different text different ids") {
  std::vector<std::uint32_t> a, b, c;
  tokenize("the quick brown fox", a);
  tokenize("the quick brown fox", b);
  tokenize("the quick brown cat", c);
  CHECK(a == b);
  REQUIRE(a.size() == c.size());
  CHECK(a[3] != c[3]);
  CHECK(a[0] == c[0]);
}

TEST_CASE("every generated word is exactly one token, so usage matches the text") {
  for (std::uint64_t key : {1ULL, 42ULL, 0xdeadbeefULL}) {
    std::string text;
    append_words(text, key, 0, 50);
    CHECK(count_tokens(text) == 50);
  }
}

TEST_CASE("generated text is deterministic") {
  std::string a, b;
  append_words(a, text_key(7, "prompt"), 0, 10);
  append_words(b, text_key(7, "prompt"), 0, 10);
  CHECK(a == b);
  std::string c;
  append_words(c, text_key(8, "prompt"), 0, 10);
  CHECK(a != c);
}
