// Fuzz target: a Kubernetes watch stream (newline-delimited JSON events cut anywhere by chunks
// and reads), and list and Status bodies, decoded as a reflector does.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "k8s/watch_events.hpp"

using namespace infergate;
using namespace infergate::k8s::detail;

namespace {

std::vector<std::string> split(std::string_view stream, std::uint32_t seed, bool whole) {
  std::vector<std::string> lines;
  LineSplitter splitter(1 << 16);
  const auto on_line = [&](std::string_view line) { lines.emplace_back(line); };
  if (whole) {
    if (!splitter.feed(stream, on_line)) lines.push_back("<too long>");
  } else {
    for (const std::string_view piece : fuzz::pieces(stream, seed)) {
      if (!splitter.feed(piece, on_line)) {
        lines.push_back("<too long>");
        break;
      }
    }
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view stream = fuzz::text(data + 1, size - 1);
  static Decoder decoder;
  static Decoder narrow({"metadata.labels", "spec", "status.podIP"});
  // Where the reads cut the stream must not change its lines.
  const auto lines = split(stream, data[0], true);
  fuzz::check(lines == split(stream, data[0], false));
  WatchEvent event;
  std::string error;
  for (const std::string& line : lines) {
    (void)decoder.decode_event(line, event, error);
    (void)narrow.decode_event(line, event, error);
  }
  ListPage page;
  (void)decoder.decode_list(stream, page, error);
  (void)narrow.decode_list(stream, page, error);
  (void)decoder.decode_status(stream);
  return 0;
}
