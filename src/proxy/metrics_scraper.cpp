// The metrics scraper: one coroutine per endpoint on the scraper's own thread, each with one
// keep-alive connection, one read buffer and one body string reused scrape after scrape. Sockets
// are read only once known to hold data (dispatch_reads): per scrape one send and one read.
#include "proxy/metrics_scraper.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>

#include <array>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <spdlog/spdlog.h>

#include "proxy/http_parse.hpp"
#include "routing/endpoint_health.hpp"
#include "routing/scrape_plan.hpp"

namespace infergate::proxy {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// A metrics page is tens of KB (vLLM: ~40 KB); anything far larger is not one.
constexpr std::uint64_t kBodyLimit = 8 * 1024 * 1024;
// A read takes at most the buffer's free capacity (read_now), and the parser empties the buffer as
// it copies the body out: without room reserved, a page would cost a read per few KB.
constexpr std::size_t kReadRoom = 32 * 1024;

// One scraped endpoint: its settings, connection and reused buffers. Only the scraper's thread
// touches it.
struct TargetState {
  TargetState(net::io_context& io, ScrapeTarget t, int ready_set)
      : target(std::move(t)), socket(io), resolver(io), timer(io), ready_set(ready_set) {
    set_request();
  }
  void set_request() {
    request = "GET " + target.path + " HTTP/1.1\r\nhost: " + target.endpoint->name +
              "\r\naccept: text/plain\r\nuser-agent: infergate-scraper\r\n\r\n";
  }
  void close() {
    if (socket.is_open()) epoll_ctl(ready_set, EPOLL_CTL_DEL, socket.native_handle(), nullptr);
    error_code ignored;
    socket.close(ignored);
    connected = false;
    awaiting_read = maybe_readable = false;
  }

  ScrapeTarget target;
  tcp::socket socket;
  tcp::resolver resolver;
  net::steady_timer timer;
  beast::flat_buffer buffer;
  std::string body;
  FieldList fields;
  std::string reason;
  std::vector<std::string_view> pieces;
  std::string request;
  std::optional<tcp::endpoint> address;
  // This gateway's requests in flight on the endpoint when the request of the scrape left: the
  // page counts them already (EndpointLoad::in_flight_at_scrape).
  std::int32_t in_flight_at_send = 0;
  bool connected = false;
  bool stopped = false;
  // The scrape in progress must end by then, or the sweeper closes the socket (a timer per
  // scrape would cost a timer update per operation on every endpoint).
  Clock::time_point deadline = Clock::time_point::max();
  bool timed_out = false;

  // Reads happen when the socket is known to hold data (Impl::dispatch_reads), never as a try
  // that fails with EAGAIN: the coroutine sets awaiting_read and waits on `timer`; the dispatcher
  // reads and cancels the wait.
  int ready_set;                // the scraper's epoll set (edge-triggered) this socket is in
  bool awaiting_read = false;
  bool maybe_readable = false;  // an edge while nobody waited, or the last read filled the room
  bool read_done = false;
  error_code read_ec;
};
using StatePtr = std::shared_ptr<TargetState>;

// Why a scrape failed, for the one log line when an endpoint turns unhealthy.
struct ScrapeResult {
  error_code ec;
  unsigned status = 0;
  bool ok() const { return !ec && status == 200; }
  std::string describe() const {
    return ec ? ec.message() : "status " + std::to_string(status);
  }
};

net::awaitable<error_code> connect(TargetState& s) {
  if (!s.address) {
    error_code ec;
    const auto ip = net::ip::make_address(s.target.endpoint->address.host, ec);
    if (!ec) {
      s.address.emplace(ip, s.target.endpoint->address.port);
    } else {
      auto resolve = s.resolver.async_resolve(s.target.endpoint->address.host,
                                              std::to_string(s.target.endpoint->address.port),
                                              kTuple);
      auto [rec, results] = co_await std::move(resolve);
      if (rec) co_return rec;
      if (results.empty()) co_return net::error::host_not_found;
      s.address = results.begin()->endpoint();  // cached: the address of an Endpoint is fixed
    }
  }
  s.close();
  auto op = s.socket.async_connect(*s.address, kTuple);
  auto [ec] = co_await std::move(op);
  if (ec) co_return ec;
  error_code ignored;
  s.socket.set_option(tcp::no_delay(true), ignored);
  s.socket.non_blocking(true, ignored);  // send_request() and read_now() never wait
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &s;
  if (epoll_ctl(s.ready_set, EPOLL_CTL_ADD, s.socket.native_handle(), &ev) != 0) {
    const error_code ec(errno, net::error::get_system_category());
    s.close();
    co_return ec;
  }
  s.connected = true;
  s.buffer.clear();
  s.buffer.reserve(kReadRoom);
  co_return error_code{};
}

// Sends the request of a scrape. The socket is in non-blocking mode: a request of ~100 bytes into
// an idle keep-alive connection's empty send buffer goes out in this one send, without the
// completion's round trip through the scheduler that async_write costs; `sent` says how much left.
error_code send_request(TargetState& s, std::size_t& sent) {
  s.in_flight_at_send = s.target.endpoint->in_flight.load(std::memory_order_relaxed);
  error_code ec;
  sent = s.socket.write_some(net::buffer(s.request), ec);
  if (ec == net::error::would_block) {
    sent = 0;
    ec = {};
  }
  return ec;
}

// One non-blocking read into the buffer's free room. A read shorter than the room emptied the
// socket: the next data brings a new edge.
error_code read_now(TargetState& s) {
  const std::size_t room = std::max<std::size_t>(s.buffer.capacity() - s.buffer.size(), 4096);
  error_code ec;
  const std::size_t n = s.socket.read_some(s.buffer.prepare(room), ec);
  if (ec) return ec;
  s.buffer.commit(n);
  s.maybe_readable = n == room;
  return ec;
}

// Feeds what the buffer holds to the parser (the body lands in s.body). need_more: read more.
error_code feed(TargetState& s, ResponseParser& parser) {
  error_code ec = http::error::need_more;
  if (s.buffer.size() != 0) {
    const auto data = s.buffer.data();
    const std::size_t used = parser.feed(static_cast<const char*>(data.data()), data.size(), ec);
    for (std::string_view piece : s.pieces) s.body.append(piece);
    s.pieces.clear();
    s.buffer.consume(used);
  }
  return ec;
}

}  // namespace

