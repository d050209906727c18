// Reading the real usage of responses: JSON bodies from their tail, SSE streams as they pass,
// and leaving out the usage-only event the gateway asked for.
#include "routing/usage_reader.hpp"
#include "routing/usage_json.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

using infergate::BodyTail;
using infergate::find_usage;
using infergate::parse_usage_object;
using infergate::SseUsageTap;
using infergate::Usage;

namespace {

// Response bodies shaped as the servers send them.
const std::string kVllmChat =
    R"({"id":"chatcmpl-6f1b2c","object":"chat.completion","created":1730000000,"model":"Qwen/Qwen3-0.6B",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","reasoning_content":null,"content":"The \"usage\": {\"prompt_tokens\": 1} is \\n fine","tool_calls":[]},)"
    R"("logprobs":null,"finish_reason":"stop","stop_reason":null}],)"
    R"("usage":{"prompt_tokens":12,"total_tokens":19,"completion_tokens":7,"prompt_tokens_details":null},)"
    R"("prompt_logprobs":null,"kv_transfer_params":null})";
const std::string kOpenAiChat =
    R"({"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,)"
    R"("model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hi.",)"
    R"("refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,)"
    R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},)"
    R"("service_tier":"default","system_fingerprint":"fp_fc9f1d7035"})";
// The Responses API echoes the tools; one names a property "usage", before the real usage.
const std::string kResponses =
    R"({"id":"resp_67ccd2bed1ec8190","object":"response","created_at":1741476542,"status":"completed",)"
    R"("output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"ok","annotations":[]}]}],)"
    R"("tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{"usage":{"type":"string"}}}}],)"
    R"("usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,)"
    R"("output_tokens_details":{"reasoning_tokens":0},"total_tokens":123},"user":null,"metadata":{}})";
const std::string kAnthropic =
    R"({"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4",)"
    R"("content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,)"
    R"("usage":{"input_tokens":2095,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":503}})";

}  // namespace

TEST_CASE("find_usage reads the response's usage from a JSON body or its tail") {
  struct Case {
    std::string_view name;
    std::string body;
    std::optional<Usage> expected;
  };
  const std::vector<Case> cases = {
      {"vllm chat", kVllmChat, Usage{12, 7}},
      {"openai chat, nested details", kOpenAiChat, Usage{1117, 46}},
      {"responses api, a tool property named usage before", kResponses, Usage{36, 87}},
      {"anthropic", kAnthropic, Usage{2095, 503}},
      {"embeddings", R"({"object":"list","data":[],"model":"m","usage":{"prompt_tokens":8,"total_tokens":8}})", Usage{8, 0}},
      {"whitespace", "{\"usage\" :\n {\n \"prompt_tokens\" : 3 ,\"completion_tokens\":4 } }", Usage{3, 4}},
      {"no usage", R"({"id":"x","choices":[]})", std::nullopt},
      {"usage null", R"({"id":"x","usage":null})", std::nullopt},
      {"usage without counts", R"({"usage":{"total_tokens":5}})", std::nullopt},
      {"counts not integers", R"({"usage":{"prompt_tokens":-1,"completion_tokens":"2"}})", std::nullopt},
      {"one count", R"({"usage":{"completion_tokens":2,"prompt_tokens":null}})", Usage{0, 2}},
      {"truncated usage", R"({"usage":{"prompt_tokens":12,"completion_tokens":7)", std::nullopt},
      {"truncated, an earlier complete one", R"({"a":{"usage":{"prompt_tokens":1}},"usage":{"prompt_tokens":2,)",
       Usage{1, 0}},
      {"usage in a string only", R"({"text":"\"usage\":{\"prompt_tokens\":5}"})", std::nullopt},
      {"broken object", R"({"usage":{"prompt_tokens":12,,"completion_tokens":7}})", std::nullopt},
      {"empty", "", std::nullopt},
      {"only the key", R"("usage")", std::nullopt},
      {"key and colon at the end", R"({"usage":)", std::nullopt},
      {"unterminated string inside", R"({"usage":{"prompt_tokens":1,"x":"})", std::nullopt},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(find_usage(c.body) == c.expected);
  }
  // The tail of a large body: only the last 4 KiB.
  std::string big = kOpenAiChat;
  big.insert(big.find("Hi."), std::string(1 << 20, 'x'));
  CHECK(find_usage(std::string_view(big).substr(big.size() - 4096)) == Usage{1117, 46});
  // Every tail of every body: never a crash, and the usage once its object is all there.
  for (const Case& c : cases) {
    for (std::size_t n = 0; n <= c.body.size(); ++n) {
      const std::string tail = c.body.substr(c.body.size() - n);  // an exact-size buffer for ASan
      const auto usage = find_usage(tail);
      if (usage) CHECK(c.expected.has_value());
    }
  }
}

