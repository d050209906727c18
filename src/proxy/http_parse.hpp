// Incremental HTTP/1.1 parsers for the proxy, on Beast's basic_parser (internal to src/proxy).
//
// Why not beast::http::parser<Body>: a proxy wants the head's fields as they come (to filter
// hop-by-hop ones while copying) and the response body as views into its read buffer (to write
// them to the client at once, without a copy). Fields live in a reusable arena, so a session
// parses message after message without allocating once its buffers have grown.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::proxy {

namespace http = boost::beast::http;
using boost::system::error_code;
using bsv = boost::beast::string_view;  // what basic_parser hands out (boost::core::string_view)

// The fields of one message head, stored by offset in one arena string.
class FieldList {
 public:
  void clear() noexcept {
    arena_.clear();
    refs_.clear();
  }
  void add(http::field id, std::string_view name, std::string_view value);
  std::size_t size() const noexcept { return refs_.size(); }
  http::field id(std::size_t i) const noexcept { return refs_[i].id; }
  std::string_view name(std::size_t i) const noexcept {
    return {arena_.data() + refs_[i].name_off, refs_[i].name_len};
  }
  std::string_view value(std::size_t i) const noexcept {
    return {arena_.data() + refs_[i].value_off, refs_[i].value_len};
  }
  // Hop-by-hop (RFC 9110 7.6.1): the fixed set, any Proxy-*, and every name the message's own
  // Connection fields list. Such fields are never forwarded.
  bool hop_by_hop(std::size_t i) const noexcept;
  // First value of a field, empty when absent.
  std::string_view find(http::field id) const noexcept;

 private:
  struct Ref {
    std::uint32_t name_off, value_off;
    std::uint32_t name_len, value_len;
    http::field id;
  };
  std::string arena_;
  std::vector<Ref> refs_;
};

// Parses one request head and body. The body is appended to `body`, which the session reuses
// across requests; its capacity is kept at least size + kBodyPadding when the length is known,
// so simdjson can parse it in place.
class RequestParser final : public http::basic_parser<true> {
 public:
  RequestParser(std::string& body, FieldList& fields, std::string& target);

  // basic_parser::put on one contiguous piece; returns the bytes consumed.
  std::size_t feed(const char* data, std::size_t size, error_code& ec);

  http::verb method() const noexcept { return method_; }
  int version() const noexcept { return version_; }
  bool expect_continue() const noexcept { return expect_continue_; }

 private:
  void on_request_impl(http::verb method, bsv method_str, bsv target, int version,
                       error_code& ec) override;
  void on_response_impl(int, bsv, int, error_code&) override {}
  void on_field_impl(http::field name, bsv name_string, bsv value, error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(bsv body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, bsv, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t remain, bsv body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  std::string& body_;
  FieldList& fields_;
  std::string& target_;
  http::verb method_ = http::verb::unknown;
  int version_ = 11;
  bool expect_continue_ = false;
};

// Parses one response. Body bytes are not copied: each feed() appends views of the fed buffer
// to `pieces`, valid until the caller consumes that buffer.
class ResponseParser final : public http::basic_parser<false> {
 public:
  ResponseParser(FieldList& fields, std::string& reason, std::vector<std::string_view>& pieces);

  std::size_t feed(const char* data, std::size_t size, error_code& ec);
  void feed_eof(error_code& ec) { put_eof(ec); }

  unsigned status() const noexcept { return status_; }
  int version() const noexcept { return version_; }
  bool event_stream() const noexcept { return event_stream_; }

 private:
  void on_request_impl(http::verb, bsv, bsv, int, error_code&) override {}
  void on_response_impl(int code, bsv reason, int version, error_code& ec) override;
  void on_field_impl(http::field name, bsv name_string, bsv value, error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(bsv body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, bsv, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t remain, bsv body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}

  FieldList& fields_;
  std::string& reason_;
  std::vector<std::string_view>& pieces_;
  unsigned status_ = 0;
  int version_ = 11;
  bool event_stream_ = false;
};

// Case-insensitive ASCII comparison for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace infergate::proxy
