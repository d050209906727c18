// The header values of a limit: Retry-After's seconds and OpenAI's reset durations.
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
std::string format_reset(std::chrono::milliseconds wait) {
  std::int64_t ms = wait.count();
  if (ms <= 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  const std::int64_t hours = ms / 3'600'000;
  ms %= 3'600'000;
  const std::int64_t minutes = ms / 60'000;
  ms %= 60'000;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += std::to_string(ms / 1000);
  if (const std::int64_t frac = ms % 1000; frac != 0) {
    std::string digits = std::to_string(frac + 1000).substr(1);  // three digits, leading zeros
    while (digits.back() == '0') digits.pop_back();
    out += '.';
    out += digits;
  }
  out += 's';
  return out;
}

}  // namespace infergate::limits
