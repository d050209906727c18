#include "limits/redis_store.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include "limits/log.hpp"
#include "limits/redis_script.hpp"

namespace infergate::limits::detail {

namespace {

using Millis = std::chrono::milliseconds;

constexpr Millis kTick{250};          // housekeeping: expired grants given back, debts recorded
constexpr Millis kPingEvery{1000};    // an idle connection is checked this often
constexpr Millis kBackoffFirst{100};
constexpr Millis kBackoffMax{2000};

timeval to_timeval(Millis ms) {
  const auto us = std::max<std::int64_t>(ms.count(), 1) * 1000;
  return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

struct ReplyDeleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

ReplyPtr command(redisContext* ctx, int argc, const char** argv, const std::size_t* lens) {
  return ReplyPtr(static_cast<redisReply*>(redisCommandArgv(ctx, argc, argv, lens)));
}

// {granted, used, retry ms, second}: anything else is garbage.
std::optional<Reply> parse(const redisReply& r, const RefillArgs& sent) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements != 4) return std::nullopt;
  for (std::size_t i = 0; i < 4; ++i) {
    if (r.element[i]->type != REDIS_REPLY_INTEGER || r.element[i]->integer < 0) return std::nullopt;
  }
  Reply out{static_cast<std::uint64_t>(r.element[0]->integer),
            static_cast<std::uint64_t>(r.element[1]->integer), r.element[2]->integer,
            r.element[3]->integer};
  if (out.grant > sent.want) return std::nullopt;
  return out;
}

// Exponential backoff with jitter: each wait in [step, 2*step), capped; the step doubles.
class Backoff {
 public:
  explicit Backoff(std::uint64_t seed) : rng_(seed) {}
  Millis next() {
    std::uniform_int_distribution<std::int64_t> jitter(0, step_.count());
    const Millis wait = std::min(step_ + Millis{jitter(rng_)}, kBackoffMax);
    step_ = std::min(step_ * 2, kBackoffMax);
    return wait;
  }
  void reset() { step_ = kBackoffFirst; }

 private:
  Millis step_ = kBackoffFirst;
  std::mt19937_64 rng_;
};

}  // namespace

RedisStore::RedisStore(const LimitsConfig& config, Table& table, Stats& stats)
    : config_(config), table_(table), stats_(stats) {
  queue_.reserve(1024);
}

RedisStore::~RedisStore() { stop(); }

void RedisStore::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, config_.redis_timeout * 3 + Millis{100}, [this] { return first_done_; });
}

void RedisStore::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RedisStore::enqueue(const Op& op) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(op);
    wake = sleeping_;
  }
  if (wake) cv_.notify_all();
}

void RedisStore::run() {
  Backoff backoff(static_cast<std::uint64_t>(config_.redis.port) * 2654435761u + config_.redis_db);
  std::vector<Op> batch;
  batch.reserve(1024);
  Clock::time_point next_tick = Clock::now(), next_ping = next_tick + kPingEvery;
  std::int64_t next_sweep_ms = to_ms(next_tick) + kSweepEveryMs;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    if (!ctx_) {
      const bool ok = connect();
      {
        std::lock_guard lock(mu_);
        first_done_ = true;
      }
      cv_.notify_all();
      if (!ok) {
        take(batch, backoff.next());  // waits, unless stopping
        abort_all(batch);
        continue;
      }
      backoff.reset();
      set_up(true, "connected");
    }
    const Clock::time_point before = Clock::now();
    take(batch, next_tick > before ? std::chrono::duration_cast<Millis>(next_tick - before) : Millis{0});
    const Clock::time_point now = Clock::now();
    if (now >= next_tick) {
      housekeeping(batch, now);
      next_tick = now + kTick;
      if (to_ms(now) >= next_sweep_ms) {
        table_.sweep(to_ms(now));
        next_sweep_ms = to_ms(now) + kSweepEveryMs;
      }
    }
    bool ok = true;
    if (!batch.empty()) {
      ok = exchange(batch);
      next_ping = now + kPingEvery;
    } else if (now >= next_ping) {
      ok = ping();
      next_ping = now + kPingEvery;
    }
    if (!ok) {
      bump(stats_.store_errors);
      disconnect();
      set_up(false, last_error_.c_str());
    }
  }
  take(batch, Millis{0});
  abort_all(batch);
  disconnect();
}

