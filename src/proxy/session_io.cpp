// The session's I/O plumbing: deadlines and their watchdog, the one client read shared by
// request reading and the relay's watch, and writes that try once before going asynchronous.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/session.hpp"
#include "proxy/tls.hpp"

#include <cstring>

#include <spdlog/spdlog.h>

namespace infergate::proxy {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

}  // namespace

void Session::set_deadline(Phase phase, std::chrono::milliseconds after) {
  phase_ = phase;
  deadline_ = Clock::now() + after;
  // Later deadlines only move a number: the watchdog re-arms when it wakes. A sooner one must
  // wake it now.
  if (deadline_ < armed_) timer_.cancel();
}

void Session::arm_watchdog() {
  armed_ = deadline_;
  timer_.expires_at(armed_);
  watchdog_armed_ = true;
  timer_.async_wait([this](boost::system::error_code) { on_watchdog(); });
}

void Session::on_watchdog() {
  watchdog_armed_ = false;
  if (finished_) {
    if (read_waiter_) read_waiter_.complete({});  // settle_watchdog() is parked there
    return;
  }
  if (Clock::now() >= deadline_) {
    deadline_ = Clock::time_point::max();
    on_expired();
  }
  arm_watchdog();
}

void Session::on_expired() {
  expired_ = phase_;
  boost::system::error_code ignored;
  switch (phase_) {
    case Phase::connect:
    case Phase::first_byte:
      if (upstream_ && *upstream_) upstream_->socket().close(ignored);
      break;
    case Phase::streaming:
      if (upstream_ && *upstream_) upstream_->socket().close(ignored);
      client_.cancel(ignored);
      break;
    case Phase::none:
    case Phase::queued:
      break;
    default:
      client_.cancel(ignored);
      break;
  }
}

void Session::start_client_read() {
  if (read_pending_ || read_error_) return;
  const std::size_t room = read_room(in_);
  if (room == 0) return;  // a full buffer: nothing more to learn until it is parsed
  read_pending_ = true;
  auto done = [this](boost::system::error_code ec, std::size_t n) { on_client_read(ec, n); };
  if (tls_) {
    tls_->stream.async_read_some(in_.prepare(room), done);
  } else {
    client_.async_read_some(in_.prepare(room), done);
  }
}

void Session::on_client_read(boost::system::error_code ec, std::size_t n) {
  read_pending_ = false;
  in_.commit(ec ? 0 : n);
  if (ec) read_error_ = ec;
  if (read_waiter_) {
    read_waiter_.complete(ec);
    return;
  }
  if (!relaying_) return;
  if (!ec) {
    start_client_read();  // bytes of the next pipelined request: keep them, keep watching
  } else if (ec != net::error::operation_aborted) {
    // The client left. Closing the upstream connection is how the model server learns to stop
    // generating; the relay then ends on its own.
    client_gone_ = true;
    if (upstream_ && *upstream_) {
      boost::system::error_code ignored;
      upstream_->socket().close(ignored);
    }
    if (ticket_) ticket_->timer.cancel();  // waiting in a queue: leave it now
  }
}

namespace {

// Parks the caller's completion handler as the session's read waiter.
struct WaitForRead {
  ReadWaiter* waiter;
  template <typename Handler>
  void operator()(Handler&& handler) const {
    waiter->park(std::forward<Handler>(handler));
  }
};

}  // namespace

net::awaitable<boost::system::error_code> Session::wait_client_read() {
  if (read_error_) co_return read_error_;
  start_client_read();
  if (!read_pending_) co_return net::error::no_buffer_space;
  auto wait = net::async_initiate<decltype(kTuple), void(boost::system::error_code)>(
      WaitForRead{&read_waiter_}, kTuple);
  auto [ec] = co_await std::move(wait);
  co_return ec;
}

net::awaitable<void> Session::settle_watchdog() {
  // serve() has ended, so no client read is outstanding: its waiter is free for this wait.
  while (watchdog_armed_) {
    timer_.cancel();
    auto wait = net::async_initiate<decltype(kTuple), void(boost::system::error_code)>(
        WaitForRead{&read_waiter_}, kTuple);
    co_await std::move(wait);
  }
}

