#include <doctest/doctest.h>

#include <string>

#include "sim/openai_api.hpp"
#include "sim/tokenizer.hpp"

using namespace infergate::sim;

TEST_CASE("chat requests: fields, template, and usage-relevant prompt") {
  RequestParser p;
  std::string body =
      R"({"messages":[{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":[{"type":"text","text":"Hi"},{"type":"image_url","image_url":{"url":"x"}}]}],)"
      R"("model":"m","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":7})";
  ApiRequest r;
  std::string err;
  REQUIRE(p.parse(Endpoint::chat, body, false, r, err));
  CHECK(r.model == "m");
  CHECK(r.stream);
  CHECK(r.include_usage);
  CHECK(r.max_tokens == 7u);
  CHECK(r.prompt == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST_CASE("completion prompts: string, list, token ids") {
  struct Row {
    const char* body;
    const char* prompt;
    std::size_t ids;
  };
  const Row rows[] = {
      {R"({"model":"m","prompt":"Say hi"})", "Say hi", 0},
      {R"({"model":"m","prompt":["first","second"]})", "first", 0},
      {R"({"model":"m","prompt":[1,2,3],"max_tokens":null})", "", 3},
  };
  RequestParser p;
  for (const auto& row : rows) {
    CAPTURE(row.body);
    std::string body = row.body;
    ApiRequest r;
    std::string err;
    REQUIRE(p.parse(Endpoint::completion, body, false, r, err));
    CHECK(r.prompt == row.prompt);
    CHECK(r.prompt_ids.size() == row.ids);
    CHECK_FALSE(r.max_tokens);
  }
}

TEST_CASE("bad requests are refused with a message") {
  const char* bodies[] = {
      "not json",
      "[1,2]",
      R"({"model":"m","messages":[)",
      R"({"model":5,"messages":[]})",
      R"({"model":"m"})",  // no messages
      R"({"model":"m","messages":[],"max_tokens":0})",
      R"({"model":"m","messages":[],"stream":"yes"})",
  };
  RequestParser p;
  for (const char* b : bodies) {
    CAPTURE(b);
    std::string body = b;
    ApiRequest r;
    std::string err;
    CHECK_FALSE(p.parse(Endpoint::chat, body, false, r, err));
    CHECK_FALSE(err.empty());
  }
}

TEST_CASE("fast mode reads only the fields") {
  RequestParser p;
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":true})";
  ApiRequest r;
  std::string err;
  REQUIRE(p.parse(Endpoint::chat, body, true, r, err));
  CHECK(r.stream);
  CHECK(r.prompt.empty());
}

TEST_CASE("SSE chunks are framed exactly as vLLM frames them") {
  ReplyInfo info{Endpoint::chat, "chatcmpl-1", "m", 100, 3, 2};
  std::string out;
  append_chunk(out, info, "", {}, true);
  CHECK(out ==
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":100,\"model\":\"m\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
        "\"finish_reason\":null}]}\n\n");
  out.clear();
  append_chunk(out, info, " hi", "length", false);
  CHECK(out ==
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":100,\"model\":\"m\","
        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" hi\"},\"logprobs\":null,"
        "\"finish_reason\":\"length\",\"stop_reason\":null}]}\n\n");
  out.clear();
  append_usage_chunk(out, info);
  CHECK(out ==
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":100,\"model\":\"m\","
        "\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"total_tokens\":5,\"completion_tokens\":2,"
        "\"prompt_tokens_details\":null}}\n\n");
  out.clear();
  append_done(out);
  CHECK(out == "data: [DONE]\n\n");
}

TEST_CASE("non-streaming bodies carry usage and escape text") {
  ReplyInfo info{Endpoint::completion, "cmpl-1", "m", 100, 4, 2};
  const std::string body = completion_body(info, "a \"q\"\n", "stop");
  CHECK(body.find(R"("object":"text_completion")") != std::string::npos);
  CHECK(body.find(R"("text":"a \"q\"\n")") != std::string::npos);
  CHECK(body.find(R"("usage":{"prompt_tokens":4,"total_tokens":6,"completion_tokens":2)") != std::string::npos);
  CHECK(body.find(R"("finish_reason":"stop")") != std::string::npos);
}

TEST_CASE("error body and model list") {
  CHECK(error_body(404, "NotFoundError", "The model `x` does not exist.", "model") ==
        R"({"error":{"message":"The model `x` does not exist.","type":"NotFoundError","param":"model","code":404}})");
  const std::string models = models_body({{"base", ""}, {"lora1", "base"}}, 5, 100);
  CHECK(models.find(R"({"id":"base","object":"model","created":5,"owned_by":"vllm","root":"base","parent":null)") != std::string::npos);
  CHECK(models.find(R"("id":"lora1")") != std::string::npos);
  CHECK(models.find(R"("parent":"base")") != std::string::npos);
}

TEST_CASE("request ids have vLLM's prefixes and differ") {
  CHECK(make_request_id(Endpoint::chat, 1).rfind("chatcmpl-", 0) == 0);
  CHECK(make_request_id(Endpoint::completion, 1).rfind("cmpl-", 0) == 0);
  CHECK(make_request_id(Endpoint::chat, 1) != make_request_id(Endpoint::chat, 2));
  CHECK(make_request_id(Endpoint::chat, 1).size() == 9 + 32);
}