void RedisStore::take(std::vector<Op>& out, Millis wait) {
  out.clear();
  std::unique_lock lock(mu_);
  if (queue_.empty() && !stopping_ && wait.count() > 0) {
    sleeping_ = true;
    cv_.wait_for(lock, wait, [this] { return !queue_.empty() || stopping_; });
    sleeping_ = false;
  }
  queue_.swap(out);
}

bool RedisStore::connect() {
  const timeval tv = to_timeval(config_.redis_timeout);
  ctx_ = redisConnectWithTimeout(config_.redis.host.c_str(), config_.redis.port, tv);
  if (ctx_ == nullptr || ctx_->err) {
    last_error_ = ctx_ ? std::string("connect: ") + ctx_->errstr : "connect: out of memory";
    disconnect();
    bump(stats_.store_errors);
    set_up(false, last_error_.c_str());
    return false;
  }
  redisSetTimeout(ctx_, tv);
  redisEnableKeepAlive(ctx_);
  bool ok = true;
  if (config_.redis_db != 0) {
    const std::string db = std::to_string(config_.redis_db);
    std::array<const char*, 2> argv{"SELECT", db.c_str()};
    std::array<std::size_t, 2> lens{6, db.size()};
    ReplyPtr r = command(ctx_, 2, argv.data(), lens.data());
    ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok) last_error_ = "SELECT failed";
  }
  if (ok) {
    std::array<const char*, 3> argv{"SCRIPT", "LOAD", kLeaseScript};
    std::array<std::size_t, 3> lens{6, 4, std::strlen(kLeaseScript)};
    ReplyPtr r = command(ctx_, 3, argv.data(), lens.data());
    ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok) {
      sha_.assign(r->str, r->len);
    } else {
      last_error_ = r && r->type == REDIS_REPLY_ERROR ? std::string("SCRIPT LOAD: ") + r->str
                                                       : "SCRIPT LOAD: no or unexpected reply";
    }
  }
  if (!ok) {
    disconnect();
    bump(stats_.store_errors);
    set_up(false, last_error_.c_str());
  }
  return ok;
}

void RedisStore::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
  sha_.clear();
}

void RedisStore::set_up(bool up, const char* reason) {
  if (ever_changed_ && up == up_.load(std::memory_order_relaxed)) return;
  if (up) epoch_.fetch_add(1, std::memory_order_acq_rel);  // every lease starts afresh
  up_.store(up, std::memory_order_release);
  if (ever_changed_ || !up) bump(stats_.store_state_changes);
  ever_changed_ = true;
  if (up) {
    log().info("store up store={} db={}", config_.redis.str(), config_.redis_db);
  } else {
    log().warn("store down store={} reason=\"{}\" fallback={}", config_.redis.str(), reason,
               config_.fail_open ? "local-limits" : "refuse-503");
  }
}

void RedisStore::housekeeping(std::vector<Op>& batch, Clock::time_point now) {
  const std::uint32_t epoch = epoch_.load(std::memory_order_acquire);
  table_.for_each([&](Entry& e) {
    for (unsigned k = 0; k < 2; ++k) {
      Lease& lease = e.counters[k].lease;
      if (lease.epoch != epoch || lease.limit == 0 || !wants_flush(lease, now)) continue;
      const RefillArgs args = begin_refill(lease, 0, now);
      ++e.refs;
      batch.push_back(Op{&e, static_cast<Kind>(k), lease.limit, args, epoch});
    }
  });
}

