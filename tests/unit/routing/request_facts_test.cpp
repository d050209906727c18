// Model extraction and rewrite: what the gateway reads must be what the server reads.
#include "infergate/request_facts.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using infergate::ErrorKind;
using infergate::extract_request_facts;
using infergate::kBodyPadding;
using infergate::RequestFacts;
using infergate::rewrite_model;

namespace {

// A body in a buffer with the padding the proxy reserves, so it is parsed in place.
struct PaddedBody {
  explicit PaddedBody(std::string_view s) : storage(s) { storage.reserve(s.size() + kBodyPadding); }
  std::string_view view() const { return storage; }
  std::size_t capacity() const { return storage.capacity(); }
  std::string storage;
};

auto extract_padded(std::string_view body) {
  PaddedBody padded(body);
  return extract_request_facts(padded.view(), padded.capacity());
}

// A body of about `size` bytes: a messages array of long strings, "model" last.
std::string big_body(std::size_t size, std::string_view model = "Qwen/Qwen3-0.6B") {
  std::string body = R"({"messages":[)";
  const std::string chunk(1000, 'x');
  while (body.size() < size) {
    body += R"({"role":"user","content":")" + chunk + R"(\n\"quoted\" model \u00e9"},)";
  }
  body += R"({"role":"user","content":"last"}],"temperature":0.7,"model":")";
  body += model;
  body += R"("})";
  return body;
}

}  // namespace

TEST_CASE("extracts the top-level model and its token position") {
  struct Case {
    std::string_view name;
    std::string_view body;
    std::string_view model;
    std::string_view token;  // the bytes at [model_offset, model_offset + model_length)
    bool stream;
  };
  const std::vector<Case> cases = {
      {"plain", R"({"model":"m"})", "m", R"("m")", false},
      {"escaped slash", R"({"model":"Qwen\/Qwen3-0.6B"})", "Qwen/Qwen3-0.6B",
       R"("Qwen\/Qwen3-0.6B")", false},
      {"escaped key", R"({"mo\u0064el":"m"})", "m", R"("m")", false},
      {"unicode escape in value", R"({"model":"caf\u00e9"})", "caf\xc3\xa9", R"("caf\u00e9")",
       false},
      {"surrogate pair", R"({"model":"\ud83d\ude00"})", "\xf0\x9f\x98\x80", R"("\ud83d\ude00")",
       false},
      {"raw utf-8", "{\"model\":\"caf\xc3\xa9\"}", "caf\xc3\xa9", "\"caf\xc3\xa9\"", false},
      {"escaped quote and backslash", R"({"model":"a\"b\\c"})", "a\"b\\c", R"("a\"b\\c")", false},
      {"whitespace around", " {\n \"model\" :\t\"m\" \n, \"stream\" : true }\n ", "m", R"("m")",
       true},
      {"model after messages", R"({"messages":[{"role":"user","content":"hi"}],"model":"m"})", "m",
       R"("m")", false},
      {"nested model keys ignored",
       R"({"tools":[{"model":"no"}],"metadata":{"model":"no"},"model":"yes","x":{"model":1}})",
       "yes", R"("yes")", false},
      {"model strings in messages",
       R"({"messages":[{"role":"user","content":"\"model\":\"evil\""}],"model":"m"})", "m",
       R"("m")", false},
      {"stream true", R"({"model":"m","stream":true})", "m", R"("m")", true},
      {"stream false", R"({"stream":false,"model":"m"})", "m", R"("m")", false},
      {"stream not a bool", R"({"stream":"yes","model":"m"})", "m", R"("m")", false},
      {"stream last wins", R"({"stream":true,"model":"m","stream":false})", "m", R"("m")", false},
      {"empty model string", R"({"model":""})", "", R"("")", false},
      {"all value kinds",
       R"({"a":[1,-0.5,2e10,1E-3,0,true,false,null,"s",{},[]],"b":{"c":{"d":[[]]}},"model":"m"})",
       "m", R"("m")", false},
      {"big integer", R"({"seed":123456789012345678901234567890,"model":"m"})", "m", R"("m")",
       false},
      {"lone surrogate elsewhere", R"({"x":"\ud800","model":"m"})", "m", R"("m")", false},
      {"lone surrogate in keys", R"({"\ud800":1,"o":{"\udfff\n":[{"\ud800x":2}]},"model":"m"})",
       "m", R"("m")", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    for (bool padded : {true, false}) {
      CAPTURE(padded);
      const std::string body(c.body);
      const auto result = padded ? extract_padded(body) : extract_request_facts(body);
      REQUIRE(result.has_value());
      const RequestFacts& facts = *result;
      CHECK(facts.model == c.model);
      CHECK(std::string_view(body).substr(facts.model_offset, facts.model_length) == c.token);
      CHECK(facts.stream == c.stream);
    }
  }
}

