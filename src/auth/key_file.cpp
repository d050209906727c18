#include "auth/key_file.hpp"

#include <fmt/format.h>

#include "auth/watched_file.hpp"
#include "routing/api_key_text.hpp"
#include "routing/config_auth.hpp"

namespace infergate::auth {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

bool is_list_file(const std::string& name, std::string_view text) {
  for (const std::string_view ext : {".yaml", ".yml", ".json"}) {
    if (name.ends_with(ext)) return true;
  }
  if (text.starts_with("keys:") || text.starts_with('{') || text.starts_with('[')) return true;
  if (text.starts_with("- ") || text.starts_with("-\n") || text == "-") return true;
  return text.find('\n') != std::string_view::npos;
}

// The clear text of each key becomes its digest's text; the clear copy is wiped.
bool to_digests(std::vector<ApiKeyConfig>& keys) {
  for (ApiKeyConfig& key : keys) {
    const auto digest = configured_key_digest(key.key);
    if (!digest) return false;
    wipe(key.key);
    key.key = digest_text(*digest);
  }
  return true;
}

std::string joined(const std::vector<ConfigIssue>& issues) {
  std::string text;
  for (const ConfigIssue& issue : issues) {
    if (!text.empty()) text += "; ";
    text += issue.str();
  }
  return text;
}

}  // namespace

KeyFileResult parse_key_file(const std::string& name, const std::string& path, std::string& content) {
  KeyFileResult result;
  const std::string_view text = trim(content);
  if (text.empty()) {
    result.error = fmt::format("{}: the file is empty", path);
  } else if (is_list_file(name, text)) {
    try {
      result.keys = load_api_keys_string(content, path, name);
      result.ok = true;
    } catch (const ConfigError& e) {
      result.error = joined(e.issues());
    }
  } else if (const auto problem = api_key_problem(text)) {
    result.error = fmt::format("{}:1:1: key: {}", path, *problem);
  } else {
    ApiKeyConfig key;
    key.name = name;
    key.team = "default";
    key.key = std::string(text);
    result.keys.push_back(std::move(key));
    result.ok = true;
  }
  if (result.ok && !to_digests(result.keys)) {
    result = KeyFileResult{false, {}, fmt::format("{}: cannot hash a key", path)};
  }
  wipe(content);
  return result;
}

}  // namespace infergate::auth
