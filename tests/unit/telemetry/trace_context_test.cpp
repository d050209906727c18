// W3C trace context and request ids: the cases of the spec's test suite that apply to a
// receiver, and the ids the gateway makes.
#include "telemetry/trace_context.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace infergate::telemetry;

namespace {
constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kSpan = "00f067aa0ba902b7";

std::string tp(std::string_view version, std::string_view trace, std::string_view span,
               std::string_view flags, std::string_view rest = "") {
  return std::string(version) + "-" + std::string(trace) + "-" + std::string(span) + "-" +
         std::string(flags) + std::string(rest);
}

std::string hexed(std::span<const std::uint8_t> bytes) {
  std::string out(bytes.size() * 2, '?');
  hex(bytes, out.data());
  return out;
}
}  // namespace

TEST_CASE("traceparent: what is accepted and what is not") {
  struct Case {
    std::string header;
    bool valid;
  };
  const Case cases[] = {
      {tp("00", kTrace, kSpan, "01"), true},
      {tp("00", kTrace, kSpan, "00"), true},
      {tp("00", kTrace, kSpan, "09"), true},                 // unknown flags are kept as bits
      {tp("01", kTrace, kSpan, "01", "-what-the-future"), true},  // a later version: its first 55
      {tp("cc", kTrace, kSpan, "01"), true},
      {tp("00", kTrace, kSpan, "01", "-extra"), false},      // version 00 has exactly 55
      {tp("cc", kTrace, kSpan, "01", "extra"), false},       // no '-' after the 55
      {tp("ff", kTrace, kSpan, "01"), false},                // ff is forbidden
      {tp("00", "4BF92F3577B34DA6A3CE929D0E0E4736", kSpan, "01"), false},  // uppercase
      {tp("00", std::string(32, '0'), kSpan, "01"), false},  // all-zero trace id
      {tp("00", kTrace, std::string(16, '0'), "01"), false}, // all-zero parent id
      {tp("00", kTrace.substr(1), kSpan, "01"), false},      // short trace id
      {tp("0", kTrace, kSpan, "01"), false},
      {tp("00", kTrace, kSpan, "1"), false},
      {tp("00", kTrace, kSpan, "0g"), false},
      {"00_" + std::string(kTrace) + "-" + std::string(kSpan) + "-01", false},
      {"", false},
      {"garbage", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.header);
    const auto parsed = parse_traceparent(c.header);
    CHECK(parsed.has_value() == c.valid);
    if (parsed) {
      CHECK(hexed(parsed->trace_id) == kTrace);
      CHECK(hexed(parsed->parent_id) == kSpan);
    }
  }
}

TEST_CASE("tracestate: list members by the spec's rules") {
  const std::pair<std::string, bool> cases[] = {
      {"", true},
      {"vendor=abc", true},
      {"vendor=abc,other=1", true},
      {"a=1 , b=2,,c=3", true},  // spaces around and empty members are allowed
      {"tenant@system=x", true},
      {"1tenant@sys=x", true},
      {"Vendor=abc", false},     // keys are lowercase
      {"vendor", false},
      {"vendor=", false},
      {"vendor=a,b", false},
      {"vendor=a=b", false},
      {"ten@ant@sys=x", false},
      {"vendor=\x01", false},
      {std::string(600, 'a') + "=1", false},
  };
  for (const auto& [header, valid] : cases) {
    CAPTURE(header);
    CHECK(valid_tracestate(header) == valid);
  }
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  CHECK_FALSE(valid_tracestate(many));  // more than 32 members
}

TEST_CASE("a continued trace keeps its id and sampling; a new one gets fresh ids") {
  IdSource ids(7);
  const auto parent = parse_traceparent(tp("00", kTrace, kSpan, "01"));
  REQUIRE(parent);
  const TraceIds continued = start_trace(parent, 0.0, ids);
  CHECK(hexed(continued.trace_id) == kTrace);
  CHECK(hexed(continued.parent_span_id) == kSpan);
  CHECK(hexed(continued.span_id) != kSpan);
  CHECK(continued.sampled);  // the caller's decision, whatever our ratio
  CHECK(continued.has_parent());

  std::array<char, 55> out;
  format_traceparent(continued, out);
  const std::string text(out.data(), out.size());
  CHECK(text == "00-" + std::string(kTrace) + "-" + hexed(continued.span_id) + "-01");
  REQUIRE(parse_traceparent(text));

  const TraceIds fresh = start_trace(std::nullopt, 1.0, ids);
  CHECK(hexed(fresh.trace_id) != kTrace);
  CHECK_FALSE(fresh.has_parent());
  CHECK(fresh.sampled);
  CHECK_FALSE(start_trace(std::nullopt, 0.0, ids).sampled);
  int sampled = 0;
  for (int i = 0; i < 10000; ++i) sampled += start_trace(std::nullopt, 0.25, ids).sampled;
  CHECK(sampled > 2200);
  CHECK(sampled < 2800);
}

TEST_CASE("request ids: sane ones are kept, made ones are 32 hex digits and differ") {
  CHECK(sane_request_id("req-abc.123:4"));
  CHECK(sane_request_id("a+b/c=="));
  CHECK(sane_request_id(std::string(128, 'r')));
  CHECK_FALSE(sane_request_id(std::string(129, 'r')));
  CHECK_FALSE(sane_request_id(""));
  CHECK_FALSE(sane_request_id("two words"));
  CHECK_FALSE(sane_request_id("quote\""));
  CHECK_FALSE(sane_request_id("tab\t"));
  IdSource ids(1);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    FixedText<32> id;
    format_request_id(ids, id);
    const std::string text(id.view());
    CHECK(text.size() == 32);
    CHECK(text.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(text);
  }
  CHECK(seen.size() == 1000);
}
