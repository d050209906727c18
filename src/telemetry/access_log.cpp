// AccessLog: the per-worker rings, the sampling in submit(), and the writer thread's loop
// (drain every ring, format, one write per batch, watch the file for rotation).
#include "telemetry/access_log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "telemetry/background_thread.hpp"

namespace infergate::telemetry {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kPerRound = 512;             // records taken from one ring before the next
constexpr std::size_t kFlushBytes = 256 << 10;     // a buffer this full is written mid-round
constexpr auto kIdleWait = std::chrono::milliseconds(10);  // workers never wake the writer
constexpr auto kCheckEvery = std::chrono::seconds(1);     // stat(2) for a rotation
constexpr auto kErrorLogEvery = std::chrono::seconds(10);

spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = spdlog::default_logger()->clone("access_log");
  return *logger;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// xorshift64*: a few cycles, good enough to pick which successes to log.
std::uint64_t next_random(std::uint64_t& state) noexcept {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

}  // namespace

struct alignas(64) AccessLog::Lane {
  Lane(std::size_t capacity, std::uint64_t seed) : ring(capacity), rng(seed | 1) {}
  RecordRing ring;
  std::uint64_t rng;  // the worker's own: no shared state on the request path
  // Written by the worker alone (load + store, no locked add), read by collect().
  std::atomic<std::uint64_t> dropped{0};
};

AccessLog::AccessLog(const AccessLogConfig& config, unsigned workers)
    : formatter_(config.format, config.fields),
      file_(config.path),
      keep_all_(config.sample_ratio >= 1.0),
      keep_below_(config.sample_ratio <= 0.0 || keep_all_
                      ? 0
                      : static_cast<std::uint64_t>(config.sample_ratio * 18446744073709551616.0)) {
  // Fixed seeds: runs are reproducible, and which successes are kept does not matter.
  for (unsigned w = 0; w < std::max(workers, 1u); ++w) {
    lanes_.push_back(std::make_unique<Lane>(std::max<std::size_t>(config.buffer, 1), splitmix64(w)));
  }
  buffer_.reserve(kFlushBytes + (4 << 10));
}

AccessLog::~AccessLog() { stop(); }

bool AccessLog::submit(unsigned worker, const RequestRecord& record) noexcept {
  if (worker >= lanes_.size()) return false;
  Lane& lane = *lanes_[worker];
  if (!keep_all_ && !record.failed() && next_random(lane.rng) >= keep_below_) return false;
  if (lane.ring.push(record)) return true;
  lane.dropped.store(lane.dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return false;
}

void AccessLog::start() {
  if (writer_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  writer_ = std::thread([this] {
    lower_this_thread_priority();
    run();
  });
}

void AccessLog::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) {
    writer_.join();
    return;
  }
  // Never started: this thread is the only consumer, so it may drain in the writer's place.
  while (drain_round() > 0) write_buffer();
  write_buffer();
}

std::uint64_t AccessLog::dropped_buffer_full() const noexcept {
  std::uint64_t sum = 0;
  for (const auto& lane : lanes_) sum += lane->dropped.load(std::memory_order_relaxed);
  return sum;
}

void AccessLog::reopen() noexcept { reopen_requested_.store(true, std::memory_order_relaxed); }

void AccessLog::run() {
  next_check_ = Clock::now() + kCheckEvery;
  for (;;) {
    check_file(Clock::now());
    const std::size_t taken = drain_round();
    write_buffer();
    // Again at once only when a ring had more than a round waiting; otherwise sleep, so that a
    // steady trickle is written in batches of a few milliseconds, not a write(2) per request.
    if (taken >= kPerRound) continue;
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, kIdleWait, [this] { return stopping_; })) break;
  }
  // Stopping: what the workers queued before stop() goes out. Bounded: the rings hold at most
  // their capacity, and a worker still submitting cannot keep the writer here for ever.
  std::size_t capacity = 0;
  for (const auto& lane : lanes_) capacity += lane->ring.capacity();
  for (std::size_t round = 0; round <= capacity / kPerRound + 1 && drain_round() > 0; ++round) {
    write_buffer();
  }
  write_buffer();
}

std::size_t AccessLog::drain_round() {
  std::size_t taken = 0;
  for (const auto& lane : lanes_) {
    // Formatted straight from the ring's slot: the record is never copied out.
    const std::size_t n =
        lane->ring.pop([this](const RequestRecord& r) { formatter_.append(buffer_, r); }, kPerRound);
    buffered_ += n;
    taken += n;
    if (buffer_.size() >= kFlushBytes) write_buffer();
  }
  return taken;
}

void AccessLog::write_buffer() {
  if (buffer_.empty()) return;
  if (file_.write_all(buffer_)) {
    records_.fetch_add(buffered_, std::memory_order_relaxed);
  } else {
    const int error = errno;
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    lost_.fetch_add(buffered_, std::memory_order_relaxed);
    if (const auto now = Clock::now(); now >= next_error_log_) {
      next_error_log_ = now + kErrorLogEvery;
      log().warn("write failed path={} error=\"{}\" lost_records={}", file_.path(),
                 std::strerror(error), buffered_);
    }
  }
  buffer_.clear();
  buffered_ = 0;
}

void AccessLog::check_file(Clock::time_point now) {
  bool reopen = reopen_requested_.exchange(false, std::memory_order_relaxed);
  if (now >= next_check_) {
    next_check_ = now + kCheckEvery;
    reopen = reopen || file_.moved();
  }
  if (!reopen || file_.is_stdout()) return;
  write_buffer();  // what was formatted before the reopen belongs to the old file
  if (file_.reopen()) {
    reopens_.fetch_add(1, std::memory_order_relaxed);
    log().info("reopened path={}", file_.path());
  } else {
    const int error = errno;
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    log().warn("reopen failed path={} error=\"{}\" (still writing to the old file)", file_.path(),
               std::strerror(error));
  }
}

}  // namespace infergate::telemetry
