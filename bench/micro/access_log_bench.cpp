// Microbenchmark of the access log: ns per submit() (the only cost a worker pays), ns per line
// formatted (JSON and text; the writer thread's cost), and records per second through the
// whole writer into /dev/null.
// Usage: access_log_bench [repeats]     (bounded: a fixed number of iterations per repeat)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "telemetry/access_log.hpp"
#include "telemetry/access_log_format.hpp"

namespace {

using namespace infergate;
using namespace infergate::telemetry;
using Clock = std::chrono::steady_clock;

template <typename F>
double best_ns(int repeats, int iterations, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) f();
    const std::chrono::duration<double, std::nano> elapsed = Clock::now() - start;
    best = std::min(best, elapsed.count() / iterations);
  }
  return best;
}

RequestRecord typical() {
  RequestRecord r;
  r.start_unix_us = 1796644800123456;
  r.first_byte_us = 1200, r.end_us = 40100, r.queue_start_us = 10, r.queue_end_us = 20;
  r.request_id.assign("9f2c0000000000000000000000000001");
  r.trace.trace_id[3] = 7;
  std::copy_n("POST", 4, r.method.begin());
  r.path.assign("/v1/chat/completions");
  r.client.assign("10.0.0.7");
  r.team.assign("research");
  r.key.assign("alice-laptop");
  r.model.assign("Qwen/Qwen3-0.6B");
  r.model_forwarded.assign("Qwen/Qwen3-0.6B");
  r.pool.assign("qwen");
  r.endpoint.assign("127.0.0.1:8001");
  r.status = 200, r.bytes_in = 812, r.bytes_out = 20480, r.input_tokens = 120, r.output_tokens = 300;
  r.stream = true;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const RequestRecord record = typical();
  std::string out;
  out.reserve(1 << 20);
  for (const auto format : {AccessLogConfig::Format::json, AccessLogConfig::Format::text}) {
    const LineFormatter formatter(format, {});
    const double ns = best_ns(repeats, 200000, [&] {
      if (out.size() > (1 << 19)) out.clear();
      formatter.append(out, record);
    });
    std::printf("format %-4s %7.1f ns/line\n", format == AccessLogConfig::Format::json ? "json" : "text", ns);
  }
  AccessLogConfig config;
  config.path = "/dev/null";
  // A worker's cost: submit() into a ring with room (the writer idle, so drops don't flatter it).
  constexpr int kRoom = 16384;
  config.buffer = kRoom;
  double submit_ns = 1e300;
  for (int r = 0; r < repeats; ++r) {
    AccessLog log(config, 1);
    const auto start = Clock::now();
    for (int i = 0; i < kRoom; ++i) log.submit(0, record);
    const std::chrono::duration<double, std::nano> elapsed = Clock::now() - start;
    submit_ns = std::min(submit_ns, elapsed.count() / kRoom);
  }
  std::printf("submit      %7.1f ns/record (%zu-byte record)\n", submit_ns, sizeof(RequestRecord));
  // The writer's throughput: one worker submitting as fast as it can, the writer draining.
  config.buffer = 1 << 16;
  AccessLog log(config, 1);
  log.start();
  std::uint64_t dropped = 0;
  constexpr int kRecords = 2'000'000;
  const auto start = Clock::now();
  for (int i = 0; i < kRecords; ++i) dropped += !log.submit(0, record);
  log.stop();
  const std::chrono::duration<double> elapsed = Clock::now() - start;
  std::printf("writer      %7.0f lines/s (%llu of %d dropped: the ring was full)\n",
              (kRecords - static_cast<double>(dropped)) / elapsed.count(),
              static_cast<unsigned long long>(dropped), kRecords);
  return 0;
}
