// Fuzz target: a model server's /metrics page (Prometheus text format), read as the scraper does.
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "routing/metrics_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infergate;
  const std::string_view page = fuzz::text(data, size);
  for_each_sample(page, [](const PromSample& s) {
    (void)find_label(s.labels, "model_name");
    (void)find_label(s.labels, "running_lora_adapters");
  });
  static const MetricsMapping mappings[] = {MetricsMapping::vllm(), MetricsMapping::sglang(),
                                            MetricsMapping::trtllm(), MetricsMapping::detect()};
  for (const auto& mapping : mappings) {
    const ScrapedLoad load = parse_load(page, mapping);
    fuzz::check(load.max_loras >= 0);
  }
  // The first line doubles as a selector, as the config writes one.
  (void)parse_selector(page.substr(0, page.find('\n')));
  return 0;
}
