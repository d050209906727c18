// Adding include_usage to a streamed request: an insertion at a known place, no re-serialization.
//
// The facts walk already validated the body as one JSON object, so its first non-whitespace byte
// is the top-level `{`, and the model token (model_offset) lies after it: inserting there shifts
// the model token by the length of the insertion, which is how both edits share one copy.
#include "routing/stream_usage.hpp"

#include "infergate/errors.hpp"

namespace infergate {
namespace {

constexpr std::string_view kJsonSpace = " \t\n\r";

// Offset just past the top-level `{`, or npos when the body does not start with an object that
// has a member (the facts say it does; this is the check that keeps a mistake from breaking it).
std::size_t insertion_point(std::string_view body) {
  const std::size_t brace = body.find_first_not_of(kJsonSpace);
  if (brace == std::string_view::npos || body[brace] != '{') return std::string_view::npos;
  const std::size_t next = body.find_first_not_of(kJsonSpace, brace + 1);
  if (next == std::string_view::npos || body[next] == '}') return std::string_view::npos;
  return brace + 1;
}

void append_model_token(std::string& out, const RequestFacts& facts, std::string_view served_model) {
  if (facts.form) {
    out += served_model;  // a form field's bytes, as rewrite_model writes them
    return;
  }
  out += '"';
  append_json_escaped(out, served_model);
  out += '"';
}

}  // namespace

bool can_add_include_usage(std::string_view body, const RequestFacts& facts) {
  return facts.stream && !facts.stream_options && !facts.form &&
         insertion_point(body) != std::string_view::npos;
}

bool add_include_usage(std::string_view body, const RequestFacts& facts, std::string& out) {
  if (!can_add_include_usage(body, facts)) return false;
  const std::size_t at = insertion_point(body);
  out.clear();
  out.reserve(body.size() + kIncludeUsageMember.size());
  out.append(body.substr(0, at));
  out.append(kIncludeUsageMember);
  out.append(body.substr(at));
  return true;
}

bool add_include_usage(std::string_view body, const RequestFacts& facts,
                       std::string_view served_model, std::string& out) {
  // The insertion point comes before the model token, so the copy is five runs: head,
  // insertion, the bytes up to the model token, the new token, the rest.
  const bool add = can_add_include_usage(body, facts) && insertion_point(body) <= facts.model_offset;
  const std::size_t at = add ? insertion_point(body) : 0;
  const std::size_t model_end = facts.model_offset + facts.model_length;
  out.clear();
  out.reserve(body.size() + (add ? kIncludeUsageMember.size() : 0) + served_model.size() + 16);
  out.append(body.substr(0, at));
  if (add) out.append(kIncludeUsageMember);
  out.append(body.substr(at, facts.model_offset - at));
  append_model_token(out, facts, served_model);
  out.append(body.substr(model_end));
  return add;
}

}  // namespace infergate
