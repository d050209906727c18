// The floor of the metrics scraper's cost (bench/scraper.md, "Round 3"): only what scraping N
// endpoints every INTERVAL needs at the least, with nothing of the gateway around it. One
// keep-alive TCP connection per endpoint; on each tick of one periodic timerfd the same GET goes
// out on every connection; epoll (level-triggered, each socket registered once) says which
// answered; one recv per readiness; no parsing: a response is complete when its byte count,
// learnt from the first (blocking) exchange at start, has arrived. bench/scraper_cpu.py --floor
// measures its CPU exactly as the gateway's.
//
// Usage: scraper_floor [--speculative-read] [--no-quickack] INTERVAL_MS SECONDS PORT...
// (127.0.0.1). Prints "connected N" once every connection made its first exchange, then runs
// SECONDS and prints its counts to stderr. The options are experiments, off in the floor:
// --speculative-read adds, after each send, the recv that Asio's reactor tries at once (it fails
// with EAGAIN: the answer is not there yet); --no-quickack clears TCP_QUICKACK before each recv.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "scraper_floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Connection {
  int fd = -1;
  std::string request;
  std::size_t response_size = 0;  // bytes of one whole response (head + body)
  std::size_t received = 0;       // of the response in flight
  bool waiting = false;
};

// The first exchange, blocking: the only place that reads an HTTP head (for Content-Length).
std::size_t first_exchange(int fd, const std::string& request) {
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) die("send");
  std::string got;
  char buf[65536];
  std::size_t total = std::string::npos;
  while (total == std::string::npos || got.size() < total) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) die("first recv");
    got.append(buf, static_cast<std::size_t>(n));
    const auto head_end = got.find("\r\n\r\n");
    if (total != std::string::npos || head_end == std::string::npos) continue;
    std::string head = got.substr(0, head_end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto at = head.find("content-length:");
    if (at == std::string::npos) {
      std::fprintf(stderr, "scraper_floor: no content-length\n");
      std::exit(1);
    }
    total = head_end + 4 + std::strtoul(head.c_str() + at + 15, nullptr, 10);
  }
  return total;
}

}  // namespace

static char buf[256 * 1024];

int main(int argc, char** argv) {
  bool speculative_read = false, no_quickack = false;
  int arg = 1;
  for (; arg < argc && std::strncmp(argv[arg], "--", 2) == 0; ++arg) {
    if (std::strcmp(argv[arg], "--speculative-read") == 0) speculative_read = true;
    else if (std::strcmp(argv[arg], "--no-quickack") == 0) no_quickack = true;
    else break;
  }
  if (argc - arg < 3) {
    std::fprintf(stderr, "usage: %s [--speculative-read] [--no-quickack] INTERVAL_MS SECONDS PORT...\n", argv[0]);
    return 2;
  }
  const long interval_ms = std::atol(argv[arg]);
  const long seconds = std::atol(argv[arg + 1]);
  const int first_port = arg + 2;
  // The gateway's scraper thread runs as SCHED_BATCH (src/proxy/metrics_scraper.cpp): same here.
  sched_param param{};
  sched_setscheduler(0, SCHED_BATCH, &param);

  std::vector<Connection> conns(static_cast<std::size_t>(argc - first_port));
  const int epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  for (std::size_t i = 0; i < conns.size(); ++i) {
    const int port = std::atoi(argv[static_cast<std::size_t>(first_port) + i]);
    Connection& c = conns[i];
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c.fd < 0) die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The gateway's request, byte for byte (host: the endpoint's name).
    c.request = "GET /metrics HTTP/1.1\r\nhost: 127.0.0.1:" + std::to_string(port) +
                "\r\naccept: text/plain\r\nuser-agent: infergate-scraper\r\n\r\n";
    c.response_size = first_exchange(c.fd, c.request);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c.fd, &ev) != 0) die("epoll_ctl");
  }

  const int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
  if (tfd < 0) die("timerfd_create");
  itimerspec spec{};
  spec.it_interval.tv_sec = interval_ms / 1000;
  spec.it_interval.tv_nsec = (interval_ms % 1000) * 1'000'000;
  spec.it_value = spec.it_interval;
  if (timerfd_settime(tfd, 0, &spec, nullptr) != 0) die("timerfd_settime");
  epoll_event tev{};
  tev.events = EPOLLIN;
  tev.data.u64 = conns.size();
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev) != 0) die("epoll_ctl timer");

  std::printf("connected %zu\n", conns.size());
  std::fflush(stdout);

  const long ticks_to_run = seconds * 1000 / interval_ms;
  long ticks = 0, sent = 0, completed = 0, reads = 0, overruns = 0, speculative = 0;
  std::vector<epoll_event> events(conns.size() + 1);
  while (ticks < ticks_to_run) {
    const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < n; ++e) {
      const std::size_t i = events[static_cast<std::size_t>(e)].data.u64;
      if (i == conns.size()) {
        std::uint64_t expirations = 0;
        if (read(tfd, &expirations, sizeof expirations) != sizeof expirations) die("read timerfd");
        ++ticks;
        for (Connection& c : conns) {
          if (c.waiting) {  // never skipped silently: counted
            ++overruns;
            continue;
          }
          if (send(c.fd, c.request.data(), c.request.size(), MSG_NOSIGNAL) !=
              static_cast<ssize_t>(c.request.size())) {
            die("send");
          }
          c.waiting = true;
          ++sent;
          if (speculative_read) {
            const ssize_t early = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
            ++speculative;
            if (early > 0) c.received += static_cast<std::size_t>(early);  // rare: counted as data
            if (c.received >= c.response_size) {
              c.received -= c.response_size;
              c.waiting = false;
              ++completed;
            }
          }
        }
        continue;
      }
      Connection& c = conns[i];
      if (no_quickack) {
        const int zero = 0;
        setsockopt(c.fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof zero);
      }
      const ssize_t got = recv(c.fd, buf, sizeof buf, 0);
      ++reads;
      if (got <= 0) die("recv (connection closed or failed)");
      c.received += static_cast<std::size_t>(got);
      if (c.received >= c.response_size) {
        c.received -= c.response_size;  // a page whose size changed shows as overruns
        c.waiting = false;
        ++completed;
      }
    }
  }
  std::fprintf(stderr, "scraper_floor: ticks=%ld sent=%ld completed=%ld reads=%ld speculative_reads=%ld overruns=%ld\n",
               ticks, sent, completed, reads, speculative, overruns);
  return 0;
}
