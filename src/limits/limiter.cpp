#include "limits/limiter.hpp"

#include <algorithm>
#include <utility>

#include "limits/redis_store.hpp"
#include "limits/stats.hpp"
#include "limits/table.hpp"

namespace infergate::limits {

using detail::Counter;
using detail::Entry;
using detail::Kind;
using detail::Verdict;
using Millis = std::chrono::milliseconds;

namespace {

// A key's own counters use an empty model; a model named "" gets a name no model can have.
constexpr std::string_view kEmptyModel{"\0", 1};

std::int64_t floor_sec(std::int64_t ms) noexcept { return ms >= 0 ? ms / 1000 : (ms - 999) / 1000; }

// limits.window shorter than a minute (tests and demos, local store only): the windows' clock
// runs faster by 60 s / window, and the waits it reports are slowed back down.
std::int64_t window_clock(const LimitsConfig& config, bool shared, Clock::time_point now) noexcept {
  const std::int64_t ms = detail::to_ms(now);
  if (shared || config.window.count() == 60'000) return ms;
  return ms / config.window.count() * 60'000 + ms % config.window.count() * 60'000 / config.window.count();
}

Millis real_wait(const LimitsConfig& config, bool shared, Millis wait) noexcept {
  if (shared || config.window.count() == 60'000) return wait;
  return Millis{(wait.count() * config.window.count() + 59'999) / 60'000};
}

}  // namespace

// One admission's counters (up to two entries, two kinds each) and what was decided.
struct Limiter::Plan {
  struct Item {
    Entry* entry;
    Counter* counter;
    Kind kind;
    std::uint64_t limit, n;
  };
  std::array<Item, 4> items{};
  unsigned size = 0;
  std::array<Entry*, 2> entries{};
  std::int64_t now_ms = 0, sec = 0;
  std::uint64_t estimate = 0;
  std::uint32_t epoch = 0;
  std::optional<ErrorKind> refusal;
  Millis retry{0};
  bool store_slow = false, debt = false;

  void add(Entry& e, Kind kind, std::uint64_t limit, std::uint64_t n) {
    items[size++] = Item{&e, &e.counters[kind], kind, limit, n};
  }
  void refuse(Kind kind, Millis wait) {
    const ErrorKind k = kind == detail::kRequests ? ErrorKind::requests_limited : ErrorKind::tokens_limited;
    if (!refusal || k == ErrorKind::requests_limited) refusal = k;
    retry = std::max(retry, wait);
  }
};

Limiter::Limiter(const LimitsConfig& config)
    : config_(config), stats_(std::make_unique<detail::Stats>()),
      table_(std::make_unique<detail::Table>()) {
  if (config_.store != "local" && !config_.store.empty()) {
    store_ = std::make_unique<detail::RedisStore>(config_, *table_, *stats_);
  }
}

Limiter::~Limiter() { stop(); }

void Limiter::start() {
  if (store_) store_->start();
}

void Limiter::stop() {
  if (store_) store_->stop();
}

bool Limiter::store_up() const noexcept { return !store_ || store_->up(); }

Limiter::Mode Limiter::mode() const noexcept {
  if (!store_) return Mode::local;
  if (store_->up()) return Mode::shared;
  return config_.fail_open ? Mode::open : Mode::closed;
}

Admission Limiter::refuse(ErrorKind kind, Millis retry) {
  Admission out;
  out.refusal = kind;
  out.retry_after = retry;
  return out;
}

Admission Limiter::admit(const Subject& who, std::uint64_t estimated_tokens, Clock::time_point now) {
  const bool key_on = who.key_limit.any();
  const bool model_on = who.model_limit != nullptr && who.model_limit->any();
  if (!key_on && !model_on) return {};
  Mode m = mode();
  if (m == Mode::closed) {
    detail::bump(stats_->refused_unavailable);
    return refuse(ErrorKind::limits_unavailable, detail::kRefillRetry);
  }
  Plan plan;
  plan.now_ms = window_clock(config_, store_ != nullptr, now);
  plan.sec = floor_sec(plan.now_ms);
  plan.estimate = estimated_tokens;
  plan.epoch = store_ ? store_->epoch() : 0;
  std::array<detail::EntryId, 2> ids{};
  std::array<const RateLimit*, 2> limits{};
  unsigned n = 0;
  if (key_on) {
    ids[n] = {who.key, {}};
    limits[n++] = &who.key_limit;
  }
  if (model_on) {
    ids[n] = {who.key, who.model.empty() ? kEmptyModel : who.model};
    limits[n++] = who.model_limit;
  }
  const std::uint32_t s0 = table_->shard_index(ids[0]);
  const std::uint32_t s1 = n == 2 ? table_->shard_index(ids[1]) : s0;
  Admission out;
  {
    detail::ShardLocks locks(*table_, s0, s1, n == 2);
    for (unsigned i = 0; i < n; ++i) {
      Entry& e = table_->find_or_create(i == 0 ? s0 : s1, ids[i], plan.now_ms);
      plan.entries[i] = &e;
      if (limits[i]->requests_per_minute) plan.add(e, detail::kRequests, limits[i]->requests_per_minute, 1);
      if (limits[i]->tokens_per_minute) plan.add(e, detail::kTokens, limits[i]->tokens_per_minute, estimated_tokens);
    }
    decide(plan, m, now);
    if (plan.store_slow) {  // a refill overdue: the store is as good as down for this request
      if (!config_.fail_open) {
        detail::bump(stats_->refused_unavailable);
        return refuse(ErrorKind::limits_unavailable, detail::kRefillRetry);
      }
      m = Mode::open;
      decide(plan, m, now);
    }
    if (!plan.refusal) charge(plan, m, out);
    quotas(plan, m, now, out);
    if (m == Mode::shared) refill(plan, now);
  }
  if (plan.refusal) {
    detail::bump(*plan.refusal == ErrorKind::requests_limited ? stats_->refused_requests
                                                              : stats_->refused_tokens);
    out.refusal = plan.refusal;
    out.retry_after = std::max(real_wait(config_, store_ != nullptr, plan.retry), Millis{1});
  } else if (m == Mode::open) {
    detail::bump(stats_->fallback_admissions);
  } else if (plan.debt) {
    detail::bump(stats_->debt_admissions);
  }
  return out;
}

void Limiter::decide(Plan& plan, Mode m, Clock::time_point now) const {
  plan.refusal.reset();
  plan.retry = Millis{0};
  plan.store_slow = plan.debt = false;
  for (unsigned i = 0; i < plan.size; ++i) {
    Plan::Item& it = plan.items[i];
    detail::Window& w = it.counter->window;
    w.advance(plan.sec);
    if (w.total() + it.n > it.limit) {
      plan.refuse(it.kind, w.until_freed(w.total() + it.n - it.limit, plan.now_ms));
    }
    if (m != Mode::shared) continue;
    detail::Lease& lease = it.counter->lease;
    detail::sync_epoch(lease, plan.epoch);
    const detail::LeaseCheck c = detail::check(lease, it.limit, it.n, now, config_.redis_timeout);
    if (c.verdict == Verdict::store_slow) plan.store_slow = true;
    if (c.verdict == Verdict::refused) plan.refuse(it.kind, c.retry);
    if (c.verdict == Verdict::debt) plan.debt = true;
  }
}

void Limiter::charge(Plan& plan, Mode m, Admission& out) {
  Charge& ch = out.charge;
  for (unsigned i = 0; i < plan.size; ++i) {
    Plan::Item& it = plan.items[i];
    if (it.n == 0) continue;
    it.counter->window.add(it.n);
    if (m == Mode::shared) detail::spend(it.counter->lease, it.n);
  }
  ch.limiter_ = this;
  ch.entries_ = plan.entries;
  for (unsigned i = 0; i < plan.size; ++i) {
    if (plan.items[i].kind == detail::kTokens) {
      ch.tokens_[plan.items[i].entry == plan.entries[0] ? 0 : 1] = true;
    }
  }
  for (Entry* e : plan.entries) {
    if (e) ++e->refs;
  }
  ch.estimate_ = plan.estimate;
  ch.sec_ = plan.sec;
  ch.epoch_ = plan.epoch;
  ch.shared_ = m == Mode::shared;
}

void Limiter::refill(Plan& plan, Clock::time_point now) {
  for (unsigned i = 0; i < plan.size; ++i) {
    Plan::Item& it = plan.items[i];
    detail::Lease& lease = it.counter->lease;
    if (!detail::wants_refill(lease, it.limit, now)) continue;
    const std::uint64_t want = std::max(detail::slice_for(it.limit), lease.need);
    const detail::RefillArgs args = detail::begin_refill(lease, want, now);
    ++it.entry->refs;
    store_->enqueue(detail::Op{it.entry, it.kind, it.limit, args, plan.epoch});
  }
}

void Limiter::quotas(const Plan& plan, Mode m, Clock::time_point now, Admission& out) const {
  for (unsigned i = 0; i < plan.size; ++i) {
    const Plan::Item& it = plan.items[i];
    const detail::Window& w = it.counter->window;
    Quota q;
    q.limit = it.limit;
    q.remaining = it.limit - std::min(it.limit, w.total());
    if (w.total() + it.n > it.limit) {
      q.reset = w.until_freed(w.total() + it.n - it.limit, plan.now_ms);
    } else if (w.total() > 0) {
      q.reset = w.until_freed(1, plan.now_ms);
    }
    q.reset = real_wait(config_, store_ != nullptr, q.reset);
    if (m == Mode::shared) {
      const detail::Lease& lease = it.counter->lease;
      q.remaining = std::min(q.remaining, detail::shared_remaining(lease, it.limit));
      if (lease.starved && lease.avail < it.n) {
        const auto left = std::chrono::duration_cast<Millis>(lease.starved_until - now);
        q.reset = std::max(q.reset, left);
      }
    }
    std::optional<Quota>& slot = it.kind == detail::kRequests ? out.requests : out.tokens;
    if (!slot || q.remaining < slot->remaining ||
        (q.remaining == slot->remaining && q.reset > slot->reset)) {
      slot = q;
    }
  }
}

std::size_t Limiter::sweep(Clock::time_point now) { return table_->sweep(detail::to_ms(now)); }

std::size_t Limiter::counters() const { return table_->size(); }

void Limiter::settle(Charge& ch, std::uint64_t actual, Clock::time_point now) noexcept {
  Entry* e0 = ch.entries_[0];
  Entry* e1 = ch.entries_[1];
  detail::ShardLocks locks(*table_, e0->shard, e1 ? e1->shard : e0->shard, e1 != nullptr);
  const std::int64_t sec = floor_sec(window_clock(config_, store_ != nullptr, now));
  for (unsigned i = 0; i < 2; ++i) {
    if (!ch.entries_[i] || !ch.tokens_[i]) continue;
    Counter& c = ch.entries_[i]->counters[detail::kTokens];
    const bool lease = ch.shared_ && c.lease.epoch == ch.epoch_;
    if (actual < ch.estimate_) {
      const std::uint64_t diff = ch.estimate_ - actual;
      c.window.remove(ch.sec_, diff);
      if (lease) detail::refund(c.lease, diff, now);
    } else if (actual > ch.estimate_) {
      const std::uint64_t diff = actual - ch.estimate_;
      c.window.advance(sec);
      c.window.add(diff);
      if (lease) detail::spend(c.lease, diff);
    }
  }
  for (Entry* e : ch.entries_) {
    if (e) --e->refs;
  }
}

void Limiter::release(Charge& ch) noexcept {
  Entry* e0 = ch.entries_[0];
  Entry* e1 = ch.entries_[1];
  detail::ShardLocks locks(*table_, e0->shard, e1 ? e1->shard : e0->shard, e1 != nullptr);
  for (Entry* e : ch.entries_) {
    if (e) --e->refs;
  }
}

Charge::Charge(Charge&& other) noexcept { *this = std::move(other); }

Charge& Charge::operator=(Charge&& other) noexcept {
  if (this != &other) {
    release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    entries_ = other.entries_;
    tokens_ = other.tokens_;
    estimate_ = other.estimate_;
    sec_ = other.sec_;
    epoch_ = other.epoch_;
    shared_ = other.shared_;
  }
  return *this;
}

Charge::~Charge() { release(); }

void Charge::settle(std::uint64_t actual_tokens, Clock::time_point now) noexcept {
  if (!limiter_) return;
  limiter_->settle(*this, actual_tokens, now);
  limiter_ = nullptr;
}

void Charge::release() noexcept {
  if (!limiter_) return;
  limiter_->release(*this);
  limiter_ = nullptr;
}

}  // namespace infergate::limits
