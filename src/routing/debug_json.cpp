// /debug/endpoints: what the scheduler sees of each endpoint, for people (rare calls: it scans
// the prefix index, milliseconds for a large one).
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "infergate/routing.hpp"
#include "routing/endpoint_health.hpp"
#include "routing/profile.hpp"
#include "routing/scheduler.hpp"

namespace infergate {
namespace {

void number(std::string& out, double v) {
  if (std::isfinite(v)) {
    fmt::format_to(std::back_inserter(out), "{}", v);
  } else {
    out += "null";
  }
}

void string_list(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    append_json_escaped(out, items[i]);
    out += '"';
  }
  out += ']';
}

void endpoint_json(std::string& out, const Pool& pool, const Endpoint& e,
                   std::chrono::steady_clock::time_point now,
                   const std::unordered_map<std::uint32_t, std::size_t>& index_entries) {
  const auto entries = index_entries.find(e.id);
  constexpr auto relaxed = std::memory_order_relaxed;
  const EndpointLoad& load = e.load;
  const std::int64_t now_ns = to_ns(now);
  const std::int64_t scraped = load.scraped_at_ns.load(std::memory_order_acquire);
  const std::int64_t ejected_until = load.ejected_until_ns.load(relaxed);
  out += R"({"name":")";
  append_json_escaped(out, e.name);
  out += R"(","scraped":)";
  if (scraped == 0) {
    out += "null";
  } else {
    out += R"({"waiting":)";
    number(out, load.waiting.load(relaxed));
    out += R"(,"running":)";
    number(out, load.running.load(relaxed));
    out += R"(,"kv_usage":)";
    number(out, load.kv_usage.load(relaxed));
    // At least 0: a scrape may land between the caller's clock read and this one.
    const double age_ms = static_cast<double>(std::max<std::int64_t>(0, now_ns - scraped)) / 1e6;
    fmt::format_to(std::back_inserter(out), R"(,"age_ms":{:.1f},"stale":{})", age_ms,
                   age_ms > static_cast<double>(pool.metrics.staleness.count()));
    if (auto loras = load.loras.names()) {
      fmt::format_to(std::back_inserter(out), R"(,"max_loras":{},"running_loras":)", loras->max_loras);
      string_list(out, loras->running);
      out += R"(,"waiting_loras":)";
      string_list(out, loras->waiting);
    }
    out += '}';
  }
  const bool ejected = ejected_until > now_ns;
  fmt::format_to(std::back_inserter(out),
                 R"(,"in_flight":{},"pending_prefill":{{"requests":{},"tokens":{}}},)"
                 R"("dispatched_since_scrape":{},"dispatched_total":{},"health":{{"available":{},)"
                 R"("ejected_for_ms":{:.0f},"scrape_failures":{},"scrape_misses":{},"connect_failures":{},)"
                 R"("consecutive_5xx":{}}},"prefix_index_entries":{})",
                 e.in_flight.load(relaxed), e.prefill_requests.load(relaxed),
                 e.prefill_tokens.load(relaxed), load.dispatched_since_scrape.load(relaxed),
                 load.dispatched_total.load(relaxed), is_available(e, now),
                 ejected ? static_cast<double>(ejected_until - now_ns) / 1e6 : 0.0,
                 load.scrape_failures.load(relaxed), load.scrape_misses.load(relaxed),
                 load.connect_failures.load(relaxed),
                 load.consecutive_5xx.load(relaxed),
                 entries == index_entries.end() ? std::size_t{0} : entries->second);
  // The load the scorers read for a Standard request (EndpointView::queue and ::backlog), and
  // the part of it placed by others (other gateway replicas, direct clients): the scraped
  // requests less this gateway's in flight at that scrape.
  EndpointView view;
  read_view(e, 0, now, view_options(pool, priority::standard), AdapterKey{}, view);
  out += R"(,"load":{"fresh":)";
  out += view.fresh ? "true" : "false";
  out += R"(,"queue":)";
  number(out, view.queue);
  out += R"(,"backlog":)";
  number(out, view.backlog);
  out += R"(,"others":)";
  number(out, std::max(0.0, view.queue - view.in_flight));
  out += R"(,"saturated":)";
  out += view.saturated ? "true" : "false";
  out += '}';
  out += '}';
}

}  // namespace

std::string render_endpoints_json(const Snapshot& snapshot,
                                  std::chrono::steady_clock::time_point now) {
  std::string out = R"({"pools":[)";
  for (std::size_t p = 0; p < snapshot.pools.size(); ++p) {
    const Pool& pool = *snapshot.pools[p];
    if (p) out += ',';
    out += R"({"name":")";
    append_json_escaped(out, pool.name);
    out += R"(","metrics":")";
    append_json_escaped(out, pool.metrics.flavour);
    out += R"(","endpoints":[)";
    const auto index_entries = pool.profile ? pool.profile->state_entries_by_endpoint()
                                            : std::unordered_map<std::uint32_t, std::size_t>{};
    for (std::size_t i = 0; i < pool.endpoints.size(); ++i) {
      if (i) out += ',';
      endpoint_json(out, pool, *pool.endpoints[i], now, index_entries);
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

std::string render_models_json(const Snapshot& snapshot) {
  std::vector<const ModelRoute*> models;
  models.reserve(snapshot.models.size());
  for (const auto& [name, route] : snapshot.models) models.push_back(&route);
  std::sort(models.begin(), models.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::string out = R"({"models":[)";
  for (std::size_t m = 0; m < models.size(); ++m) {
    const ModelRoute& model = *models[m];
    if (m) out += ',';
    out += R"({"name":")";
    append_json_escaped(out, model.name);
    fmt::format_to(std::back_inserter(out), R"(","priority":{},"targets":[)", model.priority);
    for (std::size_t t = 0; t < model.targets.size(); ++t) {
      const Target& target = model.targets[t];
      if (t) out += ',';
      out += R"({"pool":")";
      if (target.pool) append_json_escaped(out, target.pool->name);
      out += R"(","model":")";
      append_json_escaped(out, target.served_model.empty() ? model.name : target.served_model);
      fmt::format_to(std::back_inserter(out), R"(","weight":{}}})", target.weight);
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

}  // namespace infergate
