// The only file of src/k8s that includes Beast: connect (plain or TLS), send one request, read the
// response whole or as a stream.
#include "k8s/transport.hpp"

#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "k8s/log.hpp"

namespace infergate::k8s::detail {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::uint64_t kListBodyLimit = 512ull * 1024 * 1024;  // a list page of big objects
constexpr std::size_t kErrorBodyLimit = 1024 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;

struct ServerUrl {
  bool tls = true;
  std::string host;    // without brackets
  std::string port;
  std::string prefix;  // path in front of every target ("" or "/something")
};

ServerUrl parse_server(const std::string& server) {
  ServerUrl url;
  std::string_view rest = server;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    url.tls = false;
    rest.remove_prefix(7);
  } else {
    throw AccessError("server URL must start with https:// or http://: '" + server + "'");
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) url.prefix = std::string(rest.substr(slash));
  while (!url.prefix.empty() && url.prefix.back() == '/') url.prefix.pop_back();
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) throw AccessError("bad server URL '" + server + "'");
    url.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(":")) url.port = std::string(authority.substr(1));
  } else {
    auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) url.port = std::string(authority.substr(colon + 1));
  }
  if (url.host.empty()) throw AccessError("server URL without a host: '" + server + "'");
  if (url.port.empty()) url.port = url.tls ? "443" : "80";
  return url;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// TLS settings from the access; files are read now (rotated files are picked up by the next
// connection, which builds its own context).
std::shared_ptr<ssl::context> make_tls_context(const ClusterAccess& access) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  try {
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (access.insecure_skip_tls_verify) {
      ctx->set_verify_mode(ssl::verify_none);
    } else {
      ctx->set_verify_mode(ssl::verify_peer);
      if (!access.ca_pem.empty())
        ctx->add_certificate_authority(net::buffer(access.ca_pem));
      else if (!access.ca_file.empty())
        ctx->load_verify_file(access.ca_file);
      else
        ctx->set_default_verify_paths();
    }
    if (!access.client_cert_pem.empty())
      ctx->use_certificate_chain(net::buffer(access.client_cert_pem));
    else if (!access.client_cert_file.empty())
      ctx->use_certificate_chain_file(access.client_cert_file);
    if (!access.client_key_pem.empty())
      ctx->use_private_key(net::buffer(access.client_key_pem), ssl::context::pem);
    else if (!access.client_key_file.empty())
      ctx->use_private_key_file(access.client_key_file, ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    throw AccessError(std::string("TLS material for ") + access.server + ": " + e.what());
  }
  return ctx;
}

// One connection: a plain or a TLS stream over a tcp_stream (whose deadlines bound every step).
struct Connection {
  std::shared_ptr<ssl::context> ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  void close() {
    error_code ignored;
    lowest().socket().close(ignored);
  }
};

std::string describe(const std::string& step, const error_code& ec) {
  return step + ": " + ec.message();
}

template <class Stream>
net::awaitable<std::string> send(Stream& stream, const http::request<http::string_body>& req) {
  auto [ec, n] = co_await http::async_write(stream, req, kTuple);
  co_return ec ? describe("write", ec) : std::string();
}

template <class Stream>
net::awaitable<HttpReply> read_whole(Stream& stream, beast::flat_buffer& buffer,
                                     std::uint64_t limit) {
  HttpReply reply;
  http::response_parser<http::string_body> parser;
  parser.body_limit(limit);
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
  if (ec) {
    reply.error = describe("read", ec);
    co_return reply;
  }
  reply.status = parser.get().result_int();
  reply.body = std::move(parser.get().body());
  co_return reply;
}