struct MetricsScraper::Impl {
  Impl() : logger(spdlog::default_logger()->clone("scraper")) {}

  void apply(const SnapshotPtr& snapshot);  // scraper thread
  net::awaitable<void> run(StatePtr s);
  void publish(TargetState& s, const ScrapeResult& result);
  void ensure_thread();
  net::awaitable<void> sweep();  // enforces the scrape timeouts
  net::awaitable<void> dispatch_reads();
  void handle_ready(const epoll_event* events, int n);  // reads for the coroutines waiting


  // One thread runs everything here and touches every socket and timer: no locking in the reactor
  // I/O (the scheduler keeps its lock: update() and stop() post from other threads).
  net::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread thread;
  net::steady_timer sweeper{io};
  // Every connected scrape socket, edge-triggered: one wait of the event loop on this set (and
  // one epoll_wait on it) per wake-up replaces a failed read per scrape (bench/scraper.md).
  int ready_set = epoll_create1(EPOLL_CLOEXEC);
  net::posix::stream_descriptor ready_watch{io, ready_set};  // owns ready_set
  Clock::duration sweep_period = std::chrono::milliseconds(250);
  bool stopping = false;
  std::unordered_map<const Endpoint*, StatePtr> states;
  std::shared_ptr<spdlog::logger> logger;
  std::function<void()> load_changed;  // on_load_changed()
  // Scrapes are due on multiples of their delay counted from here, so endpoints with the same
  // interval are scraped in one wake-up of the thread instead of one each.
  const Clock::time_point epoch = Clock::now();
};

namespace {

// The scraper is background work: as SCHED_BATCH its thread never preempts a proxy worker when a
// response wakes it, and responses arriving together are read in one wake-up instead of one
// context switch each (8x fewer switches with the simulators on the same cores). Linux only;
// elsewhere, or if refused, the thread keeps the default policy.
void make_batch_thread() {
#ifdef SCHED_BATCH
  sched_param param{};
  param.sched_priority = 0;
  pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
#endif
}

Clock::time_point next_tick(Clock::time_point epoch, Clock::time_point now, Clock::duration delay) {
  const auto ticks = (now - epoch) / delay + 1;
  return epoch + ticks * delay;
}

}  // namespace

void MetricsScraper::Impl::ensure_thread() {
  if (thread.joinable()) return;
  io.restart();  // after a stop()
  work.emplace(io.get_executor());
  stopping = false;
  net::co_spawn(io, sweep(), net::detached);
  net::co_spawn(io, dispatch_reads(), net::detached);
  thread = std::thread([this] {
    make_batch_thread();
    io.run();
  });
}

