// The watch stream decoding: lines reassembled from arbitrary cuts, events and list pages decoded.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "k8s/watch_events.hpp"

using namespace infergate::k8s::detail;

namespace {

const std::string kStream =
    R"({"type":"ADDED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"ns1","resourceVersion":"11"},"status":{"podIP":"10.0.0.1"}}})"
    "\n"
    R"({"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"a","namespace":"ns1","resourceVersion":"12"}, "spec" : { "x" : [1, 2] }}})"
    "\n"
    R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"15"}}})"
    "\n"
    R"({"type":"DELETED","object":{"kind":"Pod","metadata":{"name":"a","namespace":"ns1","resourceVersion":"16"}}})"
    "\n"
    R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (16)","reason":"Expired","code":410}})j"
    "\n";

std::vector<std::string> split_all(const std::vector<std::string_view>& pieces,
                                   LineSplitter& splitter) {
  std::vector<std::string> lines;
  for (auto piece : pieces)
    REQUIRE(splitter.feed(piece, [&](std::string_view line) { lines.emplace_back(line); }));
  return lines;
}

}  // namespace

TEST_CASE("line splitter: whole stream in one piece") {
  LineSplitter splitter;
  auto lines = split_all({kStream}, splitter);
  CHECK(lines.size() == 5);
  CHECK(splitter.pending() == 0);
  CHECK(lines[2].find("BOOKMARK") != std::string::npos);
}

TEST_CASE("line splitter: every cut point and random multi-cuts give the same lines") {
  LineSplitter whole;
  const auto expected = split_all({kStream}, whole);
  std::string_view all = kStream;
  for (std::size_t cut = 0; cut <= all.size(); ++cut) {
    LineSplitter splitter;
    CHECK(split_all({all.substr(0, cut), all.substr(cut)}, splitter) == expected);
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> pieces;
    std::size_t at = 0;
    while (at < all.size()) {
      std::size_t len = std::uniform_int_distribution<std::size_t>(1, 9)(rng);
      pieces.push_back(all.substr(at, len));
      at += len;
    }
    LineSplitter splitter;
    CHECK(split_all(pieces, splitter) == expected);
  }
}

TEST_CASE("line splitter: a cut line waits, CRLF and blank lines are dropped, too long fails") {
  LineSplitter splitter(16);
  std::vector<std::string> lines;
  auto collect = [&](std::string_view line) { lines.emplace_back(line); };
  CHECK(splitter.feed("abc", collect));
  CHECK(lines.empty());
  CHECK(splitter.pending() == 3);
  CHECK(splitter.feed("def\n\n\r\nxy", collect));
  CHECK(lines == std::vector<std::string>{"abcdef"});
  CHECK_FALSE(splitter.feed("0123456789abcdefgh", collect));
  splitter.reset();
  CHECK(splitter.pending() == 0);
}

TEST_CASE("line splitter: a read cut between CR and LF gives the same lines as one read") {
  for (const std::size_t cut : {std::size_t{4}, std::size_t{5}, std::size_t{6}}) {
    const std::string_view stream = "{\"a\"}\r\n{}\r\n";  // cut 5: after the first CR
    LineSplitter splitter;
    std::vector<std::string> lines;
    auto collect = [&](std::string_view line) { lines.emplace_back(line); };
    CHECK(splitter.feed(stream.substr(0, cut), collect));
    CHECK(splitter.feed(stream.substr(cut), collect));
    CHECK(lines == std::vector<std::string>{"{\"a\"}", "{}"});
  }
}

TEST_CASE("decode watch events") {
  Decoder decoder;
  LineSplitter splitter;
  std::vector<WatchEvent> events;
  REQUIRE(splitter.feed(kStream, [&](std::string_view line) {
    WatchEvent event;
    std::string error;
    REQUIRE_MESSAGE(decoder.decode_event(line, event, error), error);
    events.push_back(std::move(event));
  }));
  REQUIRE(events.size() == 5);
  CHECK(events[0].type == EventType::added);
  CHECK(events[0].key == "ns1/a");
  CHECK(events[0].resource_version == "11");
  CHECK(events[0].object_json.find(R"("podIP":"10.0.0.1")") != std::string::npos);
  CHECK(events[1].type == EventType::modified);
  CHECK(events[1].object_json.find(R"("spec":{"x":[1,2]})") != std::string::npos);  // minified
  CHECK(events[2].type == EventType::bookmark);
  CHECK(events[2].resource_version == "15");
  CHECK(events[2].key.empty());
  CHECK(events[3].type == EventType::deleted);
  CHECK(events[3].resource_version == "16");
  CHECK(events[4].type == EventType::error);
  CHECK(events[4].code == 410);
  CHECK(events[4].message.find("Expired") != std::string::npos);
}