net::awaitable<void> Session::settle_client_read() {
  while (read_pending_) {
    boost::system::error_code ignored;
    client_.cancel(ignored);
    auto wait = net::async_initiate<decltype(kTuple), void(boost::system::error_code)>(
        WaitForRead{&read_waiter_}, kTuple);
    co_await std::move(wait);
  }
}

net::awaitable<boost::system::error_code> Session::write_fully(tcp::socket& socket,
                                                              std::span<net::const_buffer> buffers) {
  boost::system::error_code ec;
  std::size_t written = socket.write_some(buffers, ec);
  if (ec && ec != net::error::would_block && ec != net::error::try_again) co_return ec;
  std::size_t first = 0;
  while (first < buffers.size() && written >= buffers[first].size()) {
    written -= buffers[first].size();
    ++first;
  }
  if (first == buffers.size()) co_return boost::system::error_code{};
  buffers[first] += written;
  auto write = net::async_write(socket, buffers.subspan(first), kTuple);
  auto [wec, n] = co_await std::move(write);
  co_return wec;
}

net::awaitable<bool> Session::tls_handshake() {
  tls_ = std::make_unique<TlsStream>(client_, worker_.tls());
  set_deadline(Phase::header, worker_.config().timeouts.client_header);  // expiry cancels it
  auto handshake = tls_->stream.async_handshake(net::ssl::stream_base::server, kTuple);
  auto [ec] = co_await std::move(handshake);
  // A plain-HTTP client or a scanner: nothing to answer in a protocol it would understand.
  if (ec) spdlog::debug("tls handshake from {}: {}", peer_ip_, ec.message());
  expired_ = Phase::none;
  co_return !ec;
}

net::awaitable<void> Session::tls_close_notify() {
  // The client learns the stream ends here, not that it was cut (OpenSSL 3 clients reading to
  // the end report a truncation otherwise). Asio's shutdown then waits for the client's own
  // close_notify: worth a moment, not more. No read may run beside it.
  auto settle = settle_client_read();
  co_await std::move(settle);
  set_deadline(Phase::writing, std::chrono::milliseconds(100));
  auto shutdown = tls_->stream.async_shutdown(kTuple);
  co_await std::move(shutdown);
}

net::awaitable<boost::system::error_code> Session::write_tls(std::span<net::const_buffer> buffers) {
  tls_out_.clear();
  for (const auto& b : buffers) tls_out_.append(static_cast<const char*>(b.data()), b.size());
  auto write = net::async_write(tls_->stream, net::buffer(tls_out_), kTuple);
  auto [ec, n] = co_await std::move(write);
  co_return ec;
}

std::size_t Session::read_room(const Buffer& buffer) const noexcept {
  return std::min(kReadChunk, buffer.max_size() - buffer.size());
}

std::size_t Session::read_room(const InputBuffer& buffer) const noexcept {
  // The watch during a relay reads the next request, if any: a usual one fits in kIdleRead.
  const std::size_t want = relaying_ ? kIdleRead : read_hint_;
  return std::min(want, buffer.max_size() - buffer.size());
}

boost::asio::mutable_buffer InputBuffer::prepare(std::size_t n) {
  const std::size_t unread = size();
  if (unread == 0 && n <= kIdleRead && capacity_ > kIdleRead) {
    // Waiting for a request after a large one: back to the small buffer an idle connection
    // keeps (an allocation per large request, none per usual one).
    buf_.reset(new char[kIdleRead]);
    capacity_ = kIdleRead;
    head_ = tail_ = 0;
  }
  if (tail_ + n > capacity_) {
    if (unread + n <= capacity_) {
      std::memmove(buf_.get(), buf_.get() + head_, unread);  // room at the end after compacting
    } else {
      const std::size_t grown = std::min(max_, std::max(unread + n, 2 * capacity_));
      std::unique_ptr<char[]> bigger(new char[grown]);  // a large request: grows once or twice
      if (unread) std::memcpy(bigger.get(), buf_.get() + head_, unread);
      buf_ = std::move(bigger);
      capacity_ = grown;
    }
    head_ = 0;
    tail_ = unread;
  }
  reading_ = true;
  return {buf_.get() + tail_, n};
}

}  // namespace infergate::proxy
