// Fuzz target: a model server's response body as the gateway reads its usage on the way through:
// a JSON body's tail, and an SSE stream cut into reads, with and without stripping the usage-only
// event the gateway asked for.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "routing/usage_reader.hpp"

using namespace infergate;

namespace {

// Feeds `stream` in reads of a few pieces each; returns the bytes the client would receive.
std::string tap(std::string_view stream, std::uint32_t seed, bool strip) {
  SseUsageTap reader(strip);
  const auto pieces = fuzz::pieces(stream, seed);
  std::vector<std::string_view> out;
  std::string sent;
  for (std::size_t i = 0; i < pieces.size(); i += 1 + (seed + i) % 3) {
    const std::size_t n = std::min<std::size_t>(pieces.size() - i, 1 + (seed + i) % 3);
    out.clear();
    reader.feed({pieces.data() + i, n}, out);
    for (const std::string_view v : out) sent.append(v);
  }
  out.clear();
  reader.finish(out);
  for (const std::string_view v : out) sent.append(v);
  (void)reader.usage();
  return sent;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint32_t seed = data[0];
  const std::string_view body = fuzz::text(data + 1, size - 1);
  (void)find_usage(body);
  (void)parse_usage_object(body);
  BodyTail tail(body.size(), 64 + seed);
  for (const std::string_view piece : fuzz::pieces(body, seed)) tail.append(piece);
  fuzz::check(tail.view().size() <= body.size());
  (void)tail.usage();
  BodyTail chunked(std::nullopt, 64 + seed);
  for (const std::string_view piece : fuzz::pieces(body, seed)) chunked.append(piece);
  // Without stripping, the client gets exactly the server's bytes; stripping only removes.
  fuzz::check(tap(body, seed, false) == body);
  fuzz::check(tap(body, seed, true).size() <= body.size());
  return 0;
}