TEST_CASE("decode watch events: cluster-scoped keys and malformed lines") {
  Decoder decoder;
  WatchEvent event;
  std::string error;
  REQUIRE(decoder.decode_event(R"({"type":"ADDED","object":{"metadata":{"name":"crd1","resourceVersion":"3"}}})",
                               event, error));
  CHECK(event.key == "crd1");
  struct Case { const char* line; const char* error_part; };
  for (Case c : {Case{"{not json", "not JSON"},
                 Case{R"({"type":"ADDED"})", "not a watch event"},
                 Case{R"({"type":"SOMETHING","object":{}})", "unknown event type"},
                 Case{R"({"type":"ADDED","object":{"metadata":{}}})", "without metadata.name"}}) {
    CAPTURE(c.line);
    error.clear();
    CHECK_FALSE(decoder.decode_event(c.line, event, error));
    CHECK(error.find(c.error_part) != std::string::npos);
  }
}

TEST_CASE("decode list pages") {
  Decoder decoder;
  ListPage page;
  std::string error;
  REQUIRE(decoder.decode_list(
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"tok=="},
          "items":[{"metadata":{"name":"b","namespace":"x"}},{"metadata":{"name":"a","namespace":"x"},"spec":{}}]})",
      page, error));
  CHECK(page.resource_version == "42");
  CHECK(page.continue_token == "tok==");
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[0].first == "x/b");
  CHECK(page.items[1].second == R"({"metadata":{"name":"a","namespace":"x"},"spec":{}})");

  REQUIRE(decoder.decode_list(R"({"metadata":{"resourceVersion":"7"},"items":null})", page, error));
  CHECK(page.items.empty());
  CHECK(page.continue_token.empty());
  CHECK_FALSE(decoder.decode_list(R"({"metadata":{}})", page, error));
  CHECK_FALSE(decoder.decode_list("<html>", page, error));
}

TEST_CASE("decode a Status body") {
  Decoder decoder;
  auto status = decoder.decode_status(
      R"({"kind":"Status","status":"Failure","message":"pods is forbidden: User \"x\" cannot list","reason":"Forbidden","code":403})");
  CHECK(status.code == 403);
  CHECK(status.reason == "Forbidden");
  CHECK(status.message.find("cannot list") != std::string::npos);
  CHECK(decoder.decode_status("not json").code == 0);
}

TEST_CASE("kept fields: only those paths come out, in list pages and events alike") {
  Decoder decoder({"/metadata/name", "/metadata/namespace", "/metadata/labels", "/status/podIP",
                   "/status/conditions", "/spec/missing/deep"});
  const std::string pod =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","resourceVersion":"9",)"
      R"("labels":{"app":"vllm","q\"uote":"v"},"managedFields":[{"manager":"kubelet"}]},)"
      R"("spec":{"containers":[{"name":"c"}]},)"
      R"("status":{"podIP":"10.1.2.3","conditions":[{"type":"Ready","status":"True"}],"phase":"Running"}})";
  const std::string kept =
      R"({"metadata":{"labels":{"app":"vllm","q\"uote":"v"},"name":"p","namespace":"ns"},)"
      R"("status":{"conditions":[{"type":"Ready","status":"True"}],"podIP":"10.1.2.3"}})";
  WatchEvent event;
  std::string error;
  REQUIRE(decoder.decode_event(R"({"type":"MODIFIED","object":)" + pod + "}", event, error));
  CHECK(event.key == "ns/p");
  CHECK(event.resource_version == "9");  // read before the object is cut down
  CHECK(event.object_json == kept);
  ListPage page;
  REQUIRE(decoder.decode_list(R"({"metadata":{"resourceVersion":"9"},"items":[)" + pod + "]}", page, error));
  REQUIRE(page.items.size() == 1);
  CHECK(page.items[0].second == kept);

  // A change to a field nobody keeps is no change: the kept form is byte for byte the same.
  std::string restarted = pod;
  restarted.replace(restarted.find(R"("phase":"Running")"), 17, R"("phase":"Pending")");
  restarted.replace(restarted.find(R"("resourceVersion":"9")"), 21, R"("resourceVersion":"10")");
  REQUIRE(decoder.decode_event(R"({"type":"MODIFIED","object":)" + restarted + "}", event, error));
  CHECK(event.object_json == kept);
  CHECK(event.resource_version == "10");

  // A kept path through something that is not an object is left out; so is a missing one.
  REQUIRE(decoder.decode_event(
      R"({"type":"ADDED","object":{"metadata":{"name":"q","namespace":"ns"},"status":"odd"}})",
      event, error));
  CHECK(event.object_json == R"({"metadata":{"name":"q","namespace":"ns"}})");
}

TEST_CASE("kept fields: a path under a kept field changes nothing; no paths keeps everything") {
  Decoder decoder({"/metadata", "/metadata/name"});
  WatchEvent event;
  std::string error;
  REQUIRE(decoder.decode_event(
      R"({"type":"ADDED","object":{"metadata":{"name":"a","uid":"u"},"spec":{}}})", event, error));
  CHECK(event.object_json == R"({"metadata":{"name":"a","uid":"u"}})");
  Decoder whole;
  REQUIRE(whole.decode_event(
      R"({"type":"ADDED","object":{"metadata":{"name":"a","uid":"u"},"spec":{}}})", event, error));
  CHECK(event.object_json == R"({"metadata":{"name":"a","uid":"u"},"spec":{}})");
}
