// This replica's share of one shared limit (the quota-reservation pattern): slices leased from
// Redis are spent locally, a refill is asked for in the background before the slice runs out, and
// what is left unused after a short lease is given back.
//
// The rules, decided once here (every function runs under the counter's shard lock):
// - Slice: 1 % of the limit, at least 1 (600/min: 6). Three replicas hold at most ~1.5 slices each
//   unspent, so a shared limit is exact to a few percent, and a high limit costs ~100 Redis calls
//   per minute at full use, whatever the request rate.
// - Refill: asked for as soon as less than half a slice is left (or the request needs more), one
//   call in flight per counter at most. The data path never waits for it.
// - Debt: while a refill is in flight and Redis has not said the budget is gone, a request may be
//   admitted on debt, at most one slice (or one request's own size, if larger), counting the
//   debt already sent with the call in flight. The debt is recorded in Redis with the next call
//   (even past the limit, so the shared count stays true) and paid from the next grant.
//   Over-admission is therefore bounded by one slice per replica.
// - Starved: once Redis granted less than asked, no more debt: requests beyond what is held are
//   refused with Redis's own Retry-After (the time until enough of the shared window ages out),
//   and Redis is asked again at most once a second (slices given back by others show up then).
// - A refill pending longer than the store's timeout counts as the store being unavailable, so
//   a slow Redis falls back (fail open: local limits; fail closed: 503) instead of refusing 429s.
// - Lease: a grant is spendable for 1 s; then it is given back (units granted in Redis second s
//   stay counted there until s+61, so spending them up to ~1 s late keeps the window >= ~59 s).
// - Epoch: when the store comes back after an outage, every lease starts afresh.
#pragma once

#include <chrono>
#include <cstdint>

namespace infergate::limits::detail {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

inline constexpr Millis kLeaseTtl{1000};
inline constexpr Millis kStarvedRecheck{1000};
inline constexpr Millis kRefillRetry{1000};  // refused while a refill is in flight

constexpr std::uint64_t slice_for(std::uint64_t limit) noexcept {
  return limit / 100 > 0 ? limit / 100 : 1;
}

struct Lease {
  std::uint64_t avail = 0;        // granted, not yet spent
  std::uint64_t debt = 0;         // spent beyond the grants, not yet sent to Redis
  std::uint64_t owed = 0;         // debt sent with the call in flight, not yet recorded
  std::uint64_t back = 0;         // expired grants and refunds to give back to Redis
  std::uint64_t need = 0;         // the size of the latest request (a refill asks for at least it)
  std::uint64_t limit = 0;        // the limit at the latest admission (for housekeeping's calls)
  std::uint64_t shared_used = 0;  // the shared window's sum at the latest reply
  std::int64_t grant_sec = 0;     // Redis second of the latest grant: returns go there
  Clock::time_point expires{}, recheck_at{}, starved_until{}, pending_since{};
  std::uint32_t epoch = 0;
  bool pending = false;  // a call for this counter is queued or in flight
  bool starved = false;  // Redis granted less than asked: no debt until it grants in full
};

// What one call to the store carries for a counter, and what it answered.
struct RefillArgs {
  std::uint64_t want = 0, need = 0, owed = 0, back = 0;  // need: the units Retry-After is for
  std::int64_t back_sec = 0;
};
struct Reply {
  std::uint64_t grant = 0, used = 0;
  std::int64_t retry_ms = 0, sec = 0;
};

enum class Verdict : std::uint8_t { spend, debt, refused, store_slow };
struct LeaseCheck {
  Verdict verdict;
  Millis retry{0};
};

// A lease of an older store epoch starts afresh.
void sync_epoch(Lease& lease, std::uint32_t epoch) noexcept;
// May `n` units be spent now? Expired grants move to `back` first.
LeaseCheck check(Lease& lease, std::uint64_t limit, std::uint64_t n, Clock::time_point now,
                 Millis store_timeout) noexcept;
// Spends `n`: from the grant first, the rest as debt.
void spend(Lease& lease, std::uint64_t n) noexcept;
// A settlement's refund: spendable again while the lease lasts, else given back.
void refund(Lease& lease, std::uint64_t n, Clock::time_point now) noexcept;
// Should the data path ask for a refill now?
bool wants_refill(const Lease& lease, std::uint64_t limit, Clock::time_point now) noexcept;
// Should housekeeping send a call (give back an expired grant, record a debt)?
bool wants_flush(Lease& lease, Clock::time_point now) noexcept;
// Moves the debt and what is to give back into a call asking for `want`; marks it pending.
RefillArgs begin_refill(Lease& lease, std::uint64_t want, Clock::time_point now) noexcept;
// Applies the store's answer to a call begun with `sent`.
void finish_refill(Lease& lease, const RefillArgs& sent, const Reply& reply,
                   Clock::time_point now) noexcept;
// The call failed: nothing is known of it (the epoch changes when the store comes back).
void abort_refill(Lease& lease) noexcept;
// Remaining as this replica sees it: the shared window's room plus its own unspent grant.
std::uint64_t shared_remaining(const Lease& lease, std::uint64_t limit) noexcept;

}  // namespace infergate::limits::detail
