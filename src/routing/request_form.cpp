// The model of a multipart/form-data request (RFC 7578), as OpenAI's audio endpoints take it
// (/v1/audio/transcriptions, /v1/audio/translations: a file part and text fields, "model" among
// them). No library of the stack parses multipart; this reads only the part boundaries and the
// part heads' Content-Disposition name, never the file bytes themselves.
#include <algorithm>
#include <optional>

#include "infergate/request_facts.hpp"

namespace infergate {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// ASCII case folding, as HTTP tokens need (Boost's istarts_with compares through a std::locale,
// copied per call: a shared refcount every worker would touch on every request's Content-Type).
bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
    return (a >= 'A' && a <= 'Z' ? a + 32 : a) == (b >= 'A' && b <= 'Z' ? b + 32 : b);
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of parameter `name` in a header value's `; name=value` list (value quoted or not).
std::optional<std::string_view> header_parameter(std::string_view value, std::string_view name) {
  for (std::size_t at = value.find(';'); at != std::string_view::npos; at = value.find(';', at + 1)) {
    const std::string_view param = trim(value.substr(at + 1));
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = trim(param.substr(0, eq));
    if (key.size() != name.size() || !iequals_prefix(key, name)) continue;
    const std::string_view v = trim(param.substr(eq + 1));
    if (!v.empty() && v.front() == '"') {
      const std::size_t close = v.find('"', 1);
      if (close == std::string_view::npos) return std::nullopt;
      return v.substr(1, close - 1);
    }
    return trim(v.substr(0, v.find(';')));
  }
  return std::nullopt;
}

// The form field name of a part from its head (the lines between the delimiter and the blank
// line): Content-Disposition: form-data; name="...". Empty when the part has none.
std::string_view field_name(std::string_view head) {
  while (!head.empty()) {
    const std::size_t end = std::min(head.find(kCrlf), head.size());
    const std::string_view line = head.substr(0, end);
    head.remove_prefix(std::min(end + kCrlf.size(), head.size()));
    constexpr std::string_view kDisposition = "content-disposition:";
    if (!iequals_prefix(line, kDisposition)) continue;
    return header_parameter(line.substr(kDisposition.size()), "name").value_or(std::string_view{});
  }
  return {};
}

}  // namespace

std::optional<std::string_view> form_boundary(std::string_view content_type) {
  constexpr std::string_view kMultipart = "multipart/form-data";
  content_type = trim(content_type);
  if (!iequals_prefix(content_type, kMultipart)) return std::nullopt;
  const std::string_view rest = content_type.substr(kMultipart.size());
  if (!rest.empty() && rest.front() != ';' && rest.front() != ' ' && rest.front() != '\t') {
    return std::nullopt;
  }
  auto boundary = header_parameter(content_type, "boundary");
  // RFC 2046: 1 to 70 characters.
  if (!boundary || boundary->empty() || boundary->size() > 70) return std::string_view{};
  return boundary;
}

namespace {

// The position of the CRLF that starts the next delimiter line at or after `from`: CRLF, then
// `delimiter` ("--" boundary), then "--" (the close delimiter) or optional spaces and CRLF. The
// same bytes followed by anything else are content.
std::size_t find_delimiter(std::string_view body, std::string_view delimiter, std::size_t from) {
  const std::string line_start = std::string(kCrlf) + std::string(delimiter);
  for (std::size_t at = body.find(line_start, from); at != std::string_view::npos;
       at = body.find(line_start, at + 1)) {
    std::size_t after = at + line_start.size();
    if (body.substr(after).starts_with("--")) return at;
    while (after < body.size() && (body[after] == ' ' || body[after] == '\t')) ++after;
    if (body.substr(after).starts_with(kCrlf)) return at;
  }
  return std::string_view::npos;
}

}  // namespace

boost::system::result<RequestFacts, ErrorKind> extract_form_facts(std::string_view body,
                                                                  std::string_view boundary) {
  if (boundary.empty()) return ErrorKind::invalid_form;
  const std::string delimiter = "--" + std::string(boundary);
  // The first delimiter opens the body (a preamble before it is allowed); each later one is
  // preceded by CRLF, which belongs to the delimiter, not to the part before it.
  std::size_t at = body.starts_with(delimiter) ? 0 : find_delimiter(body, delimiter, 0);
  if (at == std::string_view::npos) return ErrorKind::invalid_form;
  if (at != 0) at += kCrlf.size();
  RequestFacts facts;
  facts.form = true;
  bool have_model = false;
  for (;;) {
    at += delimiter.size();
    if (body.substr(at).starts_with("--")) break;  // the close delimiter: done
    // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
    while (at < body.size() && (body[at] == ' ' || body[at] == '\t')) ++at;
    if (!body.substr(at).starts_with(kCrlf)) return ErrorKind::invalid_form;
    at += kCrlf.size();
    // A part without header lines starts its content right after the delimiter's CRLF.
    const bool no_head = body.substr(at).starts_with(kCrlf);
    const std::size_t head_end = no_head ? at : body.find("\r\n\r\n", at);
    if (head_end == std::string_view::npos) return ErrorKind::invalid_form;
    const std::string_view head = body.substr(at, head_end - at);
    const std::size_t content = head_end + (no_head ? kCrlf.size() : 2 * kCrlf.size());
    const std::size_t end = find_delimiter(body, delimiter, content);
    if (end == std::string_view::npos) return ErrorKind::invalid_form;
    const std::string_view name = field_name(head);
    const std::string_view value = body.substr(content, end - content);
    if (name == "model") {
      if (have_model) return ErrorKind::duplicate_model;
      have_model = true;
      facts.model = std::string(value);
      facts.model_offset = content;
      facts.model_length = value.size();
    } else if (name == "stream") {
      facts.stream = value == "true";
    }
    at = end + kCrlf.size();
  }
  if (!have_model) return ErrorKind::missing_model;
  return facts;
}

}  // namespace infergate
