// The API paths and queries of lists and watches (client-go's URL shapes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "infergate/k8s/client.hpp"

namespace infergate::k8s::detail {

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string query_escape(std::string_view text);

// "/api/v1[/namespaces/NS]/pods" or "/apis/GROUP/VERSION[/namespaces/NS]/PLURAL".
std::string collection_path(const ResourceKind& kind, const WatchScope& scope);

// One object: the collection path of its namespace, then "/NAME" (plus "/SUBRESOURCE").
std::string object_path(const ResourceKind& kind, const std::string& namespace_name,
                        const std::string& name, const std::string& subresource = {});

// One list page: ?limit=N[&continue=T][&labelSelector=..][&fieldSelector=..].
std::string list_target(const ResourceKind& kind, const WatchScope& scope, std::uint32_t limit,
                        const std::string& continue_token);

// A watch from `resource_version` with bookmarks and a server-side time limit.
std::string watch_target(const ResourceKind& kind, const WatchScope& scope,
                         const std::string& resource_version, std::chrono::seconds timeout);

}  // namespace infergate::k8s::detail
