// Scalar values of the config file (sizes, durations, host:port) and helpers for its messages.
#include "routing/config_values.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace infergate {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::optional<std::uint64_t> to_uint(std::string_view s) {
  std::uint64_t value = 0;
  if (!all_digits(s)) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Host names as resolvers accept them: dot-separated labels of letters, digits, '-' and '_'.
bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0 || host.size() > 1;  // a trailing dot (FQDN) is fine, a lone dot is not
}

std::string join_issues(const std::vector<ConfigIssue>& issues) {
  std::string out;
  for (const auto& issue : issues) {
    if (!out.empty()) out += '\n';
    out += issue.str();
  }
  return out;
}

}  // namespace

std::string ConfigIssue::str() const {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : std::runtime_error(join_issues(issues)), issues_(std::move(issues)) {}

std::string HostPort::str() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::optional<std::size_t> parse_size(std::string_view s) {
  const std::size_t digits = s.find_first_not_of("0123456789");
  const auto number = to_uint(s.substr(0, digits));
  if (!number) return std::nullopt;
  const std::string_view unit = digits == std::string_view::npos ? "" : s.substr(digits);
  struct Unit {
    std::string_view name;
    std::uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},           {"B", 1},
      {"KiB", 1u << 10}, {"MiB", 1u << 20}, {"GiB", 1u << 30},
      {"KB", 1000},      {"MB", 1000'000},  {"GB", 1000'000'000},
  };
  for (const Unit& u : kUnits) {
    if (!iequals(unit, u.name)) continue;
    if (*number > SIZE_MAX / u.factor) return std::nullopt;
    return static_cast<std::size_t>(*number * u.factor);
  }
  return std::nullopt;
}

std::optional<Millis> parse_duration(std::string_view s) {
  if (auto ms = to_uint(s)) {
    if (*ms > 30ull * 24 * 3600 * 1000) return std::nullopt;
    return Millis(*ms);
  }
  if (s.empty()) return std::nullopt;
  double total_ms = 0;
  while (!s.empty()) {
    double value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    // from_chars accepts a leading '-', "inf" and "nan": none of them is a duration.
    if (ec != std::errc{} || end == s.data() || s.front() == '-' || !std::isfinite(value)) {
      return std::nullopt;
    }
    s.remove_prefix(static_cast<std::size_t>(end - s.data()));
    const std::size_t unit_len = s.find_first_of("0123456789.");
    const std::string_view unit = s.substr(0, unit_len);
    s.remove_prefix(unit.size());
    if (unit == "ms") total_ms += value;
    else if (unit == "s") total_ms += value * 1e3;
    else if (unit == "m") total_ms += value * 60e3;
    else if (unit == "h") total_ms += value * 3600e3;
    else return std::nullopt;
  }
  if (total_ms > 30.0 * 24 * 3600 * 1000) return std::nullopt;
  return Millis(static_cast<Millis::rep>(std::llround(total_ms)));
}

HostPort parse_host_port(const std::string& s) {
  const auto fail = [&](const std::string& why) {
    return std::invalid_argument("'" + s + "' is not host:port: " + why);
  };
  HostPort out;
  std::string_view rest;
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find("]:");
    if (close == std::string::npos) throw fail("expected [IPv6]:port");
    out.host = s.substr(1, close - 1);
    in6_addr v6{};
    if (inet_pton(AF_INET6, out.host.c_str(), &v6) != 1) throw fail("invalid IPv6 address");
    rest = std::string_view(s).substr(close + 2);
  } else {
    const std::size_t colon = s.rfind(':');
    if (colon == std::string::npos) throw fail("missing ':port'");
    out.host = s.substr(0, colon);
    if (out.host.find(':') != std::string::npos) throw fail("write IPv6 addresses as [addr]:port");
    if (out.host.empty()) throw fail("missing host");
    in_addr v4{};
    const bool numeric = out.host.find_first_not_of("0123456789.") == std::string::npos;
    if (numeric ? inet_pton(AF_INET, out.host.c_str(), &v4) != 1 : !valid_host_name(out.host)) {
      throw fail(numeric ? "invalid IPv4 address" : "invalid host name");
    }
    rest = std::string_view(s).substr(colon + 1);
  }
  const auto port = to_uint(rest);
  if (!port || *port > 65535) throw fail("port must be a number from 0 to 65535");
  out.port = static_cast<std::uint16_t>(*port);
  return out;
}

// Edit distance, for "did you mean" on unknown keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace infergate
