// TLS on the client listener: the process's one ssl::context and the stream a TLS session uses.
// Only the .cpp files that touch TLS include this (asio's ssl headers are heavy).
#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "infergate/config.hpp"

namespace infergate::proxy {

// TLS 1.2+, ALPN http/1.1. Throws std::runtime_error when the cert or key does not load.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsConfig& config);

// Wraps the session's own socket (by reference): cancel/close on the socket still work. Keeps
// its context alive: a reload (SIGHUP) swaps the workers' context under open connections.
struct TlsStream {
  TlsStream(boost::asio::ip::tcp::socket& socket, std::shared_ptr<boost::asio::ssl::context> ctx)
      : context(std::move(ctx)), stream(socket, *context) {}
  std::shared_ptr<boost::asio::ssl::context> context;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket&> stream;
};

}  // namespace infergate::proxy
