// SseUsageTap: event boundaries and usage of a text/event-stream body, as its pieces pass.
//
// The steady-state cost of an event is two memchr (its two line ends) and one memmem for
// `"usage"` over its bytes; only an event with a usage object is parsed. Nothing is allocated
// once the carry and the held-view list have grown to the size of the largest split event.
// Output pieces are sub-views of the input except held bytes released in a later call (a copy
// of at most kMaxCarry bytes, once per call at most), see the header.
#include <cstring>

#include "routing/usage_json.hpp"
#include "routing/usage_reader.hpp"

namespace infergate {
namespace {

// Appends a view, merged with the last one when it continues it in memory.
void push(std::vector<std::string_view>& out, std::string_view v) {
  if (v.empty()) return;
  if (!out.empty() && out.back().data() + out.back().size() == v.data()) {
    out.back() = {out.back().data(), out.back().size() + v.size()};
    return;
  }
  out.push_back(v);
}

std::size_t skip_space(std::string_view text, std::size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  return i;
}

// Whether the first bytes of an event may still be those of the usage-only chunk: no
// `"choices"` seen yet, or one whose array is empty or not visible yet.
bool may_be_usage_only(std::string_view partial) {
  constexpr std::string_view kChoices = R"("choices")";
  const void* hit = ::memmem(partial.data(), partial.size(), kChoices.data(), kChoices.size());
  if (hit == nullptr) return true;
  std::size_t i = static_cast<std::size_t>(static_cast<const char*>(hit) - partial.data()) + kChoices.size();
  i = skip_space(partial, i);
  if (i >= partial.size()) return true;
  if (partial[i] != ':') return true;  // not the key; keep looking at the complete event
  i = skip_space(partial, i + 1);
  if (i >= partial.size()) return true;
  if (partial[i] != '[') return false;
  i = skip_space(partial, i + 1);
  return i >= partial.size() || partial[i] == ']';
}

// The JSON of an event's data lines ("data:" and one optional space removed, several lines
// joined by "\n" as the SSE spec says), or empty. One line: a view of the event; several: a
// per-thread copy.
std::string_view data_payload(std::string_view event) {
  constexpr std::string_view kData = "data:";
  thread_local std::string joined;
  std::string_view first;
  int lines = 0;
  std::size_t i = 0;
  while (i < event.size()) {
    std::size_t end = event.find('\n', i);
    if (end == std::string_view::npos) end = event.size();
    std::string_view line = event.substr(i, end - i);
    i = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, kData.size()) != kData) continue;
    line.remove_prefix(kData.size());
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (lines++ == 0) {
      first = line;
      continue;
    }
    if (lines == 2) joined.assign(first);
    joined += '\n';
    joined += line;
  }
  return lines > 1 ? std::string_view(joined) : first;
}

}  // namespace

void SseUsageTap::reset(bool strip) {
  strip_ = strip;
  line_bytes_ = 0;
  line_cr_ = false;
  end_event();
  sent_.clear();
  prompt_tokens_.reset();
  completion_tokens_.reset();
  stripped_ = 0;
  strip_missed_ = 0;
  oversized_ = 0;
}

std::optional<Usage> SseUsageTap::usage() const {
  if (!prompt_tokens_ && !completion_tokens_) return std::nullopt;
  return Usage{prompt_tokens_.value_or(0), completion_tokens_.value_or(0)};
}

void SseUsageTap::feed(std::span<const std::string_view> in, std::vector<std::string_view>& out) {
  sent_.clear();  // the previous call's views of it are no longer in use
  if (finished_) {
    end_event();
    finished_ = false;
  }
  for (const std::string_view piece : in) feed_piece(piece, out);
  if (event_held_) {
    // This call's held segments die with its input: from now on they are the carry's copy.
    held_.clear();
    held_before_ = carry_.size();
  }
}

void SseUsageTap::finish(std::vector<std::string_view>& out) {
  if (event_bytes_ == 0 || finished_) return;
  if (!event_oversized_) classify(carry_);  // an event without its blank line: read, not stripped
  if (event_held_) push(out, std::string_view(carry_).substr(0, held_before_));
  finished_ = true;  // carry_ is out: cleared by the next call
}