TEST_CASE("the usage key is found at every position of texts of every length") {
  // Decoys: the 'u' and 'g' the vector scan looks for, a key of another name, a broken key.
  const std::string filler = "xu  g\"usag\"xusage\"\"uXXgx\"Usage\"u..g";
  const std::string key = R"("usage":{})";
  for (std::size_t length = key.size(); length <= 90; ++length) {
    for (std::size_t at = 0; at + key.size() <= length; ++at) {
      std::string text;
      while (text.size() < length) text += filler;
      text.resize(length);
      text.replace(at, key.size(), key);
      const std::vector<char> exact(text.begin(), text.end());  // exact size, for ASan
      const std::string_view view(exact.data(), exact.size());
      CAPTURE(text);
      const std::size_t brace = at + key.size() - 2;
      CHECK(infergate::usage_json::next_usage_object(view, 0) == brace);
      CHECK(infergate::usage_json::next_usage_object(view, at) == brace);
      CHECK(infergate::usage_json::next_usage_object(view, at + 1) == std::string_view::npos);
    }
  }
}

TEST_CASE("parse_usage_object reads one usage object") {
  CHECK(parse_usage_object(R"({"prompt_tokens":1,"completion_tokens":2})") == Usage{1, 2});
  // A key with a lone surrogate is grammatical JSON (vLLM's Python reads it): skipped, not fatal.
  CHECK(parse_usage_object(R"({"\ud800":7,"prompt_tokens":1,"completion_tokens":2})") == Usage{1, 2});
  CHECK(parse_usage_object(R"({"input_tokens":1,"output_tokens":2})") == Usage{1, 2});
  CHECK(parse_usage_object(R"({"prompt_tokens":18446744073709551615})") == Usage{18446744073709551615ull, 0});
  CHECK(parse_usage_object(R"({"prompt_tokens":18446744073709551616})") == std::nullopt);
  CHECK(parse_usage_object(R"([1,2])") == std::nullopt);
  CHECK(parse_usage_object("{") == std::nullopt);
}

TEST_CASE("BodyTail keeps the last bytes of the body, copying only those of a declared length") {
  std::string body = kVllmChat;
  body.insert(body.find("fine"), std::string(100'000, 'y'));
  std::mt19937_64 rng(11);
  for (bool declared : {true, false}) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{300}, BodyTail::kDefaultSize}) {
      CAPTURE(declared);
      CAPTURE(size);
      for (int round = 0; round < 20; ++round) {
        BodyTail tail(declared ? std::optional<std::uint64_t>(body.size()) : std::nullopt, size);
        std::size_t at = 0;
        while (at < body.size()) {
          const std::size_t n = std::min<std::size_t>(body.size() - at, 1 + rng() % (round < 10 ? 64 : 20'000));
          tail.append(std::string_view(body).substr(at, n));
          at += n;
        }
        CHECK(tail.view() == std::string_view(body).substr(body.size() - std::min(size, body.size())));
        if (size == BodyTail::kDefaultSize) CHECK(tail.usage() == Usage{12, 7});
      }
    }
  }
  // Bytes past the declared length are not body; a reset starts over.
  BodyTail tail(std::optional<std::uint64_t>(4), 8);
  tail.append("abcdef");
  CHECK(tail.view() == "abcd");
  tail.reset(std::nullopt);
  tail.append("0123456789");
  tail.append("ab");
  CHECK(tail.view() == "456789ab");
}

namespace {

std::string chunk(std::string_view body) { return "data: " + std::string(body) + "\n\n"; }

// A stream and what the tap must make of it.
struct Stream {
  std::string name;
  std::string bytes;
  std::string stripped;  // bytes with the usage-only event left out
  std::optional<Usage> usage;
};

Stream vllm_chat_stream(std::string_view eol = "\n") {
  const std::string head =
      R"("id":"chatcmpl-6f1b2c","object":"chat.completion.chunk","created":1730000000,"model":"Qwen/Qwen3-0.6B")";
  auto event = [&](std::string_view body) {
    std::string e = "data: {" + head + std::string(body) + "}";
    e += eol;
    e += eol;
    return e;
  };
  std::string s = event(R"(,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}])");
  for (std::string_view word : {"Hello", " \\\"usage\\\": {} and data: \\n\\n", " world"}) {
    s += event(R"(,"choices":[{"index":0,"delta":{"content":")" + std::string(word) +
               R"("},"logprobs":null,"finish_reason":null}])");
  }
  s += event(R"(,"choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop","stop_reason":null}])");
  const std::string usage = event(R"(,"choices":[],"usage":{"prompt_tokens":12,"total_tokens":19,"completion_tokens":7}})");
  std::string done = "data: [DONE]";
  done += eol;
  done += eol;
  return {eol == "\n" ? "vllm chat" : "vllm chat, CRLF", s + usage + done, s + done, Usage{12, 7}};
}