TEST_CASE("refuses what the server would refuse or read differently") {
  struct Case {
    std::string_view name;
    std::string_view body;
    ErrorKind kind;
  };
  const std::vector<Case> cases = {
      {"empty", "", ErrorKind::invalid_json},
      {"whitespace", "  \n", ErrorKind::invalid_json},
      {"array", R"([{"model":"m"}])", ErrorKind::invalid_json},
      {"string", R"("model")", ErrorKind::invalid_json},
      {"number", "42", ErrorKind::invalid_json},
      {"null", "null", ErrorKind::invalid_json},
      {"truncated", R"({"model":"m")", ErrorKind::invalid_json},
      {"truncated string", R"({"model":"m)", ErrorKind::invalid_json},
      {"truncated nested", R"({"model":"m","messages":[{"role":"user")", ErrorKind::invalid_json},
      {"trailing garbage", R"({"model":"m"} x)", ErrorKind::invalid_json},
      {"trailing object", R"({"model":"m"}{})", ErrorKind::invalid_json},
      {"trailing brace", R"({"model":"m"}})", ErrorKind::invalid_json},
      {"trailing comma", R"({"model":"m",})", ErrorKind::invalid_json},
      {"missing comma", R"({"model":"m" "x":1})", ErrorKind::invalid_json},
      {"missing colon", R"({"model" "m"})", ErrorKind::invalid_json},
      {"single quotes", R"({'model':'m'})", ErrorKind::invalid_json},
      {"broken nested array", R"({"model":"m","x":[1,,2]})", ErrorKind::invalid_json},
      {"broken nested object", R"({"model":"m","x":{"a":}})", ErrorKind::invalid_json},
      {"unclosed nested", R"({"model":"m","x":[1,2})", ErrorKind::invalid_json},
      {"bad number", R"({"model":"m","x":01})", ErrorKind::invalid_json},
      {"bad number dot", R"({"model":"m","x":1.})", ErrorKind::invalid_json},
      {"bad number exponent", R"({"model":"m","x":1e})", ErrorKind::invalid_json},
      {"plus number", R"({"model":"m","x":+1})", ErrorKind::invalid_json},
      {"bad literal", R"({"model":"m","x":nul})", ErrorKind::invalid_json},
      {"long literal", R"({"model":"m","x":truex})", ErrorKind::invalid_json},
      {"bad escape nested", R"({"model":"m","x":"a\qb"})", ErrorKind::invalid_json},
      {"short unicode escape", R"({"model":"m","x":"\u12"})", ErrorKind::invalid_json},
      {"bad escape in model", R"({"model":"a\qb"})", ErrorKind::invalid_json},
      {"control char in string", "{\"model\":\"m\",\"x\":\"a\x01b\"}", ErrorKind::invalid_json},
      {"invalid utf-8", "{\"model\":\"m\",\"x\":\"\xff\"}", ErrorKind::invalid_json},
      {"bad key escape", R"({"model":"m","x":{"\q":1}})", ErrorKind::invalid_json},
      {"number out of double range", R"({"model":"m","t":1e999})", ErrorKind::invalid_json},
      // Found by the differential test below: On-Demand's skipping alone lets these through.
      {"key-value in array", R"({"model":"m","x":["a":1]})", ErrorKind::invalid_json},
      {"colon in array", R"({"model":"m","x":[1:2]})", ErrorKind::invalid_json},
      {"two colons nested", R"({"model":"m","x":{"a":"b":"c"}})", ErrorKind::invalid_json},
      {"two colons top level", R"({"x":"a":"b","model":"m"})", ErrorKind::invalid_json},
      {"object in place of key", R"({"model":"m","x":{{"a":1}}})", ErrorKind::invalid_json},
      {"missing comma in array", R"({"model":"m","x":["a" "b"]})", ErrorKind::invalid_json},
      {"missing comma nested", R"({"model":"m","x":{"a":1 "b":2}})", ErrorKind::invalid_json},
      {"invalid after a non-string model", R"({"model":5 "b"})", ErrorKind::invalid_json},
      {"invalid after a duplicate", R"({"model":"a","model":"b" x})", ErrorKind::invalid_json},
      {"missing model", R"({"messages":[]})", ErrorKind::missing_model},
      {"empty object", "{}", ErrorKind::missing_model},
      {"only nested model", R"({"x":{"model":"m"}})", ErrorKind::missing_model},
      {"model null", R"({"model":null})", ErrorKind::model_not_string},
      {"model number", R"({"model":7})", ErrorKind::model_not_string},
      {"model object", R"({"model":{"name":"m"}})", ErrorKind::model_not_string},
      {"model array", R"({"model":["m"]})", ErrorKind::model_not_string},
      {"model bool", R"({"model":true})", ErrorKind::model_not_string},
      {"model broken object", R"({"model":{"a":}})", ErrorKind::invalid_json},
      {"duplicate model", R"({"model":"a","model":"b"})", ErrorKind::duplicate_model},
      {"duplicate model same", R"({"model":"a","x":1,"model":"a"})", ErrorKind::duplicate_model},
      {"duplicate via escape", R"({"model":"a","mod\u0065l":"b"})", ErrorKind::duplicate_model},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    for (bool padded : {true, false}) {
      CAPTURE(padded);
      const auto result = padded ? extract_padded(c.body) : extract_request_facts(c.body);
      REQUIRE(result.has_error());
      CHECK(result.error() == c.kind);
    }
  }
}

