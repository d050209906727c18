// A sliding-minute counter: 61 one-second buckets, the current second and the 60 before it.
//
// Why 61 and not 60: a 60 s interval [t, t+60) touches up to 61 whole seconds. Summing 61 buckets
// means no 60 s interval ever holds more than the limit (strict), at the price of a window that
// lasts between 60 and 61 s (a unit frees up to 1.7 % later than an exact window would). A fixed
// calendar minute, or a token bucket of a full minute, would admit up to twice the limit.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>

namespace infergate::limits::detail {

class Window {
 public:
  static constexpr std::int64_t kSeconds = 61;

  // Forgets the buckets older than the window that ends at second `sec`. Earlier seconds than
  // the current head (another thread's slightly older clock) change nothing.
  void advance(std::int64_t sec) noexcept {
    if (sec <= head_) return;
    if (sec - head_ >= kSeconds) {
      buckets_.fill(0);
      total_ = 0;
    } else {
      for (std::int64_t s = head_ + 1; s <= sec; ++s) {
        std::uint64_t& b = buckets_[index(s)];
        total_ -= b;
        b = 0;
      }
    }
    head_ = sec;
    head_index_ = index(sec);
  }

  // Counts `n` in the current second (call advance() first).
  void add(std::uint64_t n) noexcept {
    buckets_[head_index_] += n;
    total_ += n;
  }

  // Takes back up to `n` from the bucket of second `sec`, if it is still in the window.
  void remove(std::int64_t sec, std::uint64_t n) noexcept {
    if (sec > head_ || sec <= head_ - kSeconds) return;
    std::uint64_t& b = buckets_[index(sec)];
    const std::uint64_t r = b < n ? b : n;
    b -= r;
    total_ -= r;
  }

  std::uint64_t total() const noexcept { return total_; }
  std::int64_t head() const noexcept { return head_; }

  // How long after `now_ms` until at least `units` of what is counted have aged out (a bucket of
  // second s leaves the window when second s+61 begins). 0 for 0 units; a full window when more
  // than the total is asked for (ageing alone will never free it).
  std::chrono::milliseconds until_freed(std::uint64_t units, std::int64_t now_ms) const noexcept {
    if (units == 0) return std::chrono::milliseconds{0};
    if (units <= total_) {
      // Oldest second first, from the first one that may hold units; the index wraps by
      // comparison (a modulo per bucket cost most of an admission's instructions).
      std::int64_t s = std::max(head_ - kSeconds + 1, quiet_before_);
      std::size_t i = index(s);
      std::uint64_t acc = 0;
      for (; s <= head_; ++s) {
        if (acc == 0 && buckets_[i] != 0) quiet_before_ = s;  // every older bucket is empty
        acc += buckets_[i];
        if (acc >= units) {
          const std::int64_t ms = (s + kSeconds) * 1000 - now_ms;
          return std::chrono::milliseconds{ms > 0 ? ms : 0};
        }
        if (++i == buckets_.size()) i = 0;
      }
    }
    return std::chrono::milliseconds{kSeconds * 1000};
  }

 private:
  static std::size_t index(std::int64_t s) noexcept {
    return static_cast<std::size_t>(((s % kSeconds) + kSeconds) % kSeconds);
  }

  std::array<std::uint64_t, kSeconds> buckets_{};
  std::uint64_t total_ = 0;
  std::int64_t head_ = std::numeric_limits<std::int64_t>::min() / 2;
  std::size_t head_index_ = index(head_);
  // No bucket of a second before this one holds units (add() counts only at head_ and remove()
  // only takes away): until_freed() starts there. Updated by until_freed(), under the caller's
  // lock like every other member.
  mutable std::int64_t quiet_before_ = std::numeric_limits<std::int64_t>::min() / 2;
};

}  // namespace infergate::limits::detail
