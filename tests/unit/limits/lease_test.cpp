// The shared-limit lease's debt bound: while a refill is in flight, what a replica admits beyond
// its grants (recorded in Redis only with the next call) stays within one slice in all.
#include "limits/lease.hpp"

#include <doctest/doctest.h>

using namespace infergate::limits::detail;

namespace {

constexpr std::uint64_t kLimit = 600;  // slice 6
const Clock::time_point t0{};
constexpr Millis kTimeout{200};

// Admits `n` one-unit requests on debt; returns how many were admitted.
int admit_on_debt(Lease& lease, int n) {
  int admitted = 0;
  for (int i = 0; i < n; ++i) {
    if (check(lease, kLimit, 1, t0, kTimeout).verdict != Verdict::debt) break;
    spend(lease, 1);
    ++admitted;
  }
  return admitted;
}

}  // namespace

TEST_CASE("debt sent with a call in flight still counts against the slice") {
  Lease lease;
  CHECK(admit_on_debt(lease, 100) == 6);  // nothing granted yet: one slice on debt
  const RefillArgs sent = begin_refill(lease, 6, t0);
  CHECK(sent.owed == 6);
  CHECK(admit_on_debt(lease, 100) == 0);  // the 6 are not recorded yet: no second slice

  SUBCASE("a reply that grants pays the debt and lifts the bound") {
    finish_refill(lease, sent, Reply{.grant = 12, .used = 12}, t0);
    CHECK(lease.avail == 12);
    CHECK(check(lease, kLimit, 1, t0, kTimeout).verdict == Verdict::spend);
  }
  SUBCASE("a call that failed sends its debt again with the next one") {
    abort_refill(lease);
    CHECK(lease.owed == 0);
    CHECK(begin_refill(lease, 6, t0).owed == 6);
  }
}