// Reads a response through a buffer_body: a 200 goes to on_data, anything else into reply.body.
template <class Stream>
net::awaitable<HttpReply> read_stream(Stream& stream, Connection& conn,
                                      const std::function<bool(std::string_view)>& on_data,
                                      std::chrono::milliseconds idle, Clock::time_point deadline) {
  HttpReply reply;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  auto next_deadline = [&] { return std::min(Clock::now() + idle, deadline); };
  conn.lowest().expires_at(next_deadline());
  auto [hec, hn] = co_await http::async_read_header(stream, conn.buffer, parser, kTuple);
  if (hec) {
    reply.error = describe("read header", hec);
    co_return reply;
  }
  reply.status = parser.get().result_int();
  const bool streaming = reply.status == 200;
  std::string chunk(kReadChunk, '\0');
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    conn.lowest().expires_at(next_deadline());
    auto [ec, n] = co_await http::async_read_some(stream, conn.buffer, parser, kTuple);
    if (ec == http::error::need_buffer) ec = {};
    std::size_t got = chunk.size() - parser.get().body().size;
    if (got > 0) {
      std::string_view data(chunk.data(), got);
      if (streaming) {
        if (!on_data(data)) co_return reply;  // the consumer stopped: not complete, no error
      } else if (reply.body.size() < kErrorBodyLimit) {
        reply.body.append(data.substr(0, kErrorBodyLimit - reply.body.size()));
      }
    }
    if (ec) {
      const char* step = ec == beast::error::timeout ? "read (idle or watch timeout)" : "read";
      reply.error = describe(step, ec);
      co_return reply;
    }
  }
  reply.complete = true;
  co_return reply;
}

}  // namespace

struct Transport::Impl {
  explicit Impl(ClusterAccess a)
      : access(std::move(a)),
        url(parse_server(access.server)),
        token(access.token, access.token_file) {
    if (url.tls) make_tls_context(access);  // report bad material now
    verify_name = access.tls_server_name.empty() ? url.host : access.tls_server_name;
  }

  ClusterAccess access;
  ServerUrl url;
  BearerToken token;
  std::string verify_name;

