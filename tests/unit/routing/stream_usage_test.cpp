// Adding stream_options.include_usage to streamed requests, alone and with the model rewrite.
#include "routing/stream_usage.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using infergate::add_include_usage;
using infergate::can_add_include_usage;
using infergate::extract_request_facts;
using infergate::kBodyPadding;
using infergate::kIncludeUsageMember;
using infergate::RequestFacts;
using infergate::rewrite_model;

namespace {

RequestFacts facts_of(std::string_view body) {
  std::string padded(body);
  padded.reserve(body.size() + kBodyPadding);
  auto facts = extract_request_facts(padded, padded.capacity());
  REQUIRE(facts.has_value());
  return *facts;
}

}  // namespace

TEST_CASE("include_usage is inserted after the top-level brace of streamed bodies without stream_options") {
  struct Case {
    std::string_view body;
    std::string_view expected;  // empty: not injected
  };
  const std::vector<Case> cases = {
      {R"({"model":"m","stream":true})", R"({"stream_options":{"include_usage":true},"model":"m","stream":true})"},
      {" \n\t{ \"stream\" : true , \"model\":\"m\"}\n",
       " \n\t{\"stream_options\":{\"include_usage\":true}, \"stream\" : true , \"model\":\"m\"}\n"},
      {R"({"model":"m","messages":[{"role":"user","content":"{\"stream_options\":1}"}],"stream":true})",
       R"({"stream_options":{"include_usage":true},"model":"m","messages":[{"role":"user","content":"{\"stream_options\":1}"}],"stream":true})"},
      // A nested stream_options is not the request's: the top-level one is still missing.
      {R"({"model":"m","metadata":{"stream_options":{}},"stream":true})",
       R"({"stream_options":{"include_usage":true},"model":"m","metadata":{"stream_options":{}},"stream":true})"},
      // Not streamed, or streamed with options of the client's own: the body is left alone.
      {R"({"model":"m"})", ""},
      {R"({"model":"m","stream":false})", ""},
      {R"({"model":"m","stream":"true"})", ""},
      {R"({"model":"m","stream":true,"stream":false})", ""},
      {R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})", ""},
      {R"({"model":"m","stream":true,"stream_options":{"include_usage":false}})", ""},
      {R"({"model":"m","stream":true,"stream_options":{}})", ""},
      {R"({"model":"m","stream":true,"stream_options":null})", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    const RequestFacts facts = facts_of(c.body);
    std::string out = "previous request's bytes";
    const bool added = add_include_usage(c.body, facts, out);
    CHECK(added == !c.expected.empty());
    CHECK(can_add_include_usage(c.body, facts) == added);
    if (!added) {
      CHECK(out == "previous request's bytes");  // left alone
      continue;
    }
    CHECK(out == c.expected);
    // What the server reads: the same request, now asking for usage.
    const RequestFacts again = facts_of(out);
    CHECK(again.model == facts.model);
    CHECK(again.stream);
    CHECK(again.stream_options);
    CHECK(again.include_usage);
    CHECK(again.prompt.size() == facts.prompt.size());
  }
}

TEST_CASE("a form body is never given stream options") {
  RequestFacts facts;
  facts.form = true;
  facts.stream = true;
  std::string out;
  CHECK_FALSE(add_include_usage("--b\r\n...", facts, out));
  CHECK(out.empty());
}

TEST_CASE("include_usage and the model rewrite in one copy") {
  struct Case {
    std::string_view body;
    std::string_view served;
    bool added;
  };
  const std::vector<Case> cases = {
      {R"({"model":"support-bot","stream":true})", "support-lora-adapter-v2", true},
      {R"({"stream":true,"model":"support-bot"})", "s", true},
      {R"({ "model" : "Qwen\/Qwen3-0.6B" , "stream":true, "x":1})", "base", true},
      {R"({"messages":[{"role":"user","content":"hi"}],"model":"a","stream":true})", "we\"ird\\name\n", true},
      {"{\"x\":[1],\"stream\":true,\"model\":\"a\"  \n}", "caf\xc3\xa9", true},
      {R"({"model":"support-bot","stream":false})", "lora", false},
      {R"({"model":"support-bot","stream":true,"stream_options":{"include_usage":false}})", "lora", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    const RequestFacts facts = facts_of(c.body);
    std::string out;
    CHECK(add_include_usage(c.body, facts, c.served, out) == c.added);
    // The same bytes as the two edits made one after the other.
    const std::string rewritten = rewrite_model(c.body, facts, c.served);
    std::string expected = rewritten;
    if (c.added) {
      std::string both;
      REQUIRE(add_include_usage(rewritten, facts_of(rewritten), both));
      expected = both;
    }
    CHECK(out == expected);
    const RequestFacts again = facts_of(out);
    CHECK(again.model == c.served);
    CHECK(again.include_usage == (c.added || facts.include_usage));
    CHECK(out.size() == c.body.size() + (c.added ? kIncludeUsageMember.size() : 0) +
                            rewritten.size() - c.body.size());
  }
}

TEST_CASE("the combined rewrite reuses the caller's buffer") {
  const std::string body = R"({"model":"support-bot","stream":true})";
  const RequestFacts facts = facts_of(body);
  std::string out;
  out.reserve(4096);
  const char* const data = out.data();
  REQUIRE(add_include_usage(body, facts, "lora", out));
  CHECK(out.data() == data);
  REQUIRE(add_include_usage(body, facts, "lora", out));  // replaced, not appended
  CHECK(out == R"({"stream_options":{"include_usage":true},"model":"lora","stream":true})");
}
