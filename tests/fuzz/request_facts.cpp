// Fuzz target: a JSON request body as a client sends it (model, stream, prompt, max_tokens,
// stream_options), and the two edits the gateway makes to it (model rewrite, include_usage).
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "infergate/request_facts.hpp"
#include "routing/stream_usage.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infergate;
  const std::string_view body = fuzz::text(data, size);
  // Copied (no padding), then in place in a padded buffer: both must agree.
  const auto copied = extract_request_facts(body);
  std::string padded(body);
  padded.reserve(body.size() + kBodyPadding);
  const auto in_place = extract_request_facts(padded, padded.capacity());
  fuzz::check(copied.has_value() == in_place.has_value());
  if (!copied) return 0;
  const RequestFacts& facts = *copied;
  fuzz::check(facts.model == in_place->model && facts.model_offset == in_place->model_offset);
  fuzz::check(facts.model_offset + facts.model_length <= body.size());
  (void)facts.prompt_token_estimate();
  const std::string rewritten = rewrite_model(body, facts, "served\"\\model");
  fuzz::check(extract_request_facts(rewritten).has_value());
  std::string out;
  if (add_include_usage(body, facts, out)) {
    fuzz::check(out.size() == body.size() + kIncludeUsageMember.size());
  }
  (void)add_include_usage(body, facts, "served-model", out);
  return 0;
}
