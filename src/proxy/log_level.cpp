#include "proxy/log_level.hpp"

#include <spdlog/spdlog.h>

namespace infergate::proxy {
namespace {

std::string level_json(spdlog::level::level_enum level) {
  const auto name = spdlog::level::to_string_view(level);
  return R"({"level":")" + std::string(name.data(), name.size()) + "\"}\n";
}

// The value of `name` in a query string "a=1&level=debug"; empty when absent.
std::string_view query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

void answer_log_level(bool read, bool write, std::string_view query, unsigned& status, std::string& body) {
  if (read) {
    status = 200;
    body = level_json(spdlog::get_level());
    return;
  }
  if (!write) {
    status = 405;
    body = R"({"error":"GET to read, PUT or POST ?level=LEVEL to change"})" "\n";
    return;
  }
  const std::string wanted(query_value(query, "level"));
  const auto level = spdlog::level::from_str(wanted);
  if (level == spdlog::level::off && wanted != "off") {
    status = 400;
    body = R"({"error":"level must be one of trace, debug, info, warn, error, critical, off"})" "\n";
    return;
  }
  spdlog::set_level(level);  // every registered logger, and the default for new ones
  spdlog::info("log level set to {} (admin)", wanted);
  status = 200;
  body = level_json(level);
}

}  // namespace infergate::proxy
