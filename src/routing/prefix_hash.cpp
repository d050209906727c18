// Chained block hashes over the canonical prompt, streamed: whole blocks are hashed in place in
// the body; only blocks that straddle two parts are copied into a small buffer.
#include "routing/prefix_hash.hpp"

#include <algorithm>
#include <string>

#include <xxhash.h>

namespace infergate {
namespace {

class BlockHasher {
 public:
  BlockHasher(std::string_view model, std::size_t block_size, std::size_t max_blocks,
              std::vector<std::uint64_t>& out)
      : block_(block_size), max_(max_blocks), out_(out),
        chain_(XXH3_64bits(model.data(), model.size())) {
    thread_local std::string buffer;
    buffer.resize(block_size);
    buffer_ = buffer.data();
  }

  bool full() const { return out_.size() >= max_; }

  void feed(std::string_view s) {
    while (!s.empty() && !full()) {
      if (fill_ == 0 && s.size() >= block_) {  // a whole block in place
        emit(s.data());
        s.remove_prefix(block_);
        continue;
      }
      const std::size_t n = std::min(block_ - fill_, s.size());
      std::copy_n(s.data(), n, buffer_ + fill_);
      fill_ += n;
      s.remove_prefix(n);
      if (fill_ == block_) {
        emit(buffer_);
        fill_ = 0;
      }
    }
  }

 private:
  void emit(const char* data) {
    chain_ = XXH3_64bits_withSeed(data, block_, chain_);
    out_.push_back(chain_);
  }

  std::size_t block_;
  std::size_t max_;
  std::vector<std::uint64_t>& out_;
  std::uint64_t chain_;
  char* buffer_ = nullptr;
  std::size_t fill_ = 0;
};

}  // namespace

std::size_t canonical_prompt_bytes(std::span<const RequestFacts::PromptPart> prompt) {
  std::size_t bytes = 0;
  for (const auto& part : prompt) bytes += part.role.size() + part.text.size() + 2;
  return bytes;
}

void prefix_block_hashes(std::span<const RequestFacts::PromptPart> prompt, std::string_view model,
                         std::size_t block_size, std::size_t max_blocks,
                         std::vector<std::uint64_t>& out) {
  out.clear();
  if (block_size == 0 || max_blocks == 0) return;
  const std::size_t bytes = canonical_prompt_bytes(prompt);  // one allocation, not one per doubling
  out.reserve(std::min(max_blocks, bytes / block_size));
  BlockHasher hasher(model, block_size, max_blocks, out);
  for (const auto& part : prompt) {
    if (hasher.full()) break;
    hasher.feed(part.role);
    hasher.feed("\x1f");
    hasher.feed(part.text);
    hasher.feed("\x1e");
  }
}

}  // namespace infergate
