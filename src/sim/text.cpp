#include "sim/text.hpp"

#include <array>
#include <cmath>

#include <xxhash.h>

namespace infergate::sim {
namespace {

// Every word is at most six letters, so " word" is one token of tokenizer.hpp.
constexpr std::array<std::string_view, 64> kWords = {
    " the", " model", " serves", " tokens", " fast", " and", " every", " reply",
    " is", " made", " of", " plain", " words", " that", " stream", " back",
    " to", " you", " over", " HTTP", " while", " the", " batch", " grows",
    " cache", " blocks", " hold", " prefix", " state", " for", " later", " turns",
    " a", " gate", " picks", " one", " pod", " per", " prompt", " with",
    " care", " so", " queues", " stay", " short", " and", " GPUs", " busy",
    " this", " text", " comes", " from", " a", " seeded", " list", " not",
    " from", " any", " real", " neural", " net", " at", " all", ".",
};

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t text_key(std::uint64_t seed, std::string_view prompt) {
  return XXH64(prompt.data(), prompt.size(), seed);
}

std::string_view word_at(std::uint64_t key, std::uint32_t index) {
  return kWords[mix(key + index) % kWords.size()];
}

void append_words(std::string& out, std::uint64_t key, std::uint32_t from, std::uint32_t to) {
  for (std::uint32_t i = from; i < to; ++i) out.append(word_at(key, i));
}

std::vector<float> embedding_for(std::uint64_t seed, std::string_view input, std::uint32_t dim) {
  std::vector<float> v(dim);
  const std::uint64_t key = text_key(seed, input);
  double norm = 0;
  for (std::uint32_t i = 0; i < dim; ++i) {
    const double x = static_cast<double>(mix(key + i) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
    v[i] = static_cast<float>(x);
    norm += x * x;
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (auto& x : v) x = static_cast<float>(x / norm);
  }
  return v;
}

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
}

}  // namespace infergate::sim
