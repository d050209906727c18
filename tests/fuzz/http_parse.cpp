// Fuzz target: what a client and a model server send us as HTTP/1.1 (our head handling on
// Beast's basic_parser). The first byte picks request or response and how the bytes arrive.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "proxy/http_parse.hpp"

using namespace infergate;
using infergate::proxy::error_code;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool response = data[0] & 1;
  const std::uint32_t seed = data[0];
  const std::string_view input = fuzz::text(data + 1, size - 1);
  // Bytes arrive in reads; what a parser did not consume is presented again with the next read.
  std::string pending;
  error_code ec;
  if (!response) {
    std::string body, target;
    proxy::FieldList fields;
    proxy::RequestParser parser(body, fields, target);
    parser.header_limit(16 * 1024);
    parser.body_limit(1 << 20);
    for (const std::string_view piece : fuzz::pieces(input, seed)) {
      pending.append(piece);
      while (!pending.empty() && !parser.is_done()) {
        const std::size_t used = parser.feed(pending.data(), pending.size(), ec);
        pending.erase(0, used);
        if (ec || used == 0) break;
      }
      if (ec == proxy::http::error::need_more) ec = {};
      if (ec || parser.is_done()) break;
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
      (void)fields.hop_by_hop(i);
      (void)fields.name(i);
      (void)fields.value(i);
    }
    (void)fields.find(proxy::http::field::content_type);
    return 0;
  }
  proxy::FieldList fields;
  std::string reason;
  std::vector<std::string_view> body_pieces;
  proxy::ResponseParser parser(fields, reason, body_pieces);
  for (const std::string_view piece : fuzz::pieces(input, seed)) {
    pending.append(piece);
    while (!pending.empty() && !parser.is_done()) {
      body_pieces.clear();
      const std::size_t used = parser.feed(pending.data(), pending.size(), ec);
      pending.erase(0, used);
      if (ec || used == 0) break;
    }
    if (ec == proxy::http::error::need_more) ec = {};
    if (ec || parser.is_done()) break;
  }
  // The server closed: as relay.cpp does, only a body read to the end of the stream needs it.
  if (!ec && parser.need_eof()) parser.feed_eof(ec);
  // A status the proxy relays is a real one (RFC 9110 15: 100..599); anything else is a 502.
  if (!ec && parser.is_header_done()) fuzz::check(parser.status() >= 100 && parser.status() <= 599);
  for (std::size_t i = 0; i < fields.size(); ++i) (void)fields.hop_by_hop(i);
  return 0;
}