void SseUsageTap::feed_piece(std::string_view piece, std::vector<std::string_view>& out) {
  std::size_t i = 0;
  while (i < piece.size()) {
    const std::size_t end = find_event_end(piece, i);
    if (end == std::string_view::npos) {
      partial_event(piece.substr(i), out);
      return;
    }
    complete_event(piece.substr(i, end - i), out);
    i = end;
  }
}

// The offset just past the blank line that ends the event, or npos when the piece ends first;
// keeps the state of the line across pieces.
std::size_t SseUsageTap::find_event_end(std::string_view piece, std::size_t from) {
  const char* const data = piece.data();
  const std::size_t size = piece.size();
  std::size_t i = from;
  while (i < size) {
    const void* found = std::memchr(data + i, '\n', size - i);
    if (found == nullptr) break;
    const auto newline = static_cast<std::size_t>(static_cast<const char*>(found) - data);
    const std::size_t length = newline - i;  // of the line's part in this piece
    const bool blank = length == 0 ? line_bytes_ == 0 || (line_bytes_ == 1 && line_cr_)
                                   : length == 1 && data[i] == '\r' && line_bytes_ == 0;
    line_bytes_ = 0;
    line_cr_ = false;
    i = newline + 1;
    if (blank) return i;
  }
  if (i < size) {
    const bool lone_cr = line_bytes_ == 0 && size - i == 1 && data[i] == '\r';
    line_bytes_ = lone_cr ? 1 : 2;
    line_cr_ = lone_cr;
  }
  return std::string_view::npos;
}

void SseUsageTap::complete_event(std::string_view segment, std::vector<std::string_view>& out) {
  Verdict verdict = Verdict::other;
  if (event_bytes_ == 0) {
    verdict = classify(segment);  // the whole event in this piece: no copy
  } else {
    extend_carry(segment);
    if (!event_oversized_) verdict = classify(carry_);
  }
  if (verdict == Verdict::usage_only && strip_) {
    if (!event_sent_) {
      ++stripped_;
      end_event();  // its held bytes and this segment are not sent
      return;
    }
    ++strip_missed_;
  }
  release(segment, out);
  end_event();
}

void SseUsageTap::partial_event(std::string_view segment, std::vector<std::string_view>& out) {
  extend_carry(segment);
  event_bytes_ += segment.size();
  if (strip_ && !event_sent_ && !event_oversized_ && may_be_usage_only(carry_)) {
    held_.push_back(segment);
    event_held_ = true;
    return;
  }
  release(segment, out);
  event_sent_ = true;
}

void SseUsageTap::extend_carry(std::string_view segment) {
  if (event_oversized_) return;
  if (carry_.size() + segment.size() > kMaxCarry) {
    event_oversized_ = true;  // the carry keeps what it has: held bytes may still be released
    ++oversized_;
    return;
  }
  carry_.append(segment);
}

// Sends what is held of the current event, then `segment`.
void SseUsageTap::release(std::string_view segment, std::vector<std::string_view>& out) {
  if (event_held_) {
    if (held_before_ > 0) {
      // Only the first event of a call has bytes from an earlier call, so sent_ is free.
      sent_.assign(carry_.data(), held_before_);
      push(out, sent_);
    }
    for (const std::string_view v : held_) push(out, v);
    held_.clear();
    held_before_ = 0;
    event_held_ = false;
  }
  push(out, segment);
}

void SseUsageTap::end_event() {
  event_bytes_ = 0;
  event_sent_ = false;
  event_held_ = false;
  event_oversized_ = false;
  held_before_ = 0;
  carry_.clear();
  held_.clear();
}

SseUsageTap::Verdict SseUsageTap::classify(std::string_view event) {
  // What every event pays: no `"usage":{` (absent, or `"usage":null`), nothing to read.
  if (usage_json::next_usage_object(event, 0) == std::string_view::npos) return Verdict::other;
  const std::string_view json = data_payload(event);
  usage_json::EventJson read;
  if (json.empty() || !usage_json::read_event_json(json, read)) return Verdict::other;
  if (read.counts.prompt) prompt_tokens_ = read.counts.prompt;
  if (read.counts.completion) completion_tokens_ = read.counts.completion;
  if (read.usage_only) return Verdict::usage_only;
  return read.counts.any() ? Verdict::usage : Verdict::other;
}

}  // namespace infergate
