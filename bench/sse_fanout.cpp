// Many concurrent SSE streams from one process, and how late each event arrives (bench/sse_bench.py
// drives it). Plain sockets and epoll, one thread, no dependency: the client must cost less than
// what it measures.
//
// usage: sse_fanout HOST PORT STREAMS TOKENS ITL_MS MODEL SECONDS_CAP
// Opens STREAMS connections at once, each POSTing one streamed chat completion of TOKENS tokens,
// and records each `data:` event's arrival. An event's lateness is its arrival minus where the
// stream's own best schedule puts it: event k at T + k * ITL_MS, with T the earliest start that
// schedule allows (so the stream's most punctual event has lateness 0, and a stream the server
// paces perfectly has 0 throughout, whatever its time to first token). Prints one
// line: RESULT {json} with streams done, events, lateness and gap percentiles (microseconds).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Stream {
  int fd = -1;
  std::string out;       // request bytes not yet written
  std::string carry;     // the tail of the last read: a part of an event
  bool head_seen = false;
  bool done = false;     // `data: [DONE]` arrived
  bool failed = false;
  int events = 0;
  Clock::time_point last{};
  std::vector<std::int64_t> offsets;  // event k's arrival - k * ITL, microseconds since the start
};

std::int64_t micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

std::int64_t percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: sse_fanout HOST PORT STREAMS TOKENS ITL_MS MODEL SECONDS_CAP\n");
    return 2;
  }
  const char* host = argv[1];
  const int port = std::atoi(argv[2]);
  const int n = std::clamp(std::atoi(argv[3]), 1, 20000);
  const int tokens = std::clamp(std::atoi(argv[4]), 1, 100000);
  const auto itl = std::chrono::microseconds(std::atoi(argv[5]) * 1000);
  const std::string model = argv[6];
  const auto cap = std::chrono::seconds(std::clamp(std::atoi(argv[7]), 1, 600));

  const std::string body = "{\"model\":\"" + model + "\",\"stream\":true,\"max_tokens\":" +
                           std::to_string(tokens) +
                           ",\"messages\":[{\"role\":\"user\",\"content\":\"many streams\"}]}";
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\n"
                              "content-type: application/json\r\nconnection: close\r\n"
                              "content-length: " + std::to_string(body.size()) + "\r\n\r\n" + body;

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    std::fprintf(stderr, "sse_fanout: bad host %s\n", host);
    return 2;
  }
  const int ep = epoll_create1(0);
  std::vector<Stream> streams(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    Stream& s = streams[static_cast<std::size_t>(i)];
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const int one = 1;
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
      s.failed = true;
      continue;
    }
    s.out = request;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
  }

  std::vector<std::int64_t> lateness, gaps;
  lateness.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(tokens));
  gaps.reserve(lateness.capacity());
  const auto start = Clock::now();
  int open = n;
  for (const Stream& s : streams) open -= s.failed;
  std::vector<epoll_event> events(1024);
  char buf[65536];
  while (open > 0 && Clock::now() - start < cap) {
    const int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    const auto now = Clock::now();
    for (int e = 0; e < k; ++e) {
      Stream& s = streams[events[static_cast<std::size_t>(e)].data.u32];
      if (s.done || s.failed) continue;
      if (!s.out.empty() && (events[static_cast<std::size_t>(e)].events & EPOLLOUT)) {
        const ssize_t w = send(s.fd, s.out.data(), s.out.size(), MSG_NOSIGNAL);
        if (w > 0) s.out.erase(0, static_cast<std::size_t>(w));
        if (s.out.empty()) {
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLRDHUP;
          ev.data = events[static_cast<std::size_t>(e)].data;
          epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
        }
      }
      for (;;) {
        const ssize_t r = recv(s.fd, buf, sizeof buf, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (r <= 0) {
          s.failed = !s.done;
          break;
        }
        s.carry.append(buf, static_cast<std::size_t>(r));
        std::size_t pos = 0;
        if (!s.head_seen) {
          const auto end = s.carry.find("\r\n\r\n");
          if (end == std::string::npos) continue;
          if (s.carry.compare(0, 12, "HTTP/1.1 200") != 0) {
            s.failed = true;
            break;
          }
          s.head_seen = true;
          pos = end + 4;
        }
        // Each "data: " line is one event; chunk-size lines between them are skipped.
        for (;;) {
          const auto at = s.carry.find("data: ", pos);
          if (at == std::string::npos) break;
          const auto eol = s.carry.find('\n', at);
          if (eol == std::string::npos) {
            pos = at;
            break;
          }
          const std::string_view line(s.carry.data() + at + 6, eol - at - 6);
          pos = eol + 1;
          if (line.rfind("[DONE]", 0) == 0) {
            s.done = true;
            break;
          }
          // Token events only: not the role chunk, the finish chunk or usage (no or empty content).
          const auto content = line.find("\"content\":\"");
          if (content == std::string_view::npos || line.substr(content + 11, 1) == "\"") continue;
          if (s.events > 0) gaps.push_back(micros(now - s.last));
          s.offsets.push_back(micros(now - start - s.events * itl));
          s.last = now;
          ++s.events;
        }
        s.carry.erase(0, std::min(pos, s.carry.size()));
        if (s.done) break;
      }
      if (s.done || s.failed) {
        close(s.fd);
        --open;
      }
    }
  }
  int done = 0, failed = 0;
  long long total_events = 0;
  for (const Stream& s : streams) {
    if (!s.offsets.empty()) {
      const std::int64_t best = *std::min_element(s.offsets.begin(), s.offsets.end());
      for (const std::int64_t o : s.offsets) lateness.push_back(o - best);
    }
    done += s.done;
    failed += !s.done;
    total_events += s.events;
  }
  const auto wall = micros(Clock::now() - start);
  std::printf(
      "RESULT {\"streams\":%d,\"done\":%d,\"failed\":%d,\"events\":%lld,\"wall_us\":%lld,"
      "\"late_p50_us\":%lld,\"late_p99_us\":%lld,\"late_max_us\":%lld,"
      "\"gap_p50_us\":%lld,\"gap_p99_us\":%lld}\n",
      n, done, failed, total_events, static_cast<long long>(wall),
      static_cast<long long>(percentile(lateness, 50)), static_cast<long long>(percentile(lateness, 99)),
      static_cast<long long>(lateness.empty() ? 0 : *std::max_element(lateness.begin(), lateness.end())),
      static_cast<long long>(percentile(gaps, 50)), static_cast<long long>(percentile(gaps, 99)));
  return failed == 0 ? 0 : 1;
}
