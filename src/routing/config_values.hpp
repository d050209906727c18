// Parsers for the scalar values of the config file. Pure functions, no YAML: tested on their own.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "infergate/config.hpp"

namespace infergate {

// "32MiB", "64KiB", "1GiB" (powers of 1024), "2MB", "500KB" (powers of 1000), "123B", "123".
// nullopt when malformed or when it overflows.
std::optional<std::size_t> parse_size(std::string_view s);

// A sequence of <number><unit> with units h, m, s, ms ("1h30m", "2s", "1.5s", "500ms"),
// or a plain integer of milliseconds ("250"). nullopt when malformed, negative or over 30 days.
std::optional<Millis> parse_duration(std::string_view s);

// For messages: Levenshtein distance, to suggest a known key for a misspelt one.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace infergate
