// multipart/form-data requests (the audio endpoints): the boundary from the Content-Type, the
// "model" and "stream" fields from the parts, refusals, and the model rewrite in place.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "infergate/request_facts.hpp"

using namespace infergate;

namespace {

// A form as curl -F and the OpenAI SDKs send it: a file part, then text fields.
std::string form(const std::string& boundary, const std::string& model, const std::string& extra = {}) {
  return "--" + boundary + "\r\n"
         "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
         "Content-Type: audio/wav\r\n\r\n"
         "RIFF\r\n--not-the-boundary\r\nmodel\0bytes" + std::string("\x00\xff\r\n", 4) + "\r\n"
         "--" + boundary + "\r\n"
         "Content-Disposition: form-data; name=\"model\"\r\n\r\n" + model + "\r\n" + extra +
         "--" + boundary + "--\r\n";
}

}  // namespace

TEST_CASE("the boundary comes from a multipart/form-data Content-Type only") {
  CHECK(form_boundary("multipart/form-data; boundary=abc") == std::string_view("abc"));
  CHECK(form_boundary("Multipart/Form-Data;boundary=\"a b;c\"") == std::string_view("a b;c"));
  CHECK(form_boundary(" multipart/form-data; charset=utf-8; BOUNDARY=x1 ") == std::string_view("x1"));
  CHECK(form_boundary("multipart/form-data") == std::string_view());  // a form without one
  CHECK(form_boundary("multipart/form-data; boundary=" + std::string(71, 'x')) == std::string_view());
  CHECK_FALSE(form_boundary("application/json"));
  CHECK_FALSE(form_boundary("multipart/form-datax; boundary=a"));
  CHECK_FALSE(form_boundary("multipart/mixed; boundary=a"));
}

TEST_CASE("the model field is found past a file part, and rewritten in place") {
  const std::string body = form("----b42", "whisper-large-v3",
                                "--" + std::string("----b42") +
                                    "\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\ntrue\r\n");
  const auto facts = extract_form_facts(body, "----b42");
  REQUIRE(facts.has_value());
  CHECK(facts->form);
  CHECK(facts->model == "whisper-large-v3");
  CHECK(facts->stream);
  CHECK(facts->prompt.empty());
  CHECK(body.substr(facts->model_offset, facts->model_length) == "whisper-large-v3");
  const std::string rewritten = rewrite_model(body, *facts, "openai/whisper-large-v3\"q");
  CHECK(rewritten == form("----b42", "openai/whisper-large-v3\"q",
                          "--" + std::string("----b42") +
                              "\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\ntrue\r\n"));
  // A preamble before the first delimiter, padding after one, a part without headers.
  // A part without headers holding a line that starts like a delimiter but is not one ("--bx").
  const std::string odd = "ignored preamble\r\n--b \r\n\r\nheadless\r\n--bx\r\n--b\r\n"
                          "content-disposition: form-data; name=model\r\n\r\nm\r\n--b--";
  const auto odd_facts = extract_form_facts(odd, "b");
  REQUIRE(odd_facts.has_value());
  CHECK(odd_facts->model == "m");
  CHECK_FALSE(odd_facts->stream);
}

TEST_CASE("forms that cannot be read, or lack a single model, are refused") {
  struct Case {
    const char* name;
    std::string body;
    ErrorKind error;
  };
  const Case cases[] = {
      {"no model field", "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--",
       ErrorKind::missing_model},
      {"two model fields", form("b", "m", "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nn\r\n"),
       ErrorKind::duplicate_model},
      {"another boundary", form("other", "m"), ErrorKind::invalid_form},
      {"no close delimiter", "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm",
       ErrorKind::invalid_form},
      {"head never ends", "--b\r\nContent-Disposition: form-data; name=\"model\"", ErrorKind::invalid_form},
      {"junk after a delimiter", "--bjunk\r\n\r\nx\r\n--b--", ErrorKind::invalid_form},
      {"empty body", "", ErrorKind::invalid_form},
      {"JSON sent as a form", R"({"model":"m"})", ErrorKind::invalid_form},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto facts = extract_form_facts(c.body, "b");
    REQUIRE_FALSE(facts.has_value());
    CHECK(facts.error() == c.error);
  }
  CHECK(extract_form_facts(form("b", "m"), "").error() == ErrorKind::invalid_form);
}

TEST_CASE("mutated and cut forms never read outside the body") {
  const std::string valid = form("xyz", "model-name",
                                 "--xyz\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\ntrue\r\n");
  std::uint64_t state = 42;
  const auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  const std::string alphabet = "-\r\n\"; =xyzmodel";
  for (int i = 0; i < 20000; ++i) {
    std::string body = valid;
    const int edits = 1 + static_cast<int>(next() >> 61);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = (next() >> 33) % body.size();
      switch ((next() >> 62) & 3) {
        case 0: body[at] = alphabet[(next() >> 40) % alphabet.size()]; break;
        case 1: body.erase(at, 1 + (next() >> 60)); break;
        case 2: body.insert(at, 1, alphabet[(next() >> 40) % alphabet.size()]); break;
        default: body.resize(at); break;
      }
      if (body.empty()) body = "-";
    }
    const auto facts = extract_form_facts(body, "xyz");
    if (!facts.has_value()) continue;
    REQUIRE(facts->model_offset + facts->model_length <= body.size());
    CHECK(body.substr(facts->model_offset, facts->model_length) == facts->model);
  }
}
