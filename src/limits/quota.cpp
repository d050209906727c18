// The header values of a limit: Retry-After's seconds and OpenAI's reset durations.
#include <array>
#include <charconv>
#include <string>

#include "limits/limiter.hpp"

namespace infergate::limits {

std::uint64_t retry_after_seconds(std::chrono::milliseconds wait) noexcept {
  const std::int64_t ms = wait.count();
  if (ms <= 1000) return 1;
  return static_cast<std::uint64_t>((ms + 999) / 1000);
}

// Go's time.Duration format at millisecond precision, which is what OpenAI's
// x-ratelimit-reset-* headers carry: "250ms", "1s", "1.5s", "1m30s", "6m0s", "1h0m0s".
std::size_t format_reset(std::chrono::milliseconds wait, std::span<char, kResetChars> out) noexcept {
  char* p = out.data();
  char* const end = p + out.size();
  const auto put = [&](std::int64_t n) { p = std::to_chars(p, end, n).ptr; };
  std::int64_t ms = wait.count();
  if (ms <= 0) ms = 0;
  if (ms < 1000) {
    if (ms > 0) {
      put(ms);
      *p++ = 'm';
    } else {
      *p++ = '0';
    }
    *p++ = 's';
    return static_cast<std::size_t>(p - out.data());
  }
  const std::int64_t hours = ms / 3'600'000;
  ms %= 3'600'000;
  const std::int64_t minutes = ms / 60'000;
  ms %= 60'000;
  if (hours > 0) {
    put(hours);
    *p++ = 'h';
  }
  if (hours > 0 || minutes > 0) {
    put(minutes);
    *p++ = 'm';
  }
  put(ms / 1000);
  if (std::int64_t frac = ms % 1000; frac != 0) {
    *p++ = '.';
    for (std::int64_t unit = 100; frac != 0; unit /= 10) {  // leading zeros kept, trailing dropped
      *p++ = static_cast<char>('0' + frac / unit);
      frac %= unit;
    }
  }
  *p++ = 's';
  return static_cast<std::size_t>(p - out.data());
}

std::string format_reset(std::chrono::milliseconds wait) {
  std::array<char, kResetChars> text;
  return std::string(text.data(), format_reset(wait, text));
}

}  // namespace infergate::limits
