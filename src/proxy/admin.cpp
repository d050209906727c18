// The admin listener. Not on the data path: simple, one coroutine per connection.
#include "proxy/admin.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/status.hpp>

#include "proxy/http_parse.hpp"
#include "proxy/log_level.hpp"
#include "proxy/status_page.hpp"

namespace infergate::proxy {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kHtml = "text/html; charset=utf-8";

}  // namespace

AdminServer::AdminServer(net::io_context& io, Metrics& metrics, SnapshotHolder& snapshots,
                         const std::atomic<bool>& ready)
    : io_(io), metrics_(metrics), snapshots_(snapshots), ready_(ready) {}

tcp::endpoint AdminServer::listen(const tcp::endpoint& address) {
  acceptor_.emplace(io_);
  acceptor_->open(address.protocol());
  acceptor_->set_option(net::socket_base::reuse_address(true));
  acceptor_->bind(address);
  acceptor_->listen();
  return acceptor_->local_endpoint();
}

void AdminServer::start() { net::co_spawn(io_, accept_loop(), net::detached); }

void AdminServer::add_page(std::string path, std::function<std::string()> render) {
  pages_.insert_or_assign(std::move(path), std::move(render));
}

void AdminServer::add_readiness_gate(std::string what, std::function<bool()> ok) {
  gates_.emplace_back(std::move(what), std::move(ok));
}

void AdminServer::stop() {
  boost::system::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
}

net::awaitable<void> AdminServer::accept_loop() {
  while (acceptor_->is_open()) {
    auto accept = acceptor_->async_accept(kTuple);
    auto [ec, socket] = co_await std::move(accept);
    if (ec) {
      if (!acceptor_->is_open()) co_return;
      continue;
    }
    net::co_spawn(io_, serve(std::move(socket)), net::detached);
  }
}

void AdminServer::answer(std::string_view path, bool get, unsigned& status, std::string& body,
                         std::string_view& content_type) {
  content_type = kText;
  if (!get) {
    status = 405;
    body = "method not allowed\n";
  } else if (path == "/healthz") {
    status = 200;
    body = "ok\n";
  } else if (path == "/readyz") {
    const bool ready = ready_.load(std::memory_order_acquire);
    status = ready ? 200 : 503;
    body = ready ? "ready\n" : "draining\n";
    for (const auto& [what, ok] : gates_) {
      if (!ready || ok()) continue;
      status = 503;
      body = "waiting: " + what + "\n";
      break;
    }
  } else if (path == "/metrics") {
    status = 200;
    const SnapshotPtr snapshot = snapshots_.load();
    body = metrics_.render(snapshot.get());
    content_type = "text/plain; version=0.0.4; charset=utf-8";
  } else if (path == "/") {
    status = 200;
    body = kStatusPage;
    content_type = kHtml;
  } else if (path == "/debug/endpoints") {
    status = 200;
    const SnapshotPtr snapshot = snapshots_.load();
    body = render_endpoints_json(*snapshot, std::chrono::steady_clock::now());
    content_type = kJson;
  } else if (path == "/debug/models") {
    status = 200;
    body = render_models_json(*snapshots_.load());
    content_type = kJson;
  } else if (const auto page = pages_.find(path); page != pages_.end()) {
    status = 200;
    body = page->second();
    content_type = kJson;
  } else {
    status = 404;
    body = "not found\n";
  }
}

net::awaitable<void> AdminServer::serve(tcp::socket socket) {
  boost::beast::flat_buffer in(64 * 1024);
  std::string body, target, head, answer_body;
  FieldList fields;
  for (;;) {
    RequestParser parser(body, fields, target);
    parser.eager(true);
    for (;;) {
      boost::system::error_code ec = http::error::need_more;
      if (in.size() != 0) {
        const auto data = in.data();
        in.consume(parser.feed(static_cast<const char*>(data.data()), data.size(), ec));
      }
      if (parser.is_done()) break;
      if (ec && ec != http::error::need_more) co_return;
      if (!ec) continue;
      const std::size_t room = std::min<std::size_t>(16 * 1024, in.max_size() - in.size());
      if (room == 0) co_return;
      auto read = socket.async_read_some(in.prepare(room), kTuple);
      auto [rec, n] = co_await std::move(read);
      if (rec) co_return;
      in.commit(n);
    }
    const std::string_view path = std::string_view(target).substr(0, target.find('?'));
    unsigned status = 500;
    std::string_view content_type;
    if (path == "/debug/log-level") {
      const auto query = std::string_view(target).substr(std::min(target.size(), path.size() + 1));
      const http::verb method = parser.method();
      answer_log_level(method == http::verb::get,
                       method == http::verb::put || method == http::verb::post, query, status,
                       answer_body);
      content_type = kJson;
    } else {
      answer(path, parser.method() == http::verb::get, status, answer_body, content_type);
    }
    const bool keep = parser.keep_alive();
    head = "HTTP/1.1 " + std::to_string(status) + " ";
    head += http::obsolete_reason(http::int_to_status(status));
    head += "\r\ncontent-type: ";
    head += content_type;
    head += "\r\ncontent-length: " + std::to_string(answer_body.size()) + "\r\n";
    // Live numbers: never from a cache. The page may run only its own (hashed) style and script.
    head += "cache-control: no-store\r\n";
    if (content_type == kHtml) {
      head += "content-security-policy: ";
      head += kStatusPageCsp;
      head += "\r\nx-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n";
    }
    if (!keep) head += "connection: close\r\n";
    head += "\r\n";
    const std::array<net::const_buffer, 2> buffers{net::buffer(head), net::buffer(answer_body)};
    auto write = net::async_write(socket, buffers, kTuple);
    auto [wec, wn] = co_await std::move(write);
    if (wec || !keep) co_return;
  }
}

}  // namespace infergate::proxy
