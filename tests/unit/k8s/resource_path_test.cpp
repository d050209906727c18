// URL shapes of lists and watches, as client-go builds them.
#include <doctest/doctest.h>

#include "k8s/resource_path.hpp"

using namespace infergate::k8s;
using namespace infergate::k8s::detail;

namespace {
WatchScope in_namespace(std::string ns) {
  WatchScope scope;
  scope.namespace_name = std::move(ns);
  return scope;
}
}  // namespace

TEST_CASE("collection paths") {
  ResourceKind pods{"", "v1", "pods"};
  ResourceKind pools{"inference.networking.k8s.io", "v1", "inferencepools"};
  ResourceKind crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
  CHECK(collection_path(pods, {}) == "/api/v1/pods");
  CHECK(collection_path(pods, in_namespace("team-a")) == "/api/v1/namespaces/team-a/pods");
  CHECK(collection_path(pools, in_namespace("x")) ==
        "/apis/inference.networking.k8s.io/v1/namespaces/x/inferencepools");
  CHECK(collection_path(crds, in_namespace("ignored")) ==
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
  CHECK(pools.api_version() == "inference.networking.k8s.io/v1");
  CHECK(pods.api_version() == "v1");
  CHECK(pools.display() == "inferencepools.inference.networking.k8s.io/v1");
  CHECK(pods.display() == "pods/v1");
}

TEST_CASE("list and watch targets carry paging, selectors and the resourceVersion") {
  ResourceKind pods{"", "v1", "pods"};
  WatchScope scope{"ns", "app in (a,b),tier=gpu", "status.phase=Running", {}};
  CHECK(list_target(pods, scope, 500, "") ==
        "/api/v1/namespaces/ns/pods?limit=500&labelSelector=app%20in%20%28a%2Cb%29%2Ctier%3Dgpu"
        "&fieldSelector=status.phase%3DRunning");
  CHECK(list_target(pods, {}, 2, "eyJ2Ijoi+/=") == "/api/v1/pods?limit=2&continue=eyJ2Ijoi%2B%2F%3D");
  CHECK(watch_target(pods, {}, "123", std::chrono::seconds(300)) ==
        "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=123&timeoutSeconds=300");
  CHECK(query_escape("a-b_c.d~e") == "a-b_c.d~e");
}

TEST_CASE("object paths") {
  ResourceKind routes{"gateway.networking.k8s.io", "v1", "httproutes"};
  ResourceKind nodes{"", "v1", "nodes", false};
  CHECK(object_path(routes, "ns", "r1", "status") ==
        "/apis/gateway.networking.k8s.io/v1/namespaces/ns/httproutes/r1/status");
  CHECK(object_path(nodes, "", "n1") == "/api/v1/nodes/n1");
}
