#include "k8s/resource_path.hpp"

namespace infergate::k8s::detail {
namespace {

void append_selectors(std::string& target, const WatchScope& scope) {
  if (!scope.label_selector.empty())
    target += "&labelSelector=" + query_escape(scope.label_selector);
  if (!scope.field_selector.empty())
    target += "&fieldSelector=" + query_escape(scope.field_selector);
}

}  // namespace

std::string query_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string collection_path(const ResourceKind& kind, const WatchScope& scope) {
  std::string path = kind.group.empty() ? "/api/" + kind.version
                                        : "/apis/" + kind.group + "/" + kind.version;
  if (kind.namespaced && !scope.namespace_name.empty())
    path += "/namespaces/" + query_escape(scope.namespace_name);
  path += "/" + kind.plural;
  return path;
}

std::string object_path(const ResourceKind& kind, const std::string& namespace_name,
                        const std::string& name, const std::string& subresource) {
  WatchScope scope;
  scope.namespace_name = namespace_name;
  std::string path = collection_path(kind, scope) + "/" + query_escape(name);
  if (!subresource.empty()) path += "/" + subresource;
  return path;
}

std::string list_target(const ResourceKind& kind, const WatchScope& scope, std::uint32_t limit,
                        const std::string& continue_token) {
  std::string target = collection_path(kind, scope) + "?limit=" + std::to_string(limit);
  if (!continue_token.empty()) target += "&continue=" + query_escape(continue_token);
  append_selectors(target, scope);
  return target;
}

std::string watch_target(const ResourceKind& kind, const WatchScope& scope,
                         const std::string& resource_version, std::chrono::seconds timeout) {
  std::string target = collection_path(kind, scope) + "?watch=1&allowWatchBookmarks=true";
  if (!resource_version.empty()) target += "&resourceVersion=" + query_escape(resource_version);
  target += "&timeoutSeconds=" + std::to_string(timeout.count());
  append_selectors(target, scope);
  return target;
}

}  // namespace infergate::k8s::detail
