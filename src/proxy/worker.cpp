// A worker: its listener (SO_REUSEPORT), accept loop and event-loop thread.
#include "proxy/worker.hpp"

#include "proxy/connection_limits.hpp"
#include "proxy/front_door.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "proxy/session.hpp"

namespace infergate::proxy {
namespace {

using ReusePort = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Each session's upstream read takes one block per exchange; up to 256 (4 MiB) stay spare.
constexpr std::size_t kUpstreamReadBlock = kReadChunk;
constexpr std::size_t kSpareReadBlocks = 256;

}  // namespace

Worker::Worker(unsigned index, const GatewayConfig& config, SnapshotHolder& snapshots,
               Metrics& metrics, const std::atomic<bool>& draining, WaitRoom& waits)
    : index_(index),
      config_(config),
      snapshots_(snapshots),
      draining_(draining),
      waits_(waits),
      read_blocks_(kUpstreamReadBlock, kSpareReadBlocks),
      io_(std::make_unique<net::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO)),
      pool_(std::in_place, io_->get_executor()),
      rng_(0x9E3779B97F4A7C15ull * (index + 1) ^ static_cast<std::uint64_t>(std::random_device{}())),
      ids_(rng_()),
      metrics_(metrics) {}

void Worker::set_front_door(FrontDoor* door) {
  front_door_ = door;
  key_cache_ = door ? door->make_key_cache(rng_()) : nullptr;
}

Worker::~Worker() {
  stop();
  join();
  acceptor_.reset();
  pool_.reset();
  if (sessions() > 0) {
    // Stopped with requests in flight (the drain ran out of time): their frames park each
    // other's handlers, so destroying the loop would unwind them in no good order. The process
    // is exiting; let the OS reclaim them.
    (void)io_.release();
    return;
  }
  io_.reset();
}

tcp::endpoint Worker::listen(const tcp::endpoint& address) {
  acceptor_.emplace(*io_);
  acceptor_->open(address.protocol());
  acceptor_->set_option(net::socket_base::reuse_address(true));
  acceptor_->set_option(ReusePort(true));
  acceptor_->bind(address);
  acceptor_->listen(net::socket_base::max_listen_connections);
  return acceptor_->local_endpoint();
}

void Worker::start() {
  net::co_spawn(*io_, accept_loop(), net::detached);
  net::co_spawn(*io_, sweep_loop(), net::detached);
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_->run();
        return;
      } catch (const std::exception& e) {
        // Never reached on the data path (no exceptions there); keep serving if it happens.
        spdlog::error("worker={} escaped exception: {}", index_, e.what());
      }
    }
  });
}

net::awaitable<void> Worker::accept_loop() {
  auto executor = io_->get_executor();
  while (acceptor_ && acceptor_->is_open()) {
    auto accept = acceptor_->async_accept(net::as_tuple(net::use_awaitable));
    auto [ec, socket] = co_await std::move(accept);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_->is_open()) co_return;
      // EMFILE and friends: back off a little instead of spinning on the error.
      spdlog::warn("worker={} accept: {}", index_, ec.message());
      net::steady_timer pause(executor, std::chrono::milliseconds(50));
      auto wait = pause.async_wait(net::as_tuple(net::use_awaitable));
      co_await std::move(wait);
      continue;
    }
    ConnectionSlot slot;
    if (connection_limits_) {
      boost::system::error_code peer_ec;
      const auto peer = socket.remote_endpoint(peer_ec).address();
      const auto verdict = connection_limits_->admit(peer);
      if (verdict != ConnectionLimits::Verdict::admitted) {
        refuse_connection(socket, verdict == ConnectionLimits::Verdict::over_client);
        continue;
      }
      slot = ConnectionSlot(connection_limits_, peer);
    }
    net::co_spawn(executor, run_session(*this, std::move(socket), std::move(slot)),
                  [](std::exception_ptr e) {
                    if (!e) return;
                    try {
                      std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                      spdlog::error("session ended by exception: {}", ex.what());
                    }
                  });
  }
}

namespace {

// The whole answer to a connection over a limit, made once.
std::string over_limit_answer(std::string_view message) {
  const std::string body = R"({"error":{"message":")" + std::string(message) +
                           R"(","type":"server_error","param":null,"code":"overloaded"}})";
  return "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
         "x-gateway-error-reason: too_many_connections\r\nconnection: close\r\ncontent-length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

void Worker::refuse_connection(tcp::socket& socket, bool per_client) {
  static const std::string total = over_limit_answer("The gateway holds too many connections; retry shortly.");
  static const std::string client = over_limit_answer("Too many connections from this address; close some first.");
  // One non-blocking write: a client that does not read it loses it, and nothing waits for it.
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(per_client ? client : total), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

net::awaitable<void> Worker::sweep_loop() {
  net::steady_timer timer(*io_);
  while (!draining()) {
    timer.expires_after(std::chrono::seconds(1));
    auto wait = timer.async_wait(net::as_tuple(net::use_awaitable));
    auto [ec] = co_await std::move(wait);
    if (ec) co_return;
    pool_->expire_idle();
  }
}

void Worker::drain() {
  net::post(*io_, [this] {
    boost::system::error_code ignored;
    if (acceptor_) acceptor_->close(ignored);
    pool_->close_idle();
    // on_drain may unlink a session only later (when its frame ends), so iterating is safe.
    for (SessionHook& session : sessions_) session.on_drain();
  });
}

void Worker::stop() {
  if (io_) io_->stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::attach(SessionHook& session) noexcept {
  sessions_.push_back(session);
  live_sessions_.fetch_add(1, std::memory_order_acq_rel);
}

void Worker::detach(SessionHook& session) noexcept {
  session.unlink();
  live_sessions_.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace infergate::proxy