void MetricsScraper::Impl::apply(const SnapshotPtr& snapshot) {
  std::unordered_map<const Endpoint*, StatePtr> next;
  // A quarter of the shortest timeout (10 to 250 ms): a scrape ends at most 25% late.
  Clock::duration period = std::chrono::milliseconds(250);
  for (ScrapeTarget& target : scrape_targets(*snapshot)) {
    period = std::min<Clock::duration>(period, target.timeout / 4);
    const Endpoint* key = target.endpoint.get();
    if (auto it = states.find(key); it != states.end()) {
      StatePtr s = std::move(it->second);
      states.erase(it);
      const bool path_changed = s->target.path != target.path;
      s->target = std::move(target);
      if (path_changed) s->set_request();
      next.emplace(key, std::move(s));
      continue;
    }
    auto s = std::make_shared<TargetState>(io, std::move(target), ready_set);
    next.emplace(key, s);
    net::co_spawn(io, run(std::move(s)), net::detached);
  }
  for (auto& [key, s] : states) {  // endpoints the new snapshot dropped
    s->stopped = true;
    s->timer.cancel();
    s->resolver.cancel();
    s->close();
  }
  states = std::move(next);
  sweep_period = std::max<Clock::duration>(period, std::chrono::milliseconds(10));
}

net::awaitable<void> MetricsScraper::Impl::sweep() {
  while (!stopping) {
    sweeper.expires_at(next_tick(epoch, Clock::now(), sweep_period));
    auto wait = sweeper.async_wait(kTuple);
    co_await std::move(wait);
    const auto now = Clock::now();
    for (auto& [key, s] : states) {
      if (s->deadline >= now) continue;
      s->timed_out = true;
      s->timer.cancel();  // a read being waited for
      s->resolver.cancel();
      s->close();
    }
  }
}

net::awaitable<void> MetricsScraper::Impl::dispatch_reads() {
  std::array<epoll_event, 64> events;
  while (!stopping) {
    auto wait = ready_watch.async_wait(net::posix::descriptor_base::wait_read, kTuple);
    auto [ec] = co_await std::move(wait);
    if (ec) break;  // stop()
    // The event loop sees an edge of the set only when it gains an event: harvest it all.
    for (int n = static_cast<int>(events.size()); n == static_cast<int>(events.size());) {
      n = epoll_wait(ready_set, events.data(), static_cast<int>(events.size()), 0);
      handle_ready(events.data(), n);
    }
  }
}

void MetricsScraper::Impl::handle_ready(const epoll_event* events, int n) {
  for (int i = 0; i < n; ++i) {
    auto& s = *static_cast<TargetState*>(events[i].data.ptr);
    if (!s.awaiting_read) {
      s.maybe_readable = true;
      continue;
    }
    const error_code rec = read_now(s);
    if (rec == net::error::would_block) continue;
    s.read_ec = rec;
    s.read_done = true;
    s.awaiting_read = false;
    s.timer.cancel();
  }
}

void MetricsScraper::Impl::publish(TargetState& s, const ScrapeResult& result) {
  Endpoint& endpoint = *s.target.endpoint;
  const auto now = Clock::now();
  const bool was_unhealthy = is_unhealthy(endpoint);
  constexpr std::uint32_t kMissesLogged = 3;
  const std::uint32_t misses = endpoint.load.scrape_misses.load(std::memory_order_relaxed);
  if (result.ok()) {
    const ScrapedLoad load = parse_load(s.body, *s.target.mapping);
    const bool any = load.waiting || load.running || load.kv_usage;
    if (any || !s.target.advisory) {
      // Before record_scrape, whose release store of the scrape time publishes it with the values.
      endpoint.load.in_flight_at_scrape.store(s.in_flight_at_send, std::memory_order_relaxed);
      record_scrape(endpoint, load, now);
      if (was_unhealthy) logger->info("endpoint={} scrapes succeed again: healthy", endpoint.name);
      if (misses >= kMissesLogged) logger->info("endpoint={} serves load metrics now", endpoint.name);
      return;
    }
  }
  if (s.target.advisory) {
    // Nobody asked for metrics here: a server without them is still a server.
    record_scrape_miss(endpoint);
    if (misses + 1 == kMissesLogged) {
      logger->info("endpoint={} serves no load metrics at {} (last: {}): this gateway's own counts "
                   "only; set the pool's metrics flavour, or none", endpoint.name, s.target.path,
                   result.ok() ? "no waiting, running or KV-use series" : result.describe());
    }
    return;
  }
  record_scrape_failure(endpoint, now);
  if (!was_unhealthy && is_unhealthy(endpoint)) {
    logger->warn("endpoint={} unhealthy after {} failed scrapes (last: {})", endpoint.name,
                 endpoint.load.scrape_failures.load(std::memory_order_relaxed), result.describe());
  }
}

