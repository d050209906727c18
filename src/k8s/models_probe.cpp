// GET /v1/models with Beast (kept in this file: Beast headers are slow to compile).
#include "k8s/models_probe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace infergate::k8s {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kBodyLimit = 1u << 20;

}  // namespace

net::awaitable<std::optional<std::vector<ReportedModel>>> probe_models(HostPort endpoint,
                                                                      std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(endpoint.host, ec);
  if (ec) co_return std::nullopt;  // pod IPs only: no name to resolve
  beast::tcp_stream stream(co_await net::this_coro::executor);
  stream.expires_after(timeout);  // one deadline for the whole exchange
  auto [connect_ec] = co_await stream.async_connect(net::ip::tcp::endpoint(address, endpoint.port), kTuple);
  if (connect_ec) co_return std::nullopt;
  http::request<http::empty_body> request{http::verb::get, "/v1/models", 11};
  request.set(http::field::host, endpoint.str());
  request.set(http::field::accept, "application/json");
  request.set(http::field::user_agent, "infergate-models-probe");
  auto [write_ec, written] = co_await http::async_write(stream, request, kTuple);
  if (write_ec) co_return std::nullopt;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kTuple);
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  if (read_ec || parser.get().result_int() != 200) co_return std::nullopt;
  auto models = parse_models_list(parser.get().body());
  if (models.empty() && parser.get().body().find("\"data\"") == std::string::npos) co_return std::nullopt;
  co_return models;
}

}  // namespace infergate::k8s