Stream openai_chat_stream() {
  const std::string head =
      R"({"id":"chatcmpl-B9","object":"chat.completion.chunk","created":1741000000,"model":"gpt-4o-mini-2024-07-18",)"
      R"("service_tier":"default","system_fingerprint":"fp_06737a9306","choices":)";
  std::string s = chunk(head + R"([{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null})");
  s += chunk(head + R"([{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null})");
  s += chunk(head + R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})");
  const std::string usage = chunk(
      head + R"([],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,)"
             R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
             R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}})");
  return {"openai chat", s + usage + chunk("[DONE]"), s + chunk("[DONE]"), Usage{9, 3}};
}

// The simulator's completions stream (src/sim/openai_api.cpp), include_usage on.
Stream sim_completion_stream() {
  const std::string head = R"({"id":"cmpl-0a1b","object":"text_completion","created":1730000001,"model":"m")";
  std::string s;
  for (std::string_view word : {"Once", " upon", " a time"}) {
    s += chunk(head + R"(,"choices":[{"index":0,"text":")" + std::string(word) + R"(","logprobs":null,"finish_reason":null}]})");
  }
  const std::string usage = chunk(
      head + R"(,"choices":[],"usage":{"prompt_tokens":5,"total_tokens":8,"completion_tokens":3,"prompt_tokens_details":null}})");
  return {"sim completion", s + usage + chunk("[DONE]"), s + chunk("[DONE]"), Usage{5, 3}};
}

// vLLM with continuous_usage_stats: every chunk has usage (choices not empty), then the final one.
Stream continuous_usage_stream() {
  const std::string head = R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":)";
  std::string s;
  for (int i = 1; i <= 3; ++i) {
    s += chunk(head + R"([{"index":0,"delta":{"content":"x"},"finish_reason":null}],"usage":{"prompt_tokens":4,"total_tokens":)" +
               std::to_string(4 + i) + R"(,"completion_tokens":)" + std::to_string(i) + "}}");
  }
  const std::string usage = chunk(head + R"([],"usage":{"prompt_tokens":4,"total_tokens":7,"completion_tokens":3}})");
  return {"continuous usage stats", s + usage + chunk("[DONE]"), s + chunk("[DONE]"), Usage{4, 3}};
}

// The Responses API: usage inside "response" of response.completed; nothing to strip.
Stream responses_stream() {
  std::string s =
      "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"usage\":null}}\n\n"
      "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n"
      "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":9,\"response\":{\"id\":\"resp_1\",\"status\":\"completed\","
      "\"usage\":{\"input_tokens\":36,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":87,\"total_tokens\":123}}}\n\n";
  return {"responses", s, s, Usage{36, 87}};
}

// Anthropic's Messages stream: input in message_start, output in the last message_delta.
Stream anthropic_stream() {
  std::string s =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
      "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  return {"anthropic", s, s, Usage{25, 15}};
}

// A stream with no usage at all (the client declined it), and one with multi-line data.
Stream no_usage_stream() {
  std::string s = chunk(R"({"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]})") + chunk("[DONE]");
  return {"no usage", s, s, std::nullopt};
}

Stream multiline_stream() {
  std::string s = chunk(R"({"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]})");
  const std::string usage = ": keep-alive\nid: 7\ndata: {\"id\":\"c\",\"choices\":[],\ndata: \"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}\n\n";
  return {"multi-line data", s + usage + chunk("[DONE]"), s + chunk("[DONE]"), Usage{2, 1}};
}

std::vector<Stream> all_streams() {
  return {vllm_chat_stream(), vllm_chat_stream("\r\n"), openai_chat_stream(), sim_completion_stream(),
          continuous_usage_stream(), responses_stream(), anthropic_stream(), no_usage_stream(),
          multiline_stream()};
}

