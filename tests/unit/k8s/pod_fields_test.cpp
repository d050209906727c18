// The Pod reflector keeps only decode::kPodFieldsRead: a pod cut down to those fields must decode
// exactly as the whole pod does, or a field pod() reads was left off the list.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>

#include "k8s/translate_decode.hpp"
#include "k8s/watch_events.hpp"

using namespace infergate::k8s;

namespace {

// A pod as the API server serves it, trimmed of nothing.
std::string served_pod(const std::string& extra_metadata, const std::string& ready) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"vllm-7d9f-abcde","generateName":"vllm-7d9f-",)"
         R"("namespace":"llm","uid":"0b6c","resourceVersion":"48211","creationTimestamp":"2026-11-30T08:00:00Z",)"
         R"("labels":{"app":"vllm","pod-template-hash":"7d9f"},"annotations":{"prometheus.io/scrape":"true"},)"
         R"("ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"vllm-7d9f","uid":"9"}],)"
         R"("managedFields":[{"manager":"kubelet","operation":"Update","fieldsV1":{"f:status":{}}}])" +
         extra_metadata +
         R"(},"spec":{"containers":[{"name":"vllm","image":"vllm/vllm-openai","ports":[{"containerPort":8000}]}],)"
         R"("nodeName":"gpu-1"},"status":{"phase":"Running","hostIP":"10.0.0.5","podIP":"10.8.1.7",)"
         R"("podIPs":[{"ip":"10.8.1.7"}],"conditions":[{"type":"Initialized","status":"True"},)"
         R"({"type":"Ready","status":")" + ready + R"("},{"type":"ContainersReady","status":")" + ready +
         R"("}],"containerStatuses":[{"name":"vllm","ready":true,"restartCount":0}]}})";
}

void check_same(const std::string& served) {
  detail::Decoder decoder(decode::kPodFieldsRead);
  detail::WatchEvent event;
  std::string error;
  REQUIRE(decoder.decode_event(R"({"type":"ADDED","object":)" + served + "}", event, error));
  CHECK(event.object_json.size() < served.size() / 2);
  const auto whole = decode::pod(served);
  const auto kept = decode::pod(event.object_json);
  REQUIRE(whole.value);
  REQUIRE(kept.value);
  CHECK(kept.value->meta.ns == whole.value->meta.ns);
  CHECK(kept.value->meta.name == whole.value->meta.name);
  CHECK(kept.value->meta.created == whole.value->meta.created);
  CHECK(kept.value->labels == whole.value->labels);
  CHECK(kept.value->ip == whole.value->ip);
  CHECK(kept.value->ready == whole.value->ready);
}

}  // namespace

TEST_CASE("a pod cut down to the fields read decodes as the whole pod") {
  SUBCASE("ready") { check_same(served_pod("", "True")); }
  SUBCASE("not ready") { check_same(served_pod("", "False")); }
  SUBCASE("being deleted") {
    check_same(served_pod(R"(,"deletionTimestamp":"2026-11-30T09:00:00Z")", "True"));
    CHECK_FALSE(decode::pod(served_pod(R"(,"deletionTimestamp":"x")", "True")).value->ready);
  }
}
