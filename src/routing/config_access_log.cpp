// The `access_log:` block, with the loader's located errors:
//   access_log: true                # shorthand: every field, JSON, to stdout
//   access_log:
//     enabled: true                 # default true once the block is there
//     path: /var/log/infergate/access.log   # "-" (default): stdout
//     format: json                  # json | text
//     fields: [time, request_id, status, model, duration_ms]   # default: every field, in order
//     sample_ratio: 0.1             # of successful requests; failures are always written
//     buffer: 8192                  # records per worker waiting for the writer; more are dropped
#include "routing/config_access_log.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "telemetry/access_log_fields.hpp"

namespace infergate::config_detail {
namespace {

void format(Loader& loader, const YAML::Node& node, const std::string& path, AccessLogConfig& out) {
  const auto s = loader.text(node, path);
  if (!s) return;
  if (*s == "json") out.format = AccessLogConfig::Format::json;
  else if (*s == "text") out.format = AccessLogConfig::Format::text;
  else loader.issue(node, path, fmt::format("expected json or text, got '{}'", *s));
}

std::string known_fields() {
  std::string out;
  for (const auto name : telemetry::kLogFieldNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

void fields(Loader& loader, const YAML::Node& node, const std::string& path, AccessLogConfig& out) {
  if (node.IsNull()) return;
  loader.sequence(node, path, [&](const YAML::Node& e, const std::string& ep) {
    const auto s = loader.text(e, ep);
    if (!s) return;
    if (!telemetry::log_field(*s)) {
      loader.issue(e, ep, fmt::format("unknown field '{}' (known: {})", *s, known_fields()));
    } else if (std::find(out.fields.begin(), out.fields.end(), *s) != out.fields.end()) {
      loader.issue(e, ep, fmt::format("'{}' is listed twice", *s));
    } else {
      out.fields.push_back(*s);
    }
  });
  if (node.IsSequence() && node.size() == 0) {
    loader.issue(node, path, "lists no field; leave it out to write every field");
  }
}

// The file itself is opened at start-up; a directory that is not there is worth saying here,
// with the line, rather than as a failed open.
void log_path(Loader& loader, const YAML::Node& node, const std::string& path, AccessLogConfig& out) {
  const auto s = loader.text(node, path);
  if (!s) return;
  out.path = *s;
  if (*s == "-") return;
  std::error_code ec;
  const std::filesystem::path file(*s);
  if (std::filesystem::is_directory(file, ec)) {
    loader.issue(node, path, fmt::format("'{}' is a directory", *s));
  } else if (file.has_parent_path() && !std::filesystem::is_directory(file.parent_path(), ec)) {
    loader.issue(node, path, fmt::format("directory '{}' does not exist", file.parent_path().string()));
  }
}

}  // namespace

void access_log(Loader& loader, const YAML::Node& node, const std::string& path, AccessLogConfig& out) {
  if (node.IsScalar()) {  // `access_log: true` / `false`
    loader.set_bool(node, path, out.enabled);
    return;
  }
  out.enabled = true;  // the block's presence turns the log on
  if (node.IsNull()) return;
  loader.fields(
      node, path,
      {{"enabled", false, [&](const YAML::Node& n, const std::string& p) { loader.set_bool(n, p, out.enabled); }},
       {"path", false, [&](const YAML::Node& n, const std::string& p) { log_path(loader, n, p, out); }},
       {"format", false, [&](const YAML::Node& n, const std::string& p) { format(loader, n, p, out); }},
       {"fields", false, [&](const YAML::Node& n, const std::string& p) { fields(loader, n, p, out); }, true},
       {"sample_ratio", false,
        [&](const YAML::Node& n, const std::string& p) { loader.set_number(n, p, out.sample_ratio, 0, 1); }},
       {"buffer", false, [&](const YAML::Node& n, const std::string& p) {
          loader.set_integer(n, p, out.buffer, 1, std::uint64_t{1} << 20);
        }}});
}

}  // namespace infergate::config_detail