struct Result {
  std::string out;
  std::optional<Usage> usage;
  std::size_t stripped = 0;
  bool missed = false;
  std::size_t foreign_views = 0;  // output views outside the current read's buffer
  std::size_t max_foreign_per_read = 0;
};

// Feeds `reads` (each a list of pieces) as the proxy would: each read's bytes live in a buffer
// that is overwritten once its output is written, so a view kept too long shows as garbage.
Result run(const std::vector<std::vector<std::string>>& reads, bool strip) {
  SseUsageTap tap(strip);
  Result r;
  std::vector<std::string_view> out;
  std::vector<std::string_view> in;
  for (const auto& read : reads) {
    std::string buffer;
    for (const auto& piece : read) buffer += piece;
    in.clear();
    std::size_t at = 0;
    for (const auto& piece : read) {
      in.emplace_back(buffer.data() + at, piece.size());
      at += piece.size();
    }
    out.clear();
    tap.feed(in, out);
    std::size_t foreign = 0;
    for (const std::string_view v : out) {
      CHECK_FALSE(v.empty());
      const bool inside = v.data() >= buffer.data() && v.data() + v.size() <= buffer.data() + buffer.size();
      if (!inside) ++foreign;
      r.out += v;
    }
    r.foreign_views += foreign;
    r.max_foreign_per_read = std::max(r.max_foreign_per_read, foreign);
    std::memset(buffer.data(), '#', buffer.size());
  }
  out.clear();
  tap.finish(out);
  for (const std::string_view v : out) r.out += v;
  r.usage = tap.usage();
  r.stripped = tap.stripped();
  r.missed = tap.strip_missed();
  return r;
}

void check_result(const Stream& s, const Result& r, bool strip) {
  CHECK(r.usage == s.usage);
  CHECK(r.missed == false);
  if (strip) {
    CHECK(r.out == s.stripped);
    CHECK(r.stripped == (s.stripped.size() < s.bytes.size() ? 1u : 0u));
    CHECK(r.max_foreign_per_read <= 1);
  } else {
    CHECK(r.out == s.bytes);
    CHECK(r.stripped == 0);
    CHECK(r.foreign_views == 0);  // without stripping, nothing but the input goes out
  }
}

}  // namespace

TEST_CASE("the tap reads and strips in one piece, in two reads at every cut, in two pieces of one read") {
  for (const Stream& s : all_streams()) {
    CAPTURE(s.name);
    for (bool strip : {false, true}) {
      CAPTURE(strip);
      check_result(s, run({{s.bytes}}, strip), strip);
      for (std::size_t cut = 0; cut <= s.bytes.size(); ++cut) {
        CAPTURE(cut);
        const std::string a = s.bytes.substr(0, cut), b = s.bytes.substr(cut);
        check_result(s, run({{a}, {b}}, strip), strip);
        check_result(s, run({{a, b}}, strip), strip);
      }
    }
  }
}

TEST_CASE("the tap, byte by byte, and three reads at random cuts") {
  std::mt19937_64 rng(20261123);
  for (const Stream& s : all_streams()) {
    CAPTURE(s.name);
    for (bool strip : {false, true}) {
      CAPTURE(strip);
      std::vector<std::vector<std::string>> bytes;
      for (char c : s.bytes) bytes.push_back({std::string(1, c)});
      check_result(s, run(bytes, strip), strip);
      for (int round = 0; round < 300; ++round) {
        std::size_t x = rng() % (s.bytes.size() + 1), y = rng() % (s.bytes.size() + 1);
        if (x > y) std::swap(x, y);
        const std::string a = s.bytes.substr(0, x), b = s.bytes.substr(x, y - x), c = s.bytes.substr(y);
        CAPTURE(x);
        CAPTURE(y);
        check_result(s, run({{a}, {b}, {c}}, strip), strip);
        check_result(s, run({{a, b}, {c}}, strip), strip);
        check_result(s, run({{a}, {b, c}}, strip), strip);
      }
    }
  }
}

