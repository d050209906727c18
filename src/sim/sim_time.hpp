// Simulated time: microseconds on a monotonic clock. The model never reads a clock itself; the
// server passes steady_clock readings and the tests pass whatever they like.
#pragma once

#include <cstdint>
#include <limits>

namespace infergate::sim {

using Micros = std::int64_t;
inline constexpr Micros kNever = std::numeric_limits<Micros>::max();

inline constexpr Micros ms(double v) { return static_cast<Micros>(v * 1000.0); }
inline constexpr double to_seconds(Micros us) { return static_cast<double>(us) / 1e6; }

}  // namespace infergate::sim