TEST_CASE("nesting is bounded") {
  const auto nested = [](std::size_t depth) {
    return R"({"model":"m","x":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  CHECK(extract_padded(nested(1000)).has_value());
  CHECK(extract_padded(nested(1001)).error() == ErrorKind::invalid_json);
  // Deep enough to overflow the stack if the walk recursed without a bound.
  CHECK(extract_padded(nested(1'000'000)).error() == ErrorKind::invalid_json);
}

TEST_CASE("large bodies: model at the end of 50 KB and 32 MiB") {
  for (std::size_t size : {std::size_t{50} << 10, std::size_t{32} << 20}) {
    CAPTURE(size);
    const std::string body = big_body(size);
    for (bool padded : {true, false}) {
      CAPTURE(padded);
      const auto result = padded ? extract_padded(body) : extract_request_facts(body);
      REQUIRE(result.has_value());
      CHECK(result->model == "Qwen/Qwen3-0.6B");
      CHECK(body.substr(result->model_offset, result->model_length) == R"("Qwen/Qwen3-0.6B")");
    }
    // One byte of corruption deep inside the body is found.
    std::string broken = body;
    broken[size / 2] = '\\';
    broken[size / 2 + 1] = 'q';
    CHECK(extract_padded(broken).error() == ErrorKind::invalid_json);
  }
}

TEST_CASE("in-place parsing leaves the caller's buffer untouched, padding included") {
  std::string body = big_body(8 << 10);
  body.reserve(body.size() + kBodyPadding);
  // Fill the spare capacity with a pattern to see that nothing writes there either.
  char* const spare = body.data() + body.size() + 1;
  const std::size_t spare_size = body.capacity() - body.size() - 1;
  std::memset(spare, 0x5a, spare_size);
  const std::string before = body;
  REQUIRE(extract_request_facts(body, body.capacity()).has_value());
  CHECK(body == before);
  for (std::size_t i = 0; i < spare_size; ++i) REQUIRE(spare[i] == 0x5a);
}

TEST_CASE("worker threads extract concurrently, each with its own parser") {
  const auto model_name = [](int i) {
    std::string name = "m";
    name += std::to_string(i);
    return name;
  };
  std::vector<std::string> bodies;
  for (int i = 0; i < 4; ++i) bodies.push_back(big_body(std::size_t{4} << (10 + i), model_name(i)));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const std::string& body = bodies[static_cast<std::size_t>((t + i) % 4)];
        const auto facts = extract_request_facts(body);
        if (!facts || facts->model != model_name((t + i) % 4)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("rewrite changes only the model token") {
  struct Case {
    std::string_view name;
    std::string_view body;
    std::string_view served;
    std::string_view expected;
  };
  const std::vector<Case> cases = {
      {"longer", R"({"model":"support-bot","stream":true})", "support-lora-adapter-v2",
       R"({"model":"support-lora-adapter-v2","stream":true})"},
      {"shorter", R"({"model":"support-bot","stream":true})", "s", R"({"model":"s","stream":true})"},
      {"escaped source", R"({ "model" : "Qwen\/Qwen3-0.6B" , "x":1})", "base",
       R"({ "model" : "base" , "x":1})"},
      {"escaped key", R"({"mo\u0064el":"a","m":"model"})", "b", R"({"mo\u0064el":"b","m":"model"})"},
      {"name needing escapes", R"({"model":"a"})", "we\"ird\\name\n",
       R"({"model":"we\"ird\\name\n"})"},
      {"utf-8 name", R"({"model":"a"})", "caf\xc3\xa9", "{\"model\":\"caf\xc3\xa9\"}"},
      {"last field, whitespace kept", "{\"x\":[1],\"model\":\"a\"  \n}", "bb",
       "{\"x\":[1],\"model\":\"bb\"  \n}"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto facts = extract_padded(c.body);
    REQUIRE(facts.has_value());
    const std::string out = rewrite_model(c.body, *facts, c.served);
    CHECK(out == c.expected);
    const auto again = extract_padded(out);
    REQUIRE(again.has_value());
    CHECK(again->model == c.served);
  }
}

TEST_CASE("rewrite of a large body keeps every other byte") {
  const std::string body = big_body(std::size_t{1} << 20, "support-bot");
  const auto facts = extract_padded(body);
  REQUIRE(facts.has_value());
  const std::string served = "support-lora";
  const std::string out = rewrite_model(body, *facts, served);
  CHECK(out.size() == body.size() - facts->model_length + served.size() + 2);
  const std::size_t tail = facts->model_offset + facts->model_length;
  CHECK(out.compare(0, facts->model_offset, body, 0, facts->model_offset) == 0);
  CHECK(out.compare(facts->model_offset, served.size() + 2, "\"" + served + "\"") == 0);
  CHECK(out.compare(facts->model_offset + served.size() + 2, std::string::npos, body, tail) == 0);
}

TEST_CASE("differential: agrees with simdjson's full DOM validation on mutated bodies") {
  // The DOM parser validates everything; extraction must accept exactly the same documents
  // (and read the same model) for bodies one to three byte edits away from a valid request.
  const std::vector<std::string> seeds = {
      R"({"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"Say \"hi\"\n"}],"stream":true})",
      R"({"messages":[{"role":"system","content":"a\\b\/c"},{"role":"user","content":[{"type":"text","text":"x"}]}],"temperature":0.5,"max_tokens":12,"stop":null,"logprobs":false,"model":"m"})",
      R"({"model":"a","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"model":{"type":"string"}}}}}],"n":-1.25e-3})",
      R"( { "prompt" : [ 1 , 22 , 333 , [ ] , { } , true , null ] , "model" : "b" , "stream" : false } )",
      R"({"model":"c","x":[[[[{"y":[0.5,-0,1E+2,"\u00e9\ud83d\ude00"]}]]]],"z":{"a":{"b":{}}}})",
  };
  const std::string alphabet = "{}[],:\"\\ \n/tfnrulsea0159-.+eEx\x01\x7f\xc3\xa9\xff";
  // INFERGATE_FUZZ_SEED and INFERGATE_FUZZ_ROUNDS explore further; the defaults are fixed.
  const char* seed_env = std::getenv("INFERGATE_FUZZ_SEED");
  const char* rounds_env = std::getenv("INFERGATE_FUZZ_ROUNDS");
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261122);
  const long rounds = rounds_env ? std::atol(rounds_env) : 60000;
  simdjson::dom::parser dom;
  int valid = 0, refused = 0;
  for (long round = 0; round < rounds; ++round) {
    std::string body = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % body.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: body[at] = c; break;
        case 1: body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        default: body.erase(at, 1); break;
      }
    }
    simdjson::dom::element root;
    const bool dom_valid = !dom.parse(body).get(root);
    const auto facts = extract_padded(body);
    const bool ours_valid = facts.has_value() || facts.error() != ErrorKind::invalid_json;
    if (dom_valid != ours_valid) {
      // Lone surrogates are valid JSON grammar (Python accepts them); simdjson's DOM refuses.
      const bool lone_surrogate = body.find("\\ud") != std::string::npos;
      CAPTURE(body);
      CHECK((lone_surrogate && ours_valid));
      continue;
    }
    if (!dom_valid) {
      ++refused;
      continue;
    }
    ++valid;
    simdjson::dom::object object;
    if (root.get(object)) {
      CHECK(facts.error() == ErrorKind::invalid_json);  // a valid non-object document
      continue;
    }
    std::size_t model_keys = 0;
    std::string_view first_model;
    bool first_is_string = false;
    for (auto [key, value] : object) {
      if (key != "model") continue;
      if (model_keys++ == 0) first_is_string = !value.get(first_model);
    }
    CAPTURE(body);
    if (model_keys == 0) {
      CHECK(facts.error() == ErrorKind::missing_model);
    } else if (model_keys > 1) {
      CHECK(facts.error() == ErrorKind::duplicate_model);
    } else if (!first_is_string) {
      CHECK(facts.error() == ErrorKind::model_not_string);
    } else {
      REQUIRE(facts.has_value());
      CHECK(facts->model == first_model);
      // The token really is that string: parsing it alone gives the same text.
      std::string_view token_model;
      CHECK_FALSE(dom.parse(body.substr(facts->model_offset, facts->model_length)).get(token_model));
      CHECK(token_model == facts->model);
    }
  }
  MESSAGE("valid: " << valid << ", refused: " << refused);
  CHECK(valid > 1000);
  CHECK(refused > 1000);
}

