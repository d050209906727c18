#include "sim/tokenizer.hpp"

#include <xxhash.h>

namespace infergate::sim {
namespace {

constexpr std::size_t kMaxWordBytes = 6;

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Length of the UTF-8 sequence that starts with `c` (1 for ASCII and for stray bytes).
std::size_t utf8_len(unsigned char c) {
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

// Calls emit(begin, length) for each token of `text`, in order.
template <typename Emit>
void split(std::string_view text, Emit&& emit) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const std::size_t start = i;
    auto c = static_cast<unsigned char>(text[i]);
    if (c == ' ' && i + 1 < n && is_word_byte(static_cast<unsigned char>(text[i + 1]))) {
      ++i;  // the space is part of the word's first token
      c = static_cast<unsigned char>(text[i]);
    }
    if (is_word_byte(c)) {
      std::size_t len = 0;
      while (i < n && is_word_byte(static_cast<unsigned char>(text[i])) && len < kMaxWordBytes) {
        ++i;
        ++len;
      }
      emit(start, i - start);
      continue;
    }
    std::size_t len = utf8_len(c);
    if (i + len > n) len = n - i;
    i += len;
    emit(start, i - start);
  }
}

}  // namespace

void tokenize(std::string_view text, std::vector<std::uint32_t>& out) {
  split(text, [&](std::size_t at, std::size_t len) {
    out.push_back(XXH32(text.data() + at, len, 0));
  });
}

std::size_t count_tokens(std::string_view text) {
  std::size_t n = 0;
  split(text, [&](std::size_t, std::size_t) { ++n; });
  return n;
}

}  // namespace infergate::sim
