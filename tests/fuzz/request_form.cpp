// Fuzz target: a multipart/form-data body (the audio endpoints). The first line of the input is
// the Content-Type, the rest the body.
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "infergate/request_facts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infergate;
  std::string_view input = fuzz::text(data, size);
  const auto nl = input.find('\n');
  const std::string_view content_type = input.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
  const auto boundary = form_boundary(content_type);
  if (!boundary || boundary->empty()) return 0;
  const auto facts = extract_form_facts(body, *boundary);
  if (!facts) return 0;
  fuzz::check(facts->form && facts->model_offset + facts->model_length <= body.size());
  const std::string rewritten = rewrite_model(body, *facts, "served-model");
  fuzz::check(rewritten.size() + facts->model_length == body.size() + 12);
  return 0;
}
