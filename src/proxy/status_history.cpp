// The status sampler's ring and its columnar JSON.
#include "proxy/status_history.hpp"

#include <cmath>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "infergate/errors.hpp"  // append_json_escaped
#include "routing/endpoint_health.hpp"

namespace infergate::proxy {
namespace {

void number(std::string& out, double v) {
  if (std::isfinite(v)) {
    fmt::format_to(std::back_inserter(out), "{}", v);
  } else {
    out += "null";
  }
}

void quoted(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s);
  out += '"';
}

// One JSON array of a column: `value(sample)` for each sample that has the endpoint, else null.
template <typename Get>
void column(std::string& out, const char* name, const std::vector<const EndpointSample*>& rows,
            Get get) {
  fmt::format_to(std::back_inserter(out), R"(,"{}":[)", name);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ',';
    if (rows[i] == nullptr) {
      out += "null";
    } else {
      get(out, *rows[i]);
    }
  }
  out += ']';
}

template <typename Get>
void sample_column(std::string& out, const char* name, const std::vector<const StatusSample*>& order,
                   Get get) {
  fmt::format_to(std::back_inserter(out), R"(,"{}":[)", name);
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i) out += ',';
    get(out, *order[i]);
  }
  out += ']';
}

// {"pool":..,"address":..,"waiting":[..],...} of one endpoint (rows: one entry per sample).
void endpoint_columns(std::string& out, const std::vector<const EndpointSample*>& r) {
  const EndpointSample* first = nullptr;
  for (const EndpointSample* e : r) first = first ? first : e;
  out += R"({"pool":)";
  quoted(out, first->pool);
  out += R"(,"address":)";
  quoted(out, first->address);
  column(out, "waiting", r, [](std::string& o, const EndpointSample& e) { number(o, e.waiting); });
  column(out, "running", r, [](std::string& o, const EndpointSample& e) { number(o, e.running); });
  column(out, "kv_usage", r, [](std::string& o, const EndpointSample& e) { number(o, e.kv_usage); });
  column(out, "in_flight", r, [](std::string& o, const EndpointSample& e) {
    fmt::format_to(std::back_inserter(o), "{}", e.in_flight);
  });
  column(out, "dispatched", r, [](std::string& o, const EndpointSample& e) {
    fmt::format_to(std::back_inserter(o), "{}", e.dispatched);
  });
  column(out, "healthy", r, [](std::string& o, const EndpointSample& e) {
    o += e.healthy ? "true" : "false";
  });
  out += '}';
}

}  // namespace

StatusSample take_sample(const Snapshot& snapshot, std::chrono::steady_clock::time_point now,
                         std::int64_t unix_ms, double requests, double errors) {
  constexpr auto relaxed = std::memory_order_relaxed;
  const double nan = std::nan("");
  StatusSample sample{unix_ms, requests, errors, {}};
  for (const auto& pool : snapshot.pools) {
    for (const auto& e : pool->endpoints) {
      const EndpointLoad& load = e->load;
      const bool scraped = load.scraped_at_ns.load(std::memory_order_acquire) != 0;
      sample.endpoints.push_back({pool->name, e->name, scraped ? load.waiting.load(relaxed) : nan,
                                  scraped ? load.running.load(relaxed) : nan,
                                  scraped ? load.kv_usage.load(relaxed) : nan,
                                  e->in_flight.load(relaxed), load.dispatched_total.load(relaxed),
                                  is_available(*e, now)});
    }
  }
  return sample;
}

StatusHistory::StatusHistory(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  ring_.reserve(capacity_);
}

void StatusHistory::add(StatusSample sample) {
  const std::lock_guard lock(mutex_);
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(sample));
    return;
  }
  ring_[next_] = std::move(sample);
  next_ = (next_ + 1) % capacity_;
}

std::size_t StatusHistory::size() const {
  const std::lock_guard lock(mutex_);
  return ring_.size();
}

std::string StatusHistory::render_json() const {
  const std::lock_guard lock(mutex_);
  // Oldest first: once full, the oldest sits at next_.
  std::vector<const StatusSample*> order;
  order.reserve(ring_.size());
  const std::size_t start = ring_.size() < capacity_ ? 0 : next_;
  for (std::size_t i = 0; i < ring_.size(); ++i) order.push_back(&ring_[(start + i) % ring_.size()]);

  // Endpoints by (pool, address), in order of first appearance; rows[k][i]: sample i of endpoint k.
  std::map<std::pair<std::string_view, std::string_view>, std::size_t> index;
  std::vector<std::vector<const EndpointSample*>> rows;
  for (std::size_t i = 0; i < order.size(); ++i) {
    for (const EndpointSample& e : order[i]->endpoints) {
      const auto [it, added] = index.try_emplace({e.pool, e.address}, rows.size());
      if (added) rows.emplace_back(order.size(), nullptr);
      rows[it->second][i] = &e;
    }
  }

  std::string out = fmt::format(R"({{"capacity":{})", capacity_);
  sample_column(out, "unix_ms", order, [](std::string& o, const StatusSample& s) {
    fmt::format_to(std::back_inserter(o), "{}", s.unix_ms);
  });
  sample_column(out, "requests", order, [](std::string& o, const StatusSample& s) { number(o, s.requests); });
  sample_column(out, "errors", order, [](std::string& o, const StatusSample& s) { number(o, s.errors); });
  out += R"(,"endpoints":[)";
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (k) out += ',';
    endpoint_columns(out, rows[k]);
  }
  out += "]}\n";
  return out;
}

}  // namespace infergate::proxy
