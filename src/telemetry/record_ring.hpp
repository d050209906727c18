// A bounded single-producer single-consumer ring of RequestRecords: a worker pushes, a writer
// thread pops. Push never blocks and never allocates; a full ring refuses the record (the caller
// counts it dropped), so a slow disk or collector can never hold a request back.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

#include "telemetry/request_record.hpp"

namespace infergate::telemetry {

class RecordRing {
 public:
  // `capacity` is rounded up to a power of two (at least 2).
  explicit RecordRing(std::size_t capacity) {
    std::size_t size = 2;
    while (size < capacity) size *= 2;
    mask_ = size - 1;
    slots_ = std::make_unique<RequestRecord[]>(size);
  }

  // Producer thread only. False: full, the record is not taken.
  bool push(const RequestRecord& record) noexcept {
    const auto tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    slots_[tail & mask_] = record;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer thread only. Calls `take(const RequestRecord&)` for up to `max` records in order;
  // returns how many.
  template <typename Take>
  std::size_t pop(Take&& take, std::size_t max) {
    const auto head = head_.load(std::memory_order_relaxed);
    const auto tail = tail_.load(std::memory_order_acquire);
    std::size_t n = 0;
    for (; n < max && head + n != tail; ++n) take(slots_[(head + n) & mask_]);
    head_.store(head + n, std::memory_order_release);
    return n;
  }

  std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  std::unique_ptr<RequestRecord[]> slots_;
  std::size_t mask_ = 0;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
  std::size_t head_cache_ = 0;  // the producer's last view of head_, beside its tail_
};

}  // namespace infergate::telemetry
