// The `tracing:` block: where spans go (OTLP over HTTP), how many, and in what batches.
#include <fmt/format.h>

#include "routing/config_tracing.hpp"

namespace infergate {

std::optional<OtlpUrl> parse_otlp_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
  std::string_view rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  OtlpUrl out;
  out.path = slash == std::string_view::npos ? "/v1/traces" : std::string(rest.substr(slash));
  std::string_view host = authority;
  std::string_view port = "4318";  // OTLP/HTTP's registered port
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  out.address = {std::string(host), static_cast<std::uint16_t>(value)};
  return out;
}

namespace config_detail {

void tracing(Loader& loader, const YAML::Node& node, const std::string& path, TracingConfig& out) {
  loader.fields(
      node, path,
      {{"endpoint", false,
        [&](const YAML::Node& n, const std::string& p) {
          const auto s = loader.text(n, p);
          if (!s) return;
          if (!parse_otlp_url(*s)) {
            loader.issue(n, p, fmt::format("expected an OTLP/HTTP URL such as "
                                           "http://127.0.0.1:4318/v1/traces, got '{}'", *s));
            return;
          }
          out.endpoint = *s;
        }},
       {"sample_ratio", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_number(n, p, out.sample_ratio, 0.0, 1.0); }},
       {"service_name", false,
        [&](const YAML::Node& n, const std::string& p) {
          if (const auto s = loader.text(n, p)) out.service_name = *s;
        }},
       {"buffer", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_integer(n, p, out.buffer, 1, 1u << 20); }},
       {"batch", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_integer(n, p, out.batch, 1, 65536); }},
       {"flush_interval", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_duration(n, p, out.flush_interval, false); }},
       {"timeout", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_duration(n, p, out.timeout, false); }}});
}

}  // namespace config_detail
}  // namespace infergate