TEST_CASE("the tap: reset, oversized events, a missed strip, an event without its blank line") {
  SseUsageTap tap(true);
  std::vector<std::string_view> out;
  const Stream vllm = vllm_chat_stream();
  tap.feed(vllm.bytes, out);
  CHECK(tap.stripped() == 1);
  tap.reset(false);
  CHECK(tap.stripped() == 0);
  CHECK(tap.usage() == std::nullopt);
  out.clear();
  tap.feed(vllm.bytes, out);
  CHECK(out.size() == 1);  // one view, the input itself
  CHECK(tap.usage() == Usage{12, 7});

  // A usage-only event above the carry: whole in one read it is parsed and stripped; split
  // across reads it is neither (counted), and goes out as it came.
  const std::string big = chunk(R"({"id":"c","system_fingerprint":")" + std::string(20'000, 'f') +
                                R"(","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}})");
  const std::string stream = chunk(R"({"choices":[{"delta":{}}]})") + big + chunk("[DONE]");
  const std::string without = chunk(R"({"choices":[{"delta":{}}]})") + chunk("[DONE]");
  Result whole = run({{stream}}, true);
  CHECK(whole.out == without);
  CHECK(whole.usage == Usage{3, 4});
  const std::size_t cut = stream.find("ffff") + 10;
  SseUsageTap split(true);
  std::string sent;
  for (std::string_view part : {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
    out.clear();
    split.feed(part, out);
    for (auto v : out) sent += v;
  }
  CHECK(sent == stream);
  CHECK(split.oversized_events() == 1);
  CHECK(split.usage() == std::nullopt);

  // A nested non-empty "choices" before the top-level empty one: the start went out before the
  // event could be recognised, so it is sent whole, counted, and its usage is still read.
  const std::string tricky = chunk(R"({"x":{"choices":[1]},"choices":[],"usage":{"prompt_tokens":6,"completion_tokens":1}})");
  const std::size_t tricky_cut = tricky.find("\"usage\"");
  Result missed = run({{tricky.substr(0, tricky_cut)}, {tricky.substr(tricky_cut)}}, true);
  CHECK(missed.out == tricky);
  CHECK(missed.missed);
  CHECK(missed.usage == Usage{6, 1});
  Result caught = run({{tricky}}, true);  // whole: stripped
  CHECK(caught.out.empty());
  CHECK_FALSE(caught.missed);

  // The body ends without the last blank line: the held bytes go out at finish, usage read.
  const std::string unterminated = R"(data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})";
  Result end = run({{unterminated.substr(0, 20)}, {unterminated.substr(20)}}, true);
  CHECK(end.out == unterminated);
  CHECK(end.usage == Usage{1, 2});
}

namespace {

// The events of a stream by the blank-line rule (LF or CRLF), the last one possibly unterminated.
std::vector<std::string> split_events(const std::string& s) {
  std::vector<std::string> events;
  std::size_t start = 0, line = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\n') continue;
    const std::size_t length = i - line;
    const bool blank = length == 0 || (length == 1 && s[line] == '\r');
    line = i + 1;
    if (blank) {
      events.push_back(s.substr(start, i + 1 - start));
      start = i + 1;
    }
  }
  if (start < s.size()) events.push_back(s.substr(start));
  return events;
}

}  // namespace

TEST_CASE("20,000 random mutations of streams: no crash, and only whole usage events left out") {
  const std::vector<Stream> streams = all_streams();
  const std::string alphabet = "{}[],:\"\\ \n\r/ulsagechoitn0159-.data:[DONE]\x01\xff";
  const char* seed_env = std::getenv("INFERGATE_FUZZ_SEED");
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261124);
  for (int round = 0; round < 20'000; ++round) {
    std::string bytes = streams[rng() % streams.size()].bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const std::size_t at = rng() % bytes.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 4) {
        case 0: bytes[at] = c; break;
        case 1: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        case 2: bytes.erase(at, 1); break;
        default: bytes.resize(at); break;  // truncated
      }
    }
    std::vector<std::vector<std::string>> reads;
    for (std::size_t at = 0; at < bytes.size();) {
      std::vector<std::string> read;
      for (int p = 0, pieces = 1 + static_cast<int>(rng() % 3); p < pieces && at < bytes.size(); ++p) {
        const std::size_t n = std::min<std::size_t>(bytes.size() - at, 1 + rng() % 400);
        read.push_back(bytes.substr(at, n));
        at += n;
      }
      reads.push_back(std::move(read));
    }
    const bool strip = rng() % 2 == 0;
    const Result r = run(reads, strip);
    CAPTURE(bytes);
    if (!strip) {
      REQUIRE(r.out == bytes);
      continue;
    }
    // The output is the input with some whole events left out, each with "usage" in it.
    std::size_t at = 0, removed = 0;
    for (const std::string& event : split_events(bytes)) {
      if (r.out.compare(at, event.size(), event) == 0) {
        at += event.size();
      } else {
        REQUIRE(event.find("\"usage\"") != std::string::npos);
        ++removed;
      }
    }
    REQUIRE(at == r.out.size());
    REQUIRE(removed == r.stripped);
  }
}
