// Helpers shared by the fuzz targets: the input as text, and split points taken from its bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace infergate::fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Cuts `s` into pieces whose lengths follow `seed` (1..16 bytes, then the rest): the same bytes
// arriving in other reads must mean the same thing.
inline std::vector<std::string_view> pieces(std::string_view s, std::uint32_t seed) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t n = std::min<std::size_t>(s.size(), 1 + (seed >> 16) % 16);
    out.push_back(s.substr(0, n));
    s.remove_prefix(n);
  }
  return out;
}

// An invariant the target checks; abort() so libFuzzer and the replay both report it.
inline void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace infergate::fuzz
