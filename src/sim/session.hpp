// One client connection of a simulated server (Beast inside session.cpp only).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "sim/instance.hpp"

namespace infergate::sim {

// Serves HTTP/1.1 requests on `socket` (keep-alive, pipelining) until the peer leaves.
boost::asio::awaitable<void> run_session(Instance& instance, boost::asio::ip::tcp::socket socket);

}  // namespace infergate::sim
