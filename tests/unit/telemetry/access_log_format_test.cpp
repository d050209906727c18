// The access log's line format: every field's rendering and escaping, in JSON and text, and the
// selection and order of `fields:`.
#include "telemetry/access_log_format.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace infergate;
using namespace infergate::telemetry;

namespace {

using Format = AccessLogConfig::Format;

std::string line(const RequestRecord& r, std::vector<std::string> fields, Format format = Format::json) {
  std::string out;
  LineFormatter(format, fields).append(out, r);
  return out;
}

std::string json_string(std::string_view text, bool truncated = false) {
  std::string out;
  append_json_string(out, text, truncated);
  return out;
}

// A record with every field set, as a session would fill it.
RequestRecord full_record() {
  RequestRecord r;
  r.start_unix_us = 1796644800123456;  // 2026-12-07T12:00:00.123456Z
  r.queue_start_us = 100, r.queue_end_us = 2600;
  r.upstream_start_us = 2700;
  r.first_byte_us = 1200;
  r.end_us = 40100;
  r.request_id.assign("9f2c0000000000000000000000000001");
  for (std::size_t i = 0; i < 16; ++i) r.trace.trace_id[i] = static_cast<std::uint8_t>(0xa0 + i);
  std::copy_n("POST", 4, r.method.begin());
  r.path.assign("/v1/chat/completions");
  r.client.assign("10.0.0.7");
  r.team.assign("a");
  r.key.assign("alice");
  r.model.assign("llama");
  r.model_forwarded.assign("llama-3-8b");
  r.pool.assign("p");
  r.endpoint.assign("127.0.0.1:8001");
  r.status = 200;
  r.retries = 1;
  r.stream = true;
  r.bytes_in = 512;
  r.bytes_out = 2048;
  r.input_tokens = 12;
  r.output_tokens = 30;
  return r;
}

}  // namespace

TEST_CASE("JSON: every field, in the default order") {
  CHECK(line(full_record(), {}) ==
        R"({"time":"2026-12-07T12:00:00.123Z","request_id":"9f2c0000000000000000000000000001",)"
        R"("trace_id":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf","method":"POST","path":"/v1/chat/completions",)"
        R"("client":"10.0.0.7","team":"a","key":"alice","model":"llama","model_forwarded":"llama-3-8b",)"
        R"("pool":"p","endpoint":"127.0.0.1:8001","status":200,"reason":"","retries":1,"bytes_in":512,)"
        R"("bytes_out":2048,"ttfb_ms":1.200,"queue_ms":2.500,"duration_ms":40.100,"input_tokens":12,)"
        R"("output_tokens":30,"stream":true,"client_aborted":false})"
        "\n");
}

TEST_CASE("JSON: each field's rendering, unknowns as null, no trace left out") {
  RequestRecord empty;  // a refusal before anything was known
  struct Case {
    const char* field;
    RequestRecord record;
    const char* expected;
  };
  RequestRecord queued_then_left = empty;
  queued_then_left.queue_start_us = 1000, queued_then_left.end_us = 3500;
  RequestRecord tokens = empty;
  tokens.input_tokens = 0, tokens.output_tokens = 9000000000;
  RequestRecord aborted = empty;
  aborted.client_aborted = true, aborted.end_us = 999999;
  RequestRecord epoch = empty;
  epoch.start_unix_us = -1;  // before 1970: floor, not truncation toward zero
  RequestRecord leap = empty;
  leap.start_unix_us = 951782400000000 + 999999;  // 2000-02-29T00:00:00.999Z
  const Case cases[] = {
      {"time", empty, R"({"time":"1970-01-01T00:00:00.000Z"})"},
      {"time", epoch, R"({"time":"1969-12-31T23:59:59.999Z"})"},
      {"time", leap, R"({"time":"2000-02-29T00:00:00.999Z"})"},
      {"trace_id", empty, "{}"},
      {"request_id", empty, R"({"request_id":""})"},
      {"method", empty, R"({"method":""})"},
      {"status", empty, R"({"status":0})"},
      {"ttfb_ms", empty, R"({"ttfb_ms":null})"},
      {"queue_ms", empty, R"({"queue_ms":null})"},
      {"queue_ms", queued_then_left, R"({"queue_ms":2.500})"},
      {"duration_ms", empty, R"({"duration_ms":0.000})"},
      {"duration_ms", aborted, R"({"duration_ms":999.999})"},
      {"input_tokens", empty, R"({"input_tokens":null})"},
      {"input_tokens", tokens, R"({"input_tokens":0})"},
      {"output_tokens", tokens, R"({"output_tokens":9000000000})"},
      {"client_aborted", aborted, R"({"client_aborted":true})"},
      {"stream", empty, R"({"stream":false})"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.field);
    CHECK(line(c.record, {c.field}) == std::string(c.expected) + "\n");
  }
}

