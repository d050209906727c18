#include "telemetry/record_ring.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using infergate::telemetry::RecordRing;
using infergate::telemetry::RequestRecord;

namespace {
RequestRecord numbered(std::uint64_t n) {
  RequestRecord record;
  record.bytes_in = n;
  return record;
}
}  // namespace

TEST_CASE("a full ring refuses records and takes them again once drained") {
  RecordRing ring(3);  // rounded up to 4
  CHECK(ring.capacity() == 4);
  for (std::uint64_t n = 0; n < 4; ++n) CHECK(ring.push(numbered(n)));
  CHECK_FALSE(ring.push(numbered(99)));

  std::vector<std::uint64_t> seen;
  CHECK(ring.pop([&](const RequestRecord& r) { seen.push_back(r.bytes_in); }, 3) == 3);
  CHECK(seen == std::vector<std::uint64_t>{0, 1, 2});
  CHECK(ring.push(numbered(4)));
  CHECK(ring.push(numbered(5)));
  CHECK(ring.push(numbered(6)));
  CHECK_FALSE(ring.push(numbered(7)));
  seen.clear();
  CHECK(ring.pop([&](const RequestRecord& r) { seen.push_back(r.bytes_in); }, 100) == 4);
  CHECK(seen == std::vector<std::uint64_t>{3, 4, 5, 6});
  CHECK(ring.pop([&](const RequestRecord&) {}, 100) == 0);
}

TEST_CASE("a producer and a consumer thread: every pushed record is popped once, in order") {
  RecordRing ring(64);
  constexpr std::uint64_t kCount = 200000;
  std::uint64_t pushed = 0, dropped = 0;  // the producer's until join()
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (std::uint64_t n = 0; n < kCount; ++n) (ring.push(numbered(pushed)) ? ++pushed : ++dropped);
    done.store(true);
  });
  std::uint64_t next = 0;
  bool in_order = true;
  auto take = [&](const RequestRecord& r) {
    in_order = in_order && r.bytes_in == next;
    ++next;
  };
  // Bounded: the producer ends after kCount attempts; one more drain after join takes the rest.
  while (!done.load()) ring.pop(take, 16);
  producer.join();
  ring.pop(take, kCount);
  CHECK(in_order);
  CHECK(next == pushed);
  CHECK(pushed + dropped == kCount);
}

TEST_CASE("fixed text keeps what fits and marks the cut") {
  infergate::telemetry::FixedText<4> text;
  text.assign("abc");
  CHECK(text.view() == "abc");
  CHECK_FALSE(text.truncated);
  text.assign("abcdef");
  CHECK(text.view() == "abcd");
  CHECK(text.truncated);
}
