// Fuzz target: API keys as a config or key file writes them and as a request presents them
// (Authorization / x-api-key). The first newline separates the two header values.
#include <cstdint>
#include <string>

#include "auth/presented_key.hpp"
#include "fuzz_input.hpp"
#include "routing/api_key_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infergate;
  const std::string_view input = fuzz::text(data, size);
  const bool problem = api_key_problem(input).has_value();
  const auto digest = configured_key_digest(input);
  fuzz::check(problem == !digest.has_value());
  if (digest) fuzz::check(digest_text(*digest).size() == 71);
  const auto nl = input.find('\n');
  const std::string_view authorization = input.substr(0, nl);
  const std::string_view x_api_key = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
  const auto key = auth::presented_key(authorization, x_api_key);
  if (key) {
    fuzz::check(valid_clear_key(*key));
    fuzz::check(key->data() >= input.data() && key->data() + key->size() <= input.data() + input.size());
  }
  return 0;
}
