// The bounded record of routing-table changes behind /debug/changes.
#include "proxy/table_changes.hpp"

#include <chrono>

#include <fmt/format.h>

#include "infergate/errors.hpp"  // append_json_escaped

namespace infergate::proxy {

void TableChanges::record(std::string_view source, bool applied, std::string detail) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  record_at(std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), source, applied,
            std::move(detail));
}

void TableChanges::record_at(std::int64_t unix_ms, std::string_view source, bool applied,
                             std::string detail) {
  Change change{unix_ms, std::string(source), applied, std::move(detail)};
  const std::lock_guard lock(mutex_);
  changes_.push_front(std::move(change));
  if (changes_.size() > kKept) changes_.pop_back();
}

std::string TableChanges::render_json() const {
  std::string out = R"({"changes":[)";
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < changes_.size(); ++i) {
    const Change& c = changes_[i];
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out), R"({{"unix_ms":{},"source":")", c.unix_ms);
    append_json_escaped(out, c.source);
    fmt::format_to(std::back_inserter(out), R"(","applied":{},"detail":")", c.applied);
    append_json_escaped(out, c.detail);
    out += "\"}";
  }
  out += "]}\n";
  return out;
}

}  // namespace infergate::proxy
