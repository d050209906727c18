#include "telemetry/trace_context.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace infergate::telemetry {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int hex_digit(char c) noexcept {  // lowercase only, as trace context requires
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <std::size_t N>
bool parse_hex(std::string_view text, std::array<std::uint8_t, N>& out) noexcept {
  if (text.size() != 2 * N) return false;
  bool any = false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    any = any || out[i] != 0;
  }
  return any;  // all zero is invalid for both ids
}

bool key_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
         c == '/' || c == '@';
}

// key = simple-key / tenant-id "@" system-id (lowercase letters first, at most 256 / 241+14).
bool valid_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > 256) return false;
  const auto at = key.find('@');
  const bool lead_ok = (key[0] >= 'a' && key[0] <= 'z') || (at != std::string_view::npos && key[0] >= '0' && key[0] <= '9');
  if (!lead_ok) return false;
  if (at != std::string_view::npos) {
    if (key.find('@', at + 1) != std::string_view::npos || at == 0 || at > 241) return false;
    const std::string_view system = key.substr(at + 1);
    if (system.empty() || system.size() > 14 || system[0] < 'a' || system[0] > 'z') return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) { return c == '@' || key_char(c); });
}

// value = 0*255(chr) nblk-chr, chr = %x20 / nblk-chr, nblk-chr = %x21-2B / %x2D-3C / %x3E-7E.
bool valid_value(std::string_view value) noexcept {
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u <= 0x7e && c != ',' && c != '=';
  });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

IdSource::IdSource(std::uint64_t seed) noexcept {
  for (auto& word : s_) word = splitmix64(seed);
}

std::uint64_t IdSource::next() noexcept {
  const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = std::rotl(s_[3], 45);
  return result;
}

void IdSource::fill(std::span<std::uint8_t> out) noexcept {
  for (;;) {
    bool any = false;
    for (std::size_t i = 0; i < out.size(); i += 8) {
      const std::uint64_t word = next();
      const std::size_t n = std::min<std::size_t>(8, out.size() - i);
      std::memcpy(out.data() + i, &word, n);
    }
    for (const std::uint8_t b : out) any = any || b != 0;
    if (any || out.empty()) return;
  }
}

std::optional<ParentContext> parse_traceparent(std::string_view h) noexcept {
  if (h.size() < 55) return std::nullopt;
  std::array<std::uint8_t, 1> version{}, flags{};
  const int v_hi = hex_digit(h[0]), v_lo = hex_digit(h[1]);
  if (v_hi < 0 || v_lo < 0) return std::nullopt;
  version[0] = static_cast<std::uint8_t>(v_hi * 16 + v_lo);
  if (version[0] == 0xff) return std::nullopt;
  if (version[0] == 0 && h.size() != 55) return std::nullopt;
  if (version[0] != 0 && h.size() > 55 && h[55] != '-') return std::nullopt;
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  ParentContext out;
  if (!parse_hex(h.substr(3, 32), out.trace_id) || !parse_hex(h.substr(36, 16), out.parent_id)) {
    return std::nullopt;
  }
  const int f_hi = hex_digit(h[53]), f_lo = hex_digit(h[54]);
  if (f_hi < 0 || f_lo < 0) return std::nullopt;
  flags[0] = static_cast<std::uint8_t>(f_hi * 16 + f_lo);
  out.flags = flags[0];
  return out;
}

bool valid_tracestate(std::string_view header) noexcept {
  if (header.size() > 512) return false;
  unsigned members = 0;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view member = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (member.empty()) continue;  // empty list-members are allowed
    const auto eq = member.find('=');
    if (eq == std::string_view::npos || !valid_key(member.substr(0, eq)) ||
        !valid_value(member.substr(eq + 1))) {
      return false;
    }
    if (++members > 32) return false;
  }
  return true;
}

TraceIds start_trace(const std::optional<ParentContext>& parent, double sample_ratio,
                     IdSource& ids) noexcept {
  TraceIds out;
  ids.fill(out.span_id);
  if (parent) {
    out.trace_id = parent->trace_id;
    out.parent_span_id = parent->parent_id;
    out.sampled = (parent->flags & 1) != 0;
    return out;
  }
  ids.fill(out.trace_id);
  // 53 random bits against the ratio: 1.0 always samples, 0.0 never.
  out.sampled = static_cast<double>(ids.next() >> 11) * 0x1.0p-53 < sample_ratio;
  return out;
}

void format_traceparent(const TraceIds& ids, std::span<char, 55> out) noexcept {
  char* p = out.data();
  *p++ = '0';
  *p++ = '0';
  *p++ = '-';
  hex(ids.trace_id, p);
  p += 32;
  *p++ = '-';
  hex(ids.span_id, p);
  p += 16;
  *p++ = '-';
  *p++ = '0';
  *p++ = ids.sampled ? '1' : '0';
}

std::array<std::uint8_t, 8> child_span_id(const TraceIds& ids, SpanRole role) noexcept {
  std::array<std::uint8_t, 8> id = ids.span_id;
  id[7] ^= static_cast<std::uint8_t>(role);
  if (std::all_of(id.begin(), id.end(), [](auto b) { return b == 0; })) id[0] = 1;
  return id;
}

bool sane_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '+' || c == '/' || c == '=' || c == '-';
  });
}

void format_request_id(IdSource& ids, FixedText<32>& out) noexcept {
  std::array<std::uint8_t, 16> bytes;
  ids.fill(bytes);
  hex(bytes, out.data);
  out.size = 32;
  out.truncated = false;
}

void hex(std::span<const std::uint8_t> bytes, char* out) noexcept {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (const std::uint8_t b : bytes) {
    *out++ = kDigits[b >> 4];
    *out++ = kDigits[b & 15];
  }
}

}  // namespace infergate::telemetry