// One coroutine per endpoint, for as long as it is scraped. A scrape runs inline here, not in
// nested coroutines: no coroutine frame is allocated per scrape (three were: 64 endpoints scraped
// together outnumber Asio's per-thread cache of recycled frames, so each was a malloc). The
// proxy's ResponseParser keeps the head's fields in a reused arena: no allocation per scrape
// either once the buffers have grown.
net::awaitable<void> MetricsScraper::Impl::run(StatePtr s) {
  while (!s->stopped) {
    s->timed_out = false;
    s->deadline = Clock::now() + s->target.timeout;
    ScrapeResult result;
    // A kept-alive connection the server closed while idle fails at once: retried once on a new
    // connection.
    for (bool retry = false;; retry = true) {
      const bool reused = s->connected;
      result = {};
      if (!s->connected) {
        auto op = connect(*s);
        result.ec = co_await std::move(op);
        if (result.ec) break;
      }
      std::size_t sent = 0;
      result.ec = send_request(*s, sent);
      if (!result.ec && sent < s->request.size()) {
        auto write = net::async_write(s->socket, net::buffer(s->request) + sent, kTuple);
        auto [wec, wn] = co_await std::move(write);
        result.ec = wec;
      }
      if (!result.ec) {
        s->body.clear();
        s->fields.clear();
        ResponseParser parser(s->fields, s->reason, s->pieces);
        parser.body_limit(kBodyLimit);
        for (;;) {
          const error_code ec = feed(*s, parser);
          if (parser.is_done()) {
            result.status = parser.status();
            if (!parser.keep_alive()) s->close();
            break;
          }
          if (ec && ec != http::error::need_more) {
            result.ec = ec;
            break;
          }
          if (!ec) continue;
          error_code rec = net::error::would_block;
          if (s->maybe_readable) {
            s->maybe_readable = false;
            rec = read_now(*s);
          }
          if (rec == net::error::would_block) {  // wait for dispatch_reads() to read
            s->awaiting_read = true;
            s->read_done = false;
            s->timer.expires_at(Clock::time_point::max());
            auto wait = s->timer.async_wait(kTuple);
            co_await std::move(wait);
            s->awaiting_read = false;
            rec = s->read_done ? s->read_ec : error_code(net::error::operation_aborted);
          }
          // A body delimited by the end of the connection ends there. An end before any byte is a
          // connection the server dropped while idle (retried above), not an empty response:
          // Beast's parser would call that one complete, with status 0.
          if (rec == net::error::eof) {
            s->close();
            error_code eof_ec;
            if (parser.got_some()) parser.feed_eof(eof_ec);
            if (parser.is_done()) {
              result.status = parser.status();
              break;
            }
          }
          if (rec) {
            result.ec = rec;
            break;
          }
        }
      }
      if (!result.ec || !reused || retry || s->stopped || s->timed_out) break;
    }
    s->deadline = Clock::time_point::max();
    if (s->timed_out) result.ec = net::error::timed_out;
    if (result.ec) s->close();
    if (s->stopped) break;
    publish(*s, result);
    if (load_changed) load_changed();
    const EndpointLoad& load = s->target.endpoint->load;
    const auto failures = load.scrape_failures.load(std::memory_order_relaxed) +
                          load.scrape_misses.load(std::memory_order_relaxed);
    s->timer.expires_at(next_tick(epoch, Clock::now(), next_scrape_delay(s->target.interval, failures)));
    auto wait = s->timer.async_wait(kTuple);
    co_await std::move(wait);
  }
  s->close();
}

MetricsScraper::MetricsScraper() : impl_(std::make_unique<Impl>()) {}

MetricsScraper::~MetricsScraper() { stop(); }

void MetricsScraper::start(SnapshotPtr snapshot) { update(std::move(snapshot)); }

void MetricsScraper::on_load_changed(std::function<void()> hook) {
  impl_->load_changed = std::move(hook);
}

void MetricsScraper::update(SnapshotPtr snapshot) {
  Impl& m = *impl_;
  if (m.load_changed) m.load_changed();  // a new table: endpoints may have been added
  if (!m.thread.joinable() && scrape_targets(*snapshot).empty()) return;
  m.ensure_thread();
  net::post(m.io, [&m, snapshot = std::move(snapshot)] { m.apply(snapshot); });
}

void MetricsScraper::stop() {
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  // Closing every connection and timer lets each coroutine finish; then run() runs out of work.
  net::post(m.io, [&m] {
    for (auto& [key, s] : m.states) {
      s->stopped = true;
      s->timer.cancel();
      s->resolver.cancel();
      s->close();
    }
    m.states.clear();
    m.stopping = true;
    m.sweeper.cancel();
    m.ready_watch.cancel();
    m.work.reset();
  });
  m.thread.join();
}

}  // namespace infergate::proxy
