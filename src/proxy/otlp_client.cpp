#include "proxy/otlp_client.hpp"

#include <memory>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "routing/config_tracing.hpp"

namespace infergate::proxy {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

class OtlpClient {
 public:
  explicit OtlpClient(const TracingConfig& config)
      : url_(*parse_otlp_url(config.endpoint)), timeout_(config.timeout) {}

  bool send(std::string_view body, std::string_view content_type) {
    bool ok = false;
    io_.restart();
    net::co_spawn(io_, post(body, content_type), [&ok](std::exception_ptr error, bool result) {
      ok = !error && result;
    });
    io_.run();
    return ok;
  }

 private:
  net::awaitable<bool> post(std::string_view body, std::string_view content_type) {
    if (!stream_) {
      stream_.emplace(io_);
      stream_->expires_after(timeout_);
      tcp::resolver resolver(io_);
      auto resolve = resolver.async_resolve(url_.address.host, std::to_string(url_.address.port), kTuple);
      auto [rec, results] = co_await std::move(resolve);
      if (rec) co_return fail();
      auto connect = stream_->async_connect(results, kTuple);
      auto [cec, endpoint] = co_await std::move(connect);
      if (cec) co_return fail();
    }
    stream_->expires_after(timeout_);
    http::request<http::string_body> request{http::verb::post, url_.path, 11};
    request.set(http::field::host, url_.address.host);
    request.set(http::field::content_type, content_type);
    request.body().assign(body);
    request.prepare_payload();
    auto write = http::async_write(*stream_, request, kTuple);
    auto [wec, written] = co_await std::move(write);
    if (wec) co_return fail();
    http::response<http::string_body> response;
    auto read = http::async_read(*stream_, buffer_, response, kTuple);
    auto [ec, n] = co_await std::move(read);
    if (ec) co_return fail();
    if (!response.keep_alive()) stream_.reset();
    co_return response.result_int() / 100 == 2;
  }

  bool fail() {
    stream_.reset();  // closes; the next batch connects again
    buffer_.clear();
    return false;
  }

  using tcp = net::ip::tcp;
  OtlpUrl url_;
  std::chrono::milliseconds timeout_;
  net::io_context io_{1};
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

telemetry::SpanExporter::Send make_otlp_sender(const TracingConfig& config) {
  auto client = std::make_shared<OtlpClient>(config);
  return [client](std::string_view body, std::string_view content_type) {
    return client->send(body, content_type);
  };
}

}  // namespace infergate::proxy
