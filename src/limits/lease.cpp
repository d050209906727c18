#include "limits/lease.hpp"

#include <algorithm>

namespace infergate::limits::detail {

void sync_epoch(Lease& lease, std::uint32_t epoch) noexcept {
  if (lease.epoch == epoch) return;
  const bool pending = lease.pending;  // a call of the old epoch may still be answered
  const Clock::time_point since = lease.pending_since;
  lease = Lease{};
  lease.epoch = epoch;
  lease.pending = pending;
  lease.pending_since = since;
}

LeaseCheck check(Lease& lease, std::uint64_t limit, std::uint64_t n, Clock::time_point now,
                 Millis store_timeout) noexcept {
  if (lease.avail > 0 && now >= lease.expires) {
    lease.back += lease.avail;
    lease.avail = 0;
  }
  lease.need = n;
  lease.limit = limit;
  if (lease.avail >= n) return {Verdict::spend};
  if (lease.pending && now - lease.pending_since > store_timeout) return {Verdict::store_slow};
  if (lease.starved) {
    const auto left = std::chrono::duration_cast<Millis>(lease.starved_until - now);
    return {Verdict::refused, std::max(left, Millis{0})};
  }
  const std::uint64_t max_debt = std::max(slice_for(limit), n);
  // The debt in flight counts too: Redis has not recorded it, so it may already be past the limit.
  if (lease.debt + lease.owed + (n - lease.avail) <= max_debt) return {Verdict::debt};
  return {Verdict::refused, kRefillRetry};
}

void spend(Lease& lease, std::uint64_t n) noexcept {
  const std::uint64_t from_grant = std::min(lease.avail, n);
  lease.avail -= from_grant;
  lease.debt += n - from_grant;
}

void refund(Lease& lease, std::uint64_t n, Clock::time_point now) noexcept {
  const std::uint64_t paid = std::min(lease.debt, n);  // a debt not yet recorded shrinks first
  lease.debt -= paid;
  n -= paid;
  if (now < lease.expires) {
    lease.avail += n;
  } else {
    lease.back += n;
  }
}

bool wants_refill(const Lease& lease, std::uint64_t limit, Clock::time_point now) noexcept {
  if (lease.pending) return false;
  if (lease.starved && now < lease.recheck_at) return false;
  const std::uint64_t low = std::max(slice_for(limit) / 2 + 1, lease.need);
  return lease.avail < low || lease.debt > 0;
}

bool wants_flush(Lease& lease, Clock::time_point now) noexcept {
  if (lease.pending) return false;
  if (lease.avail > 0 && now >= lease.expires) {
    lease.back += lease.avail;
    lease.avail = 0;
  }
  return lease.back > 0 || lease.debt > 0;
}

RefillArgs begin_refill(Lease& lease, std::uint64_t want, Clock::time_point now) noexcept {
  RefillArgs args{want, lease.need, lease.debt, lease.back, lease.grant_sec};
  lease.owed = lease.debt;
  lease.debt = 0;
  lease.back = 0;
  lease.pending = true;
  lease.pending_since = now;
  return args;
}

void finish_refill(Lease& lease, const RefillArgs& sent, const Reply& reply,
                   Clock::time_point now) noexcept {
  lease.pending = false;
  lease.owed = 0;  // recorded now
  lease.shared_used = reply.used;
  if (reply.grant > 0) {
    lease.avail += reply.grant;
    lease.grant_sec = reply.sec;
    lease.expires = now + kLeaseTtl;
    const std::uint64_t paid = std::min(lease.avail, lease.debt);  // debt made while in flight
    lease.avail -= paid;
    lease.debt -= paid;
  }
  if (sent.want == 0) return;  // a flush says nothing about the budget
  lease.starved = reply.grant < sent.want;
  if (lease.starved) {
    const Millis retry{std::max<std::int64_t>(reply.retry_ms, 0)};
    lease.starved_until = now + retry;
    lease.recheck_at = now + std::min(retry, kStarvedRecheck);
  }
}

void abort_refill(Lease& lease) noexcept {
  // Not known to be recorded: sent again with the next call (at worst counted twice: safe side).
  lease.debt += lease.owed;
  lease.owed = 0;
  lease.pending = false;
}

std::uint64_t shared_remaining(const Lease& lease, std::uint64_t limit) noexcept {
  const std::uint64_t room = lease.shared_used >= limit ? 0 : limit - lease.shared_used;
  return std::min(limit, room + lease.avail);
}

}  // namespace infergate::limits::detail
