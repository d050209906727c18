// Fuzz target: the gateway's YAML config, loaded and validated. A refusal must be a ConfigError
// listing its issues, never another exception or a crash.
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "infergate/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)infergate::load_config_string(std::string(infergate::fuzz::text(data, size)), "fuzz.yaml");
  } catch (const infergate::ConfigError& e) {
    infergate::fuzz::check(!e.issues().empty());
  }
  return 0;
}
