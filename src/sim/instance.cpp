#include "sim/instance.hpp"

#include <ctime>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace infergate::sim {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Events due this close together are run in one wake-up: fewer timer round trips under load.
constexpr Micros kSlack = 200;

std::chrono::steady_clock::time_point to_time_point(Micros us) {
  return std::chrono::steady_clock::time_point(std::chrono::microseconds(us));
}

}  // namespace

Micros now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Event::Event(const asio::any_io_executor& ex) : timer_(ex, std::chrono::steady_clock::time_point::max()) {}

void Event::notify() {
  set_ = true;
  timer_.cancel();
}

asio::awaitable<void> Event::wait() {
  if (!set_) {
    timer_.expires_at(std::chrono::steady_clock::time_point::max());
    auto op = timer_.async_wait(kTuple);
    co_await std::move(op);
  }
  set_ = false;
}

Instance::Instance(const SimOptions& o, std::size_t i, const asio::any_io_executor& ex)
    : opts(o),
      index(i),
      pod(o.pod_names.at(i)),
      metrics(o.flavor, o.served_names.front(), !o.lora_modules.empty()),
      engine([&] {
        EngineConfig c = o.engine;
        c.seed = o.engine.seed + i;
        return c;
      }(), &metrics),
      base_names(o.served_names.begin(), o.served_names.end()),
      lora_names(o.lora_modules.begin(), o.lora_modules.end()),
      ready_at(now_us() + o.faults.startup_delay),
      fault_rng(o.engine.seed * 7919 + i),
      driver_timer_(ex) {
  std::vector<ServedModel> models;
  for (const auto& n : o.served_names) models.push_back({n, {}});
  for (const auto& n : o.lora_modules) models.push_back({n, o.served_names.front()});
  models_json = models_body(models, static_cast<std::int64_t>(std::time(nullptr)), o.max_model_len);
}

void Instance::set_port(std::uint16_t p) {
  port = p;
  extra_headers = "x-inference-pod: " + pod + "\r\nx-inference-port: " + std::to_string(p) + "\r\n";
}

asio::awaitable<void> Instance::drive() {
  for (;;) {
    const Micros next = engine.next_event();
    driver_timer_.expires_at(next == kNever ? std::chrono::steady_clock::time_point::max()
                                            : to_time_point(next));
    auto op = driver_timer_.async_wait(kTuple);
    co_await std::move(op);
    engine.advance(now_us() + kSlack);
    changed();
  }
}

void Instance::changed() {
  changed_.clear();
  engine.take_changed(changed_);
  for (auto id : changed_) {
    if (auto it = waiters.find(id); it != waiters.end()) it->second->notify();
  }
  driver_timer_.cancel();  // the next event may now be earlier
}

}  // namespace infergate::sim