TEST_CASE("the prompt: roles and texts of chat messages, or the completion prompt, as views") {
  using Parts = std::vector<std::pair<std::string, std::string>>;
  struct Case {
    std::string body;
    Parts expected;
  };
  const std::vector<Case> cases = {
      {R"({"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})",
       {{"system", "be brief"}, {"user", "hi"}}},
      {R"({"messages":[{"content":"text first","role":"user"}],"model":"m"})", {{"user", "text first"}}},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},)"
       R"({"type":"image_url","image_url":{"url":"data:x"}},{"type":"text","text":"b\n"}]}]})",
       {{"user", "a"}, {"user", "b\\n"}}},
      {R"({"model":"m","messages":[{"role":"assistant","tool_calls":[]}]})", {{"assistant", ""}}},
      {R"({"model":"m","prompt":"Once upon a time"})", {{"", "Once upon a time"}}},
      {R"({"model":"m","prompt":[1,2,3]})", {}},
      {R"({"model":"m","messages":"not a list"})", {}},
      {R"({"model":"m"})", {}},
      // The Responses API: instructions lead wherever they stand; input as a string or items.
      {R"({"model":"m","input":"what is 2+2?","instructions":"be brief"})",
       {{"system", "be brief"}, {"user", "what is 2+2?"}}},
      {R"({"model":"m","instructions":"sys","input":[{"role":"user","content":[{"type":"input_text","text":"q"}]},)"
       R"({"type":"function_call_output","call_id":"c","output":"42"},{"role":"assistant","content":"a"}]})",
       {{"system", "sys"}, {"user", "q"}, {"", ""}, {"assistant", "a"}}},
      {R"({"model":"m","input":{"odd":true},"instructions":7})", {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    for (bool padded : {true, false}) {
      CAPTURE(padded);
      PaddedBody buffer(c.body);
      const auto result = padded ? extract_request_facts(buffer.view(), buffer.capacity())
                                 : extract_request_facts(buffer.view());
      REQUIRE(result.has_value());
      Parts got;
      for (const auto& part : result->prompt) {
        // Views into the caller's buffer, copied or not.
        if (!part.text.empty()) {
          CHECK(part.text.data() >= buffer.view().data());
          CHECK(part.text.data() < buffer.view().data() + buffer.view().size());
        }
        got.emplace_back(std::string(part.role), std::string(part.text));
      }
      CHECK(got == c.expected);
    }
  }
  // Invalid JSON inside messages is still refused.
  CHECK(extract_padded(R"({"model":"m","messages":[{"role":"user","content":"a"},]})").error() ==
        ErrorKind::invalid_json);
  CHECK(extract_padded(R"({"model":"m","messages":[{"role":"user","content":[1,,2]}]})").error() ==
        ErrorKind::invalid_json);
  CHECK(extract_padded(R"({"model":"m","messages":[{"role":"us\qer","content":"a"}]})").error() ==
        ErrorKind::invalid_json);
}

