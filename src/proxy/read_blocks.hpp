// A worker's spare read blocks: the upstream read buffer of every session takes one for the
// length of an exchange and gives it back when the response ends, so that an idle keep-alive
// connection holds no response buffer and a busy one costs a pointer pop, not a malloc of
// 16 KiB (glibc serves that size from its large bins). One thread only, like the worker.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace infergate::proxy {

class ReadBlocks {
 public:
  ReadBlocks(std::size_t block_size, std::size_t keep) : block_(block_size), keep_(keep) {
    spare_.reserve(keep);
  }
  ReadBlocks(const ReadBlocks&) = delete;
  ReadBlocks& operator=(const ReadBlocks&) = delete;
  ~ReadBlocks() {
    for (char* p : spare_) ::operator delete(p);
  }

  std::size_t block_size() const noexcept { return block_; }

  // Blocks of another size (a response head that outgrew one) pass through to the heap.
  char* allocate(std::size_t n) {
    if (n != block_ || spare_.empty()) return static_cast<char*>(::operator new(n));
    char* p = spare_.back();
    spare_.pop_back();
    return p;
  }
  void deallocate(char* p, std::size_t n) noexcept {
    if (n == block_ && spare_.size() < keep_) {
      spare_.push_back(p);  // within the reserved capacity: never throws
      return;
    }
    ::operator delete(p);
  }

 private:
  std::size_t block_;
  std::size_t keep_;  // spares beyond this go back to the heap (a burst's blocks do not stay)
  std::vector<char*> spare_;
};

// The allocator a beast::basic_flat_buffer takes: its blocks come from one worker's ReadBlocks.
template <typename T>
struct ReadBlockAllocator {
  using value_type = T;
  ReadBlocks* blocks;

  explicit ReadBlockAllocator(ReadBlocks& b) noexcept : blocks(&b) {}
  template <typename U>
  ReadBlockAllocator(const ReadBlockAllocator<U>& other) noexcept : blocks(other.blocks) {}

  T* allocate(std::size_t n) { return reinterpret_cast<T*>(blocks->allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept {
    blocks->deallocate(reinterpret_cast<char*>(p), n * sizeof(T));
  }
  template <typename U>
  bool operator==(const ReadBlockAllocator<U>& other) const noexcept {
    return blocks == other.blocks;
  }
};

}  // namespace infergate::proxy
