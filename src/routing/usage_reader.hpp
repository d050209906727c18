// The real token counts of a response, read on the way through without holding the body.
//
// A JSON response states its `usage` near its end; the proxy keeps only the last few KiB of the
// body (BodyTail) and find_usage reads the counts from there. A streamed (SSE) response states
// it in its last data event; SseUsageTap looks at each read's body pieces as they pass, reads it,
// and, when the gateway itself asked the server for it (stream_usage.hpp), leaves the usage-only
// event out of what the client sees, sending every other byte as sub-views of the input.
// No exceptions; hostile or truncated input gives no usage, never a crash or an over-read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace infergate {

// Token counts as the server reports them: "prompt_tokens" / "completion_tokens" (OpenAI chat
// and completions, vLLM, SGLang), or "input_tokens" / "output_tokens" (the Responses API,
// Anthropic's Messages API; Anthropic's cache_*_input_tokens are not added). A count the server
// did not state is 0.
struct Usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  bool operator==(const Usage&) const = default;
};

// The usage of a JSON usage object's text (`{...}`, one object): nullopt unless it is a valid
// object with at least one of the four counts as a non-negative integer.
std::optional<Usage> parse_usage_object(std::string_view object);

// The usage of a JSON response body from its last bytes (the whole body works too): the last
// `"usage":{...}` whose object is complete in `json_tail` and has a count (a tool schema echoed
// earlier in a Responses body may name a property "usage"; the response's own comes after it).
std::optional<Usage> find_usage(std::string_view json_tail);

// The last bytes of a response body, copied as its pieces pass. With the declared length
// (Content-Length) only bytes within the last `size` of it are copied, so a large body costs a
// comparison per piece; without one (a chunked JSON body) each piece's last bytes are kept, up to
// `size` in all. The buffer is allocated on the first copy and kept across reset().
class BodyTail {
 public:
  static constexpr std::size_t kDefaultSize = 4096;

  explicit BodyTail(std::optional<std::uint64_t> content_length = std::nullopt,
                    std::size_t size = kDefaultSize);
  void reset(std::optional<std::uint64_t> content_length);
  void append(std::string_view piece);
  void append(std::span<const std::string_view> pieces) {
    for (const std::string_view piece : pieces) append(piece);
  }
  std::string_view view() const { return buffer_; }
  std::optional<Usage> usage() const { return find_usage(buffer_); }

 private:
  std::string buffer_;
  std::size_t size_;
  std::optional<std::uint64_t> length_;
  std::uint64_t seen_ = 0;  // body bytes passed so far
};

// Reads the usage of a text/event-stream body, and optionally leaves out the usage-only event.
//
// Events end at a blank line ("\n\n", or "\r\n\r\n"; lines ending in a lone CR are not
// recognised). Every complete event is searched for a `"usage"` key whose value is an object
// (a memmem; `"usage":null` stops there); only such events are parsed (simdjson, one copy of the
// data lines into a padded per-thread buffer). Counts found in the top-level "usage", or in the
// "usage" of a top-level "response" (Responses API) or "message" (Anthropic's message_start),
// replace those found before, count by count: the last statement wins, and Anthropic's input
// count (message_start) and output count (message_delta) combine.
//
// Stripping (when constructed with strip = true): an event whose top-level "choices" is an
// empty array and whose top-level "usage" is an object is left out, its blank line included.
// An event split across pieces or reads is copied into a carry (at most kMaxCarry bytes) to be
// parsed; when stripping, a split event that may still turn out to be the usage-only one (no
// non-empty "choices" seen yet) is held back until it is complete, and then either dropped or
// sent from the tap's own buffer. Nothing is lost for the client by that: an incomplete event is
// not one it can use. An event above kMaxCarry is neither parsed nor held (oversized_events()).
class SseUsageTap {
 public:
  static constexpr std::size_t kMaxCarry = 16 * 1024;

  explicit SseUsageTap(bool strip = false) : strip_(strip) {}
  void reset(bool strip);

  // One read's body pieces, in order. Appends to `out` the pieces to send on, in order: sub-views
  // of `in` (adjacent ones merged) and, at most once per call, a view of bytes held back from an
  // earlier call. Those views are valid until the next feed(), finish() or reset(); views of `in`
  // as long as `in`'s bytes. Without stripping, `out` receives exactly the bytes of `in`.
  void feed(std::span<const std::string_view> in, std::vector<std::string_view>& out);
  void feed(std::string_view piece, std::vector<std::string_view>& out) { feed({&piece, 1}, out); }
  // The end of the body: bytes still held back (an event without its blank line) are appended
  // to `out`, and such a last event is searched for usage too.
  void finish(std::vector<std::string_view>& out);

  // The counts seen so far; nullopt when no usage object with a count was seen.
  std::optional<Usage> usage() const;
  std::size_t stripped() const { return stripped_; }  // usage-only events left out
  // A usage-only event that had to be sent (it was oversized, or its start had already gone
  // out): the client sees the extra event the gateway asked for. Its usage is still read.
  bool strip_missed() const { return strip_missed_ > 0; }
  std::size_t strip_missed_count() const { return strip_missed_; }
  std::size_t oversized_events() const { return oversized_; }  // split events too long to parse

 private:
  enum class Verdict { other, usage, usage_only };

  void feed_piece(std::string_view piece, std::vector<std::string_view>& out);
  std::size_t find_event_end(std::string_view piece, std::size_t from);
  void complete_event(std::string_view segment, std::vector<std::string_view>& out);
  void partial_event(std::string_view segment, std::vector<std::string_view>& out);
  void extend_carry(std::string_view segment);
  void release(std::string_view segment, std::vector<std::string_view>& out);
  void end_event();
  Verdict classify(std::string_view event);

  bool strip_;
  // The line being read: how many bytes it has so far (2 means "some content"), and whether
  // they are a lone "\r" (a CRLF blank line split after its CR).
  std::uint8_t line_bytes_ = 0;
  bool line_cr_ = false;
  // The event being read.
  std::size_t event_bytes_ = 0;  // its bytes before the current piece's segment
  bool event_sent_ = false;      // some of them went out already: it can no longer be left out
  bool event_held_ = false;      // none went out: held in carry_ (earlier calls) and held_ (this one)
  bool event_oversized_ = false;
  std::size_t held_before_ = 0;  // bytes of carry_ held from earlier calls
  std::string carry_;            // the event's bytes when it spans pieces (kept for parsing)
  std::string sent_;             // held bytes released during this call (out points into them)
  std::vector<std::string_view> held_;  // held segments of this call's pieces
  bool finished_ = false;               // finish() handed out a view of carry_
  // What was seen.
  std::optional<std::uint64_t> prompt_tokens_, completion_tokens_;
  std::size_t stripped_ = 0;
  std::size_t strip_missed_ = 0;
  std::size_t oversized_ = 0;
};

}  // namespace infergate
