// One simulated server: its engine, metrics, listener state and the driver that turns engine
// events into wake-ups of the request coroutines. Internal to the executable (Asio, no Beast).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sim/engine.hpp"
#include "sim/openai_api.hpp"
#include "sim/options.hpp"
#include "sim/sim_metrics.hpp"

namespace infergate::sim {

namespace asio = boost::asio;

Micros now_us();

// A wake-up for one waiting coroutine; a notify() before wait() is not lost.
class Event {
 public:
  explicit Event(const asio::any_io_executor& ex);
  void notify();
  asio::awaitable<void> wait();

 private:
  asio::steady_timer timer_;
  bool set_ = false;
};

class Instance {
 public:
  Instance(const SimOptions& opts, std::size_t index, const asio::any_io_executor& ex);

  // Runs engine events as they fall due and wakes the requests they concern. Never returns.
  asio::awaitable<void> drive();
  // Call after changing the engine (submit, abort): wakes whoever changed and re-arms the driver.
  void changed();

  const SimOptions& opts;
  const std::size_t index;
  const std::string pod;
  std::uint16_t port = 0;
  std::string extra_headers;  // x-inference-pod / x-inference-port lines
  SimMetrics metrics;
  Engine engine;
  RequestParser parser;
  std::unordered_map<Engine::Id, Event*> waiters;
  std::unordered_set<std::string> base_names;
  std::unordered_set<std::string> lora_names;
  std::string models_json;
  Micros ready_at = 0;  // end of the start-up delay
  std::mt19937_64 fault_rng;
  std::uint64_t request_count = 0;

  bool ready() const { return now_us() >= ready_at; }
  void set_port(std::uint16_t p);
  // Draws one uniform number in [0,1) for fault decisions.
  double draw() { return std::uniform_real_distribution<double>(0.0, 1.0)(fault_rng); }

 private:
  asio::steady_timer driver_timer_;
  std::vector<Engine::Id> changed_;
};

}  // namespace infergate::sim