bool RedisStore::exchange(std::vector<Op>& batch) {
  std::vector<std::optional<Reply>> replies(batch.size());
  std::vector<std::size_t> todo(batch.size());
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  bool ok = true;
  // EVALSHA first; what Redis no longer knows (NOSCRIPT: restarted, SCRIPT FLUSH) goes once more
  // as EVAL, which also caches it again.
  for (int pass = 0; pass < 2 && ok && !todo.empty(); ++pass) {
    std::vector<std::size_t> noscript;
    ok = pipeline(batch, todo, pass == 0, replies, noscript);
    todo = std::move(noscript);
  }
  const Clock::time_point now = Clock::now();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    finish(batch[i], replies[i] ? &*replies[i] : nullptr, now);
  }
  batch.clear();
  return ok;
}

bool RedisStore::pipeline(const std::vector<Op>& batch, const std::vector<std::size_t>& todo,
                          bool by_sha, std::vector<std::optional<Reply>>& replies,
                          std::vector<std::size_t>& noscript) {
  for (const std::size_t i : todo) {
    const Op& op = batch[i];
    const std::string& key = op.entry->store_key[op.kind];
    const std::array<std::string, 6> nums{
        std::to_string(op.limit),     std::to_string(op.args.want), std::to_string(op.args.need),
        std::to_string(op.args.owed), std::to_string(op.args.back), std::to_string(op.args.back_sec)};
    std::array<const char*, 10> argv{by_sha ? "EVALSHA" : "EVAL", by_sha ? sha_.c_str() : kLeaseScript,
                                     "1", key.c_str()};
    std::array<std::size_t, 10> lens{by_sha ? 7u : 4u, by_sha ? sha_.size() : std::strlen(kLeaseScript),
                                     1, key.size()};
    for (std::size_t n = 0; n < nums.size(); ++n) {
      argv[4 + n] = nums[n].c_str();
      lens[4 + n] = nums[n].size();
    }
    if (redisAppendCommandArgv(ctx_, 10, argv.data(), lens.data()) != REDIS_OK) {
      last_error_ = "out of memory";
      return false;
    }
  }
  bool ok = true;
  for (const std::size_t i : todo) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      last_error_ = std::string("reply: ") + (ctx_->errstr[0] ? ctx_->errstr : "none");
      return false;
    }
    const ReplyPtr r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR && std::strncmp(r->str, "NOSCRIPT", 8) == 0) {
      noscript.push_back(i);
      continue;
    }
    replies[i] = parse(*r, batch[i].args);
    if (!replies[i]) {
      ok = false;  // read the other replies all the same: the connection is dropped after this
      last_error_ = r->type == REDIS_REPLY_ERROR ? std::string("script: ") + r->str : "unexpected reply";
    }
  }
  return ok;
}

bool RedisStore::ping() {
  std::array<const char*, 1> argv{"PING"};
  std::array<std::size_t, 1> lens{4};
  ReplyPtr r = command(ctx_, 1, argv.data(), lens.data());
  if (r && r->type == REDIS_REPLY_STATUS) return true;
  last_error_ = r ? "PING: unexpected reply" : std::string("PING: ") + ctx_->errstr;
  return false;
}

void RedisStore::finish(const Op& op, const Reply* reply, Clock::time_point now) {
  {
    std::lock_guard lock(table_.shard(op.entry->shard).mu);
    Lease& lease = op.entry->counters[op.kind].lease;
    if (reply && lease.epoch == op.epoch && op.epoch == epoch_.load(std::memory_order_acquire)) {
      finish_refill(lease, op.args, *reply, now);
    } else {
      abort_refill(lease);
    }
    --op.entry->refs;
  }
  if (reply) {
    bump(stats_.store_calls);
    bump(stats_.returned_units, op.args.back);
    if (reply->grant > 0) {
      bump(stats_.leases);
      bump(stats_.leased_units, reply->grant);
    }
  }
}

void RedisStore::abort_all(std::vector<Op>& batch) {
  for (const Op& op : batch) finish(op, nullptr, Clock::now());
  batch.clear();
}

}  // namespace infergate::limits::detail
