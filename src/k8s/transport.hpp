// HTTP(S) to the API server: one connection per request (lists are rare; each watch holds its
// own), TLS verified against the cluster CA and the server's name or IP, the bearer token read
// fresh for each request and re-read once after a 401. Beast stays in transport.cpp.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "infergate/k8s/client.hpp"
#include "k8s/bearer_token.hpp"

namespace infergate::k8s::detail {

struct HttpReply {
  int status = 0;         // 0: no HTTP response (resolve, connect, TLS, write or read failed)
  std::string body;       // the whole body (request), or the error body of a stream that got no 200
  std::string error;      // what failed, for logs (transport failures and broken streams)
  bool complete = false;  // stream(): the 200 response ended cleanly (the server closed the watch)
};

class Transport {
 public:
  // Parses the server URL and loads the TLS material once to report problems early.
  // Throws AccessError.
  explicit Transport(ClusterAccess access);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // `target` is the path and query ("/api/v1/pods?limit=500"); the server URL's own path, if
  // any, is put in front. Reads the whole response, at most `timeout` for each step.
  boost::asio::awaitable<HttpReply> request(std::string method, std::string target,
                                            std::string body, std::string content_type,
                                            std::chrono::milliseconds timeout);

  // A GET whose 200 body is handed to `on_data` piece by piece as it arrives (on_data returns
  // false to stop reading). Connecting and sending take at most `connect_timeout`, each read at
  // most `idle_timeout`, the whole exchange at most `total_timeout`. Any other status: the body
  // is collected in the reply and on_data not called.
  boost::asio::awaitable<HttpReply> stream(std::string target,
                                           std::function<bool(std::string_view)> on_data,
                                           std::chrono::milliseconds connect_timeout,
                                           std::chrono::milliseconds idle_timeout,
                                           std::chrono::milliseconds total_timeout);

  const ClusterAccess& access() const;
  BearerToken& token();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace infergate::k8s::detail
