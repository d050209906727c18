// The metrics scraper: reads every scraped endpoint's /metrics on its own thread and event loop
// (never on a worker's), and publishes the parsed load into the endpoints (routing's
// record_scrape / record_scrape_failure), where the scheduler reads it.
#pragma once

#include <functional>
#include <memory>

#include "infergate/routing.hpp"

namespace infergate::proxy {

class MetricsScraper {
 public:
  MetricsScraper();
  ~MetricsScraper();  // stop()s
  MetricsScraper(const MetricsScraper&) = delete;
  MetricsScraper& operator=(const MetricsScraper&) = delete;

  // Starts the scraper's thread, scraping the targets of `snapshot` (routing's scrape_targets):
  // one keep-alive connection per endpoint, a GET every interval, at most `timeout` per scrape,
  // growing waits (next_scrape_delay) while scrapes fail. Nothing to do (no thread) when no pool
  // is scraped; a later update() starts it then.
  void start(SnapshotPtr snapshot);

  // A new snapshot was published: endpoints it keeps go on being scraped with their connection
  // (settings refreshed), new ones start, dropped ones stop. Any thread.
  void update(SnapshotPtr snapshot);

  // Called when endpoint load may have changed: after each scrape is recorded (scraper thread)
  // and at each update() (caller's thread). The wait queues re-check their pools then. Set it
  // before start().
  void on_load_changed(std::function<void()> hook);

  // Stops every scrape and joins the thread. Idempotent; any thread but the scraper's.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace infergate::proxy
