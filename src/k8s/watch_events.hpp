// Decoding what the API server sends: list pages and watch events (simdjson), and the splitter that
// turns a watch's byte stream (newline-delimited JSON cut at arbitrary points by HTTP chunks and
// reads) into whole lines. No I/O here.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infergate::k8s::detail {

// "namespace/name", or "name" for a cluster-scoped object.
std::string object_key(std::string_view namespace_name, std::string_view name);

// Reassembles lines from pieces. A line longer than `max_line` is an error (the stream is broken or
// is not a watch), reported by feed() returning false.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line = 64 * 1024 * 1024) : max_line_(max_line) {}

  // Calls on_line for each complete line in `data` (without the '\n'; empty lines skipped). A line
  // cut at the end of `data` is kept for the next call. Returns false when a line grew too long.
  bool feed(std::string_view data, const std::function<void(std::string_view)>& on_line);
  void reset() { partial_.clear(); }
  std::size_t pending() const { return partial_.size(); }

 private:
  std::size_t max_line_;
  std::string partial_;
};

enum class EventType { added, modified, deleted, bookmark, error };
const char* to_string(EventType type);

struct WatchEvent {
  EventType type = EventType::error;
  std::string key;               // object_key of the object (empty for BOOKMARK and ERROR)
  std::string resource_version;  // metadata.resourceVersion of the object (of the bookmark)
  std::string object_json;       // the object, minified (ADDED/MODIFIED/DELETED)
  int code = 0;                  // ERROR: the Status' code (410 = resourceVersion too old)
  std::string message;           // ERROR: the Status' reason and message
};

struct ListPage {
  std::string resource_version;  // metadata.resourceVersion of the list
  std::string continue_token;    // metadata.continue: empty on the last page
  std::vector<std::pair<std::string, std::string>> items;  // key -> object JSON (minified)
};

// A Status body (from an error response): its code, reason and message, for logs.
struct StatusInfo {
  int code = 0;
  std::string reason;
  std::string message;
};

// Decoders reuse one simdjson parser: one per reflector, used from one thread. Objects come out
// whole (minified), or with only the fields at `keep_fields` (WatchScope::keep_fields).
class Decoder {
 public:
  explicit Decoder(const std::vector<std::string>& keep_fields = {});
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // One watch line. On failure returns false with `error` saying what is wrong.
  bool decode_event(std::string_view line, WatchEvent& out, std::string& error);
  // One list response body.
  bool decode_list(std::string_view body, ListPage& out, std::string& error);
  // Best effort: a Status object in an error body; empty fields when it is not one.
  StatusInfo decode_status(std::string_view body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace infergate::k8s::detail
