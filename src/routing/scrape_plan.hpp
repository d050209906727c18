// What the metrics scraper (src/proxy, control thread) needs to know, derived from a snapshot:
// which endpoints to scrape, how, and how long to wait after failures. No I/O here.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "infergate/routing.hpp"
#include "routing/metrics_text.hpp"

namespace infergate {

struct ScrapeTarget {
  EndpointPtr endpoint;
  std::shared_ptr<const MetricsMapping> mapping;  // never null
  std::string path;                               // "/metrics"
  std::chrono::milliseconds interval{50};
  std::chrono::milliseconds timeout{1'000};
  // Flavour "auto": the pool did not ask for metrics, so a server that has none (an error status,
  // or a page without any of the names) is not unhealthy; its failures count as misses
  // (EndpointLoad::scrape_misses), which only slow the scrapes down.
  bool advisory = false;
};

// One target per endpoint of every scraped pool (pool.mapping set); an endpoint listed by two
// pools is scraped once, with the settings of the first pool. Rebuild on every new snapshot.
std::vector<ScrapeTarget> scrape_targets(const Snapshot& snapshot);

// The wait before the next scrape of an endpoint after `consecutive_failures` failed scrapes:
// the interval, doubled per failure, at most `max_backoff` (never less than the interval).
std::chrono::milliseconds next_scrape_delay(std::chrono::milliseconds interval,
                                            std::uint32_t consecutive_failures,
                                            std::chrono::milliseconds max_backoff = std::chrono::seconds(5));

}  // namespace infergate