TEST_CASE("the completion budget and the stream options, found in the same walk") {
  struct Case {
    std::string_view body;
    std::optional<std::uint64_t> max_tokens;
    bool stream_options;
    bool include_usage;
  };
  const std::optional<std::uint64_t> unset;
  const std::vector<Case> cases = {
      {R"({"model":"m"})", unset, false, false},
      {R"({"model":"m","max_tokens":16})", 16, false, false},
      {R"({"max_tokens":0,"model":"m"})", 0, false, false},
      {R"({"model":"m","max_completion_tokens":300})", 300, false, false},
      // Both chat names: max_completion_tokens wins wherever it stands (vLLM's rule).
      {R"({"model":"m","max_completion_tokens":300,"max_tokens":16})", 300, false, false},
      {R"({"model":"m","max_tokens":16,"max_completion_tokens":null})", 16, false, false},
      {R"({"model":"m","max_output_tokens":1024,"input":"hi"})", 1024, false, false},
      {R"({"model":"m","max_tokens":18446744073709551615})", 18446744073709551615ull, false, false},
      // What the server refuses (or defaults) stays unset, and the body is still valid.
      {R"({"model":"m","max_tokens":-5})", unset, false, false},
      {R"({"model":"m","max_tokens":16.0})", unset, false, false},
      {R"({"model":"m","max_tokens":1e3})", unset, false, false},
      {R"({"model":"m","max_tokens":"16"})", unset, false, false},
      {R"({"model":"m","max_tokens":null})", unset, false, false},
      {R"({"model":"m","max_tokens":[16]})", unset, false, false},
      {R"({"model":"m","max_tokens":18446744073709551616})", unset, false, false},
      {R"({"model":"m","max_tokens":16,"max_tokens":-1})", unset, false, false},  // last wins
      {R"({"model":"m","max_tokens":-1,"max_tokens":7})", 7, false, false},
      // Nested budget keys are not the request's.
      {R"({"model":"m","metadata":{"max_tokens":9},"stream_options_x":{"include_usage":true}})", unset,
       false, false},
      {R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})", unset, true, true},
      {R"({"stream_options":{"include_usage":false},"model":"m","stream":true})", unset, true, false},
      {R"({"model":"m","stream_options":{}})", unset, true, false},
      {R"({"model":"m","stream_options":null})", unset, true, false},
      {R"({"model":"m","stream_options":{"include_usage":"yes"}})", unset, true, false},
      {R"({"model":"m","stream_options":{"include_usage":true,"continuous_usage_stats":true}})", unset,
       true, true},
      {R"({"model":"m","stream_options":{"include_usage":true,"include_usage":false}})", unset, true,
       false},
      {R"({"model":"m","stream_options":{"x":{"include_usage":true}}})", unset, true, false},
      {R"({"model":"m","stream_options":{"include_usage":true},"stream_options":7})", unset, true,
       false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    for (bool padded : {true, false}) {
      CAPTURE(padded);
      const auto result = padded ? extract_padded(c.body) : extract_request_facts(c.body);
      REQUIRE(result.has_value());
      CHECK(result->max_tokens == c.max_tokens);
      CHECK(result->stream_options == c.stream_options);
      CHECK(result->include_usage == c.include_usage);
    }
  }
  // Invalid JSON inside the new fields is still refused.
  for (std::string_view body : {R"({"model":"m","max_tokens":01})", R"({"model":"m","max_tokens":1.})",
                                R"({"model":"m","stream_options":{"include_usage":tru}})",
                                R"({"model":"m","stream_options":{"a":[1,,2]}})",
                                R"({"model":"m","stream_options":{"include_usage" true}})"}) {
    CAPTURE(body);
    CHECK(extract_padded(body).error() == ErrorKind::invalid_json);
  }
}

TEST_CASE("the prompt token estimate: captured roles and texts over four, rounded up") {
  struct Case {
    std::string_view body;
    std::uint64_t estimate;
  };
  const std::vector<Case> cases = {
      {R"({"model":"m"})", 0},
      {R"({"model":"m","prompt":[1,2,3]})", 0},  // token ids: not text, not estimated
      {R"({"model":"m","prompt":"abcd"})", 1},
      {R"({"model":"m","prompt":"abcde"})", 2},
      // "system" + 8 and "user" + 2: 20 bytes.
      {R"({"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})",
       5},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    const auto result = extract_padded(c.body);
    REQUIRE(result.has_value());
    CHECK(result->prompt_token_estimate() == c.estimate);
  }
}