TEST_CASE("JSON strings: quotes, backslash, control bytes, invalid UTF-8, cuts") {
  struct Case {
    std::string in;
    bool truncated;
    std::string expected;
  };
  const Case cases[] = {
      {"plain /v1/models?x=1", false, R"("plain /v1/models?x=1")"},
      {R"(a"b\c)", false, R"("a\"b\\c")"},
      {"\n\r\t\b\f", false, R"("\n\r\t\b\f")"},
      {std::string("\x00\x01\x1f\x7f", 4), false, R"("\u0000\u0001\u001f\u007f")"},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", false, "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\""},
      {"a\xFF" "b", false, "\"a\xEF\xBF\xBD" "b\""},               // never valid
      {"\xC0\xAF", false, "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},         // overlong '/'
      {"\xED\xA0\x80", false, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},  // a surrogate
      {"\xF4\x90\x80\x80", false, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},  // > U+10FFFF
      {"\x80", false, "\"\xEF\xBF\xBD\""},                          // stray continuation
      {"ab\xE2\x82", false, "\"ab\xEF\xBF\xBD\xEF\xBF\xBD\""},      // ends inside a character
      {"ab\xE2\x82", true, "\"ab\xE2\x80\xA6\""},                   // ...because it was cut
      {"abc", true, "\"abc\xE2\x80\xA6\""},
      {"", false, R"("")"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(json_string(c.in, c.truncated) == c.expected);
  }
}

TEST_CASE("a text longer than its record's room is marked as cut") {
  RequestRecord r;
  r.path.assign(std::string(200, 'x'));
  CHECK(line(r, {"path"}) == "{\"path\":\"" + std::string(160, 'x') + "\xE2\x80\xA6\"}\n");
  r.model.assign("m\"" + std::string(200, 'y'));
  CHECK(line(r, {"model"}) == "{\"model\":\"m\\\"" + std::string(94, 'y') + "\xE2\x80\xA6\"}\n");
}

TEST_CASE("fields: selects and orders; unknown and repeated names are refused") {
  const RequestRecord r = full_record();
  CHECK(line(r, {"status", "model", "time"}) ==
        R"({"status":200,"model":"llama","time":"2026-12-07T12:00:00.123Z"})" "\n");
  CHECK_THROWS_AS(LineFormatter(Format::json, {"status", "latency"}), std::invalid_argument);
  CHECK_THROWS_AS(LineFormatter(Format::json, {"status", "status"}), std::invalid_argument);
}

TEST_CASE("text: positional fields first, then name=value; unknowns as -") {
  RequestRecord r = full_record();
  CHECK(line(r, {}, Format::text) ==
        "2026-12-07T12:00:00.123Z 9f2c0000000000000000000000000001 POST /v1/chat/completions 200 "
        "trace=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf client=10.0.0.7 team=a key=alice model=llama "
        "model_forwarded=llama-3-8b pool=p endpoint=127.0.0.1:8001 reason=- retries=1 bytes_in=512 "
        "bytes_out=2048 ttfb=1.200ms queue=2.500ms dur=40.100ms in=12 out=30 stream=true "
        "aborted=false\n");
  RequestRecord refused;
  refused.status = 404;
  refused.reason.assign("model_not_found");
  refused.model.assign("my model");
  refused.pool.assign("-");
  CHECK(line(refused, {"status", "model", "pool", "reason", "ttfb_ms", "output_tokens", "path"},
             Format::text) ==
        "- 404 model=\"my model\" pool=\"-\" reason=model_not_found ttfb=- out=-\n");
  RequestRecord odd;
  odd.path.assign("/a b\"\n");
  odd.team.assign("\xC3\xA9quipe");
  CHECK(line(odd, {"path", "team"}, Format::text) == "\"/a b\\\"\\n\" team=\"\xC3\xA9quipe\"\n");
}

TEST_CASE("valid_utf8 passes valid text through and replaces what is not") {
  std::string scratch;
  CHECK(valid_utf8("plain /v1/chat", scratch) == "plain /v1/chat");
  CHECK(valid_utf8("caf\xC3\xA9 \xE2\x80\xA6", scratch) == "caf\xC3\xA9 \xE2\x80\xA6");
  CHECK(valid_utf8("a\xFF" "b", scratch) == "a\xEF\xBF\xBD" "b");
  CHECK(valid_utf8("\xC3", scratch) == "\xEF\xBF\xBD");          // cut sequence
  CHECK(valid_utf8("\xED\xA0\x80", scratch) == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}
