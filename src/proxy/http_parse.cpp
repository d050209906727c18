// Incremental HTTP/1.1 parsers: field arena, hop-by-hop rules, request and response callbacks.
#include "proxy/http_parse.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>

#include "infergate/request_facts.hpp"

namespace infergate::proxy {
namespace {

// A line of the head (before its blank line) that starts with a space or tab continues the one
// before it: obs-fold. Only the head is looked at; a body may hold anything.
bool has_obs_fold(std::string_view bytes) noexcept {
  const std::size_t end = bytes.find("\r\n\r\n");
  const std::string_view head = bytes.substr(0, end);
  return head.find("\n ") != std::string_view::npos || head.find("\n\t") != std::string_view::npos;
}


char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated list `list` holds `token` (case-insensitive).
bool list_has(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void FieldList::add(http::field id, std::string_view name, std::string_view value) {
  Ref ref;
  ref.id = id;
  ref.name_off = static_cast<std::uint32_t>(arena_.size());
  ref.name_len = static_cast<std::uint32_t>(name.size());
  arena_.append(name);
  ref.value_off = static_cast<std::uint32_t>(arena_.size());
  ref.value_len = static_cast<std::uint32_t>(value.size());
  arena_.append(value);
  refs_.push_back(ref);
}

std::string_view FieldList::find(http::field id) const noexcept {
  for (std::size_t i = 0; i < refs_.size(); ++i) {
    if (refs_[i].id == id) return value(i);
  }
  return {};
}

bool FieldList::hop_by_hop(std::size_t i) const noexcept {
  switch (id(i)) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_authenticate:
    case http::field::proxy_authorization:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
      return true;
    default:
      break;
  }
  const std::string_view n = name(i);
  if (istarts_with(n, "proxy-")) return true;
  for (std::size_t j = 0; j < refs_.size(); ++j) {
    if (refs_[j].id == http::field::connection && list_has(value(j), n)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

RequestParser::RequestParser(std::string& body, FieldList& fields, std::string& target)
    : body_(body), fields_(fields), target_(target) {
  body_.clear();
  fields_.clear();
  target_.clear();
}

std::size_t RequestParser::feed(const char* data, std::size_t size, error_code& ec) {
  const bool had_header = is_header_done();
  const std::size_t used = put(boost::asio::const_buffer(data, size), ec);
  // Obsolete line folding: RFC 9112 lets a server reject it (400), and one that forwards the
  // joined value may be read differently by the server behind it. basic_parser joins folded
  // lines silently, so the raw head is looked at once it is whole.
  if (!ec && !had_header && is_header_done() && has_obs_fold({data, used})) ec = http::error::bad_value;
  return used;
}

void RequestParser::on_request_impl(http::verb method, bsv, bsv target, int version, error_code&) {
  method_ = method;
  version_ = version;
  target_.assign(target);
}

void RequestParser::on_field_impl(http::field name, bsv name_string, bsv value, error_code& ec) {
  // A request's only transfer coding we decode is chunked; anything else (identity, gzip,
  // "chunked, chunked") next to a Content-Length is how requests are smuggled. Refused (400).
  if (name == http::field::transfer_encoding && !iequals(trim(value), "chunked")) {
    ec = http::error::bad_transfer_encoding;
    return;
  }
  if (name == http::field::expect && iequals(trim(value), "100-continue")) expect_continue_ = true;
  fields_.add(name, name_string, value);
}

void RequestParser::on_header_impl(error_code&) {}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code&) {
  // basic_parser refused a Content-Length above the body limit before calling this.
  if (content_length) body_.reserve(static_cast<std::size_t>(*content_length) + kBodyPadding);
}

std::size_t RequestParser::on_body_impl(bsv body, error_code&) {
  body_.append(body);
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, bsv body, error_code&) {
  body_.append(body);
  return body.size();
}

void RequestParser::on_finish_impl(error_code&) {
  // Chunked bodies grow by doubling; make sure simdjson still gets its padding in place.
  if (body_.capacity() < body_.size() + kBodyPadding) body_.reserve(body_.size() + kBodyPadding);
}

// ---------------------------------------------------------------------------------------------

ResponseParser::ResponseParser(FieldList& fields, std::string& reason,
                               std::vector<std::string_view>& pieces)
    : fields_(fields), reason_(reason), pieces_(pieces) {
  fields_.clear();
  reason_.clear();
  eager(true);
  body_limit(boost::none);  // the model server's answer is not ours to limit
}

std::size_t ResponseParser::feed(const char* data, std::size_t size, error_code& ec) {
  const bool had_header = is_header_done();
  const std::size_t used = put(boost::asio::const_buffer(data, size), ec);
  // A folded response header is not forwarded (RFC 9112 5.2 allows a 502 instead of unfolding).
  if (!ec && !had_header && is_header_done() && has_obs_fold({data, used})) ec = http::error::bad_value;
  return used;
}

void ResponseParser::on_response_impl(int code, bsv reason, int version, error_code& ec) {
  // Beast takes any three digits; a status outside RFC 9110's 100..599 is not relayed (502).
  if (code < 100 || code > 599) {
    ec = http::error::bad_status;
    return;
  }
  status_ = static_cast<unsigned>(code);
  version_ = version;
  reason_.assign(reason);
}

void ResponseParser::on_field_impl(http::field name, bsv name_string, bsv value, error_code&) {
  if (name == http::field::content_type && istarts_with(trim(value), "text/event-stream")) {
    event_stream_ = true;
  }
  fields_.add(name, name_string, value);
}

std::size_t ResponseParser::on_body_impl(bsv body, error_code&) {
  if (!body.empty()) pieces_.push_back(body);
  return body.size();
}

std::size_t ResponseParser::on_chunk_body_impl(std::uint64_t, bsv body, error_code&) {
  if (!body.empty()) pieces_.push_back(body);
  return body.size();
}

}  // namespace infergate::proxy
