#include "sim/server.hpp"

#include <csignal>
#include <cstdio>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "sim/instance.hpp"
#include "sim/session.hpp"

namespace infergate::sim {
namespace {

using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> accept_loop(Instance& in, tcp::acceptor& acceptor) {
  for (;;) {
    auto accept = acceptor.async_accept(kTuple);
    auto [ec, sock] = co_await std::move(accept);
    if (ec) {
      // Out of descriptors or a transient error: back off a little instead of spinning.
      spdlog::get("sim")->warn("accept failed port={} error={}", in.port, ec.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(10));
      auto wait = pause.async_wait(kTuple);
      co_await std::move(wait);
      continue;
    }
    boost::system::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(acceptor.get_executor(), run_session(in, std::move(sock)), asio::detached);
  }
}

std::string format_endpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

}  // namespace

int run_server(const SimOptions& opts) {
  auto log = spdlog::get("sim");
  asio::io_context ioc(1);
  const auto address = asio::ip::make_address(opts.host);
  // Installed before any ready line is printed, so that a signal sent as soon as the line is
  // read still exits 0. Exit at once: open streams simply end, as when a real server is killed.
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([log](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log->info("signal={} exiting", sig);
    log->flush();
    std::fflush(stdout);
    std::_Exit(0);
  });
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::unique_ptr<Instance>> instances;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  for (std::size_t i = 0; i < opts.ports.size(); ++i) {
    auto in = std::make_unique<Instance>(opts, i, ioc.get_executor());
    auto acc = std::make_unique<tcp::acceptor>(ioc);
    const tcp::endpoint ep(address, opts.ports[i]);
    acc->open(ep.protocol());
    acc->set_option(asio::socket_base::reuse_address(true));
    acc->bind(ep);
    acc->listen(asio::socket_base::max_listen_connections);
    const auto bound = acc->local_endpoint();
    in->set_port(bound.port());
    std::printf("listening %s\n", format_endpoint(bound).c_str());
    std::fflush(stdout);
    log->info("instance={} pod={} listen={} model={} fast={} loras={}", i, in->pod, format_endpoint(bound),
              opts.model, opts.fast, opts.lora_modules.size());
    if (!opts.fast) asio::co_spawn(ioc, in->drive(), asio::detached);
    asio::co_spawn(ioc, accept_loop(*in, *acc), asio::detached);
    instances.push_back(std::move(in));
    acceptors.push_back(std::move(acc));
  }

  ioc.run();
  return 0;
}

}  // namespace infergate::sim