  // Resolves, connects and handshakes; returns an error text or "".
  net::awaitable<std::string> open(Connection& conn, Clock::time_point deadline) {
    auto executor = co_await net::this_coro::executor;
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, kTuple);
    if (rec) co_return describe("resolve " + url.host, rec);
    beast::tcp_stream tcp_stream(executor);
    tcp_stream.expires_at(deadline);
    auto [cec, endpoint] = co_await tcp_stream.async_connect(endpoints, kTuple);
    if (cec) co_return describe("connect", cec);
    error_code ignored;
    tcp_stream.socket().set_option(net::socket_base::keep_alive(true), ignored);
    tcp_stream.socket().set_option(tcp::no_delay(true), ignored);
    if (!url.tls) {
      conn.plain.emplace(std::move(tcp_stream));
      co_return std::string();
    }
    try {
      conn.ctx = make_tls_context(access);
    } catch (const AccessError& e) {
      co_return std::string(e.what());
    }
    conn.tls.emplace(std::move(tcp_stream), *conn.ctx);
    if (!is_ip_literal(verify_name))  // SNI carries host names only
      SSL_set_tlsext_host_name(conn.tls->native_handle(), verify_name.c_str());
    if (!access.insecure_skip_tls_verify)
      conn.tls->set_verify_callback(ssl::host_name_verification(verify_name));
    auto [tec] = co_await conn.tls->async_handshake(ssl::stream_base::client, kTuple);
    if (tec) co_return describe("TLS handshake", tec);
    co_return std::string();
  }

  http::request<http::string_body> make_request(http::verb verb, const std::string& target,
                                                std::string body, const std::string& type) {
    http::request<http::string_body> req{verb, url.prefix + target, 11};
    req.set(http::field::host, url.host.find(':') != std::string::npos
                                   ? "[" + url.host + "]:" + url.port : url.host + ":" + url.port);
    req.set(http::field::user_agent, "infergate");
    req.set(http::field::accept, "application/json");
    req.set(http::field::connection, "close");
    if (const std::string& bearer = token.current(); !bearer.empty())
      req.set(http::field::authorization, "Bearer " + bearer);
    if (!body.empty() || verb != http::verb::get) {
      if (!type.empty()) req.set(http::field::content_type, type);
      req.body() = std::move(body);
      req.prepare_payload();
    }
    return req;
  }

  // One attempt of a whole request.
  net::awaitable<HttpReply> request_once(http::verb verb, const std::string& target,
                                         const std::string& body, const std::string& type,
                                         std::chrono::milliseconds timeout) {
    Connection conn;
    auto deadline = Clock::now() + timeout;
    HttpReply reply;
    auto opening = open(conn, deadline);
    reply.error = co_await std::move(opening);
    if (!reply.error.empty()) co_return reply;
    auto req = make_request(verb, target, body, type);
    conn.lowest().expires_at(deadline);
    if (conn.tls) {
      reply.error = co_await send(*conn.tls, req);
      if (reply.error.empty()) {
        auto read = read_whole(*conn.tls, conn.buffer, kListBodyLimit);
        reply = co_await std::move(read);
      }
    } else {
      reply.error = co_await send(*conn.plain, req);
      if (reply.error.empty()) {
        auto read = read_whole(*conn.plain, conn.buffer, kListBodyLimit);
        reply = co_await std::move(read);
      }
    }
    conn.close();
    co_return reply;
  }

  net::awaitable<HttpReply> stream_once(const std::string& target,
                                        const std::function<bool(std::string_view)>& on_data,
                                        std::chrono::milliseconds connect,
                                        std::chrono::milliseconds idle,
                                        std::chrono::milliseconds total) {
    Connection conn;
    auto deadline = Clock::now() + total;
    HttpReply reply;
    auto opening = open(conn, std::min(deadline, Clock::now() + connect));
    reply.error = co_await std::move(opening);
    if (!reply.error.empty()) co_return reply;
    auto req = make_request(http::verb::get, target, {}, {});
    conn.lowest().expires_at(std::min(deadline, Clock::now() + connect));
    if (conn.tls) {
      reply.error = co_await send(*conn.tls, req);
      if (reply.error.empty()) {
        auto read = read_stream(*conn.tls, conn, on_data, idle, deadline);
        reply = co_await std::move(read);
      }
    } else {
      reply.error = co_await send(*conn.plain, req);
      if (reply.error.empty()) {
        auto read = read_stream(*conn.plain, conn, on_data, idle, deadline);
        reply = co_await std::move(read);
      }
    }
    conn.close();
    co_return reply;
  }

  // After a 401 with a token file: read the file again and say whether a retry can help.
  bool retry_after_unauthorized(const HttpReply& reply) {
    if (reply.status != 401 || !token.from_file()) return false;
    token.reload();
    return true;  // the file may have rotated without a visible change of identity yet
  }
};

Transport::Transport(ClusterAccess access) : impl_(std::make_unique<Impl>(std::move(access))) {}
Transport::~Transport() = default;

const ClusterAccess& Transport::access() const { return impl_->access; }
BearerToken& Transport::token() { return impl_->token; }

net::awaitable<HttpReply> Transport::request(std::string method, std::string target,
                                             std::string body, std::string content_type,
                                             std::chrono::milliseconds timeout) {
  http::verb verb = http::string_to_verb(method);
  auto first = impl_->request_once(verb, target, body, content_type, timeout);
  HttpReply reply = co_await std::move(first);
  if (impl_->retry_after_unauthorized(reply)) {
    auto again = impl_->request_once(verb, target, body, content_type, timeout);
    reply = co_await std::move(again);
  }
  co_return reply;
}

net::awaitable<HttpReply> Transport::stream(std::string target,
                                            std::function<bool(std::string_view)> on_data,
                                            std::chrono::milliseconds connect_timeout,
                                            std::chrono::milliseconds idle_timeout,
                                            std::chrono::milliseconds total_timeout) {
  auto first = impl_->stream_once(target, on_data, connect_timeout, idle_timeout, total_timeout);
  HttpReply reply = co_await std::move(first);
  if (impl_->retry_after_unauthorized(reply)) {
    auto again =
        impl_->stream_once(target, on_data, connect_timeout, idle_timeout, total_timeout);
    reply = co_await std::move(again);
  }
  co_return reply;
}

}  // namespace infergate::k8s::detail
