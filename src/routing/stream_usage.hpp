// Asking a model server for the usage of a streamed response the client did not ask usage for.
//
// OpenAI-compatible servers (vLLM, SGLang, OpenAI) send a streamed response's token counts only
// when the request says "stream_options":{"include_usage":true}: one last event before
// `data: [DONE]` whose "choices" is empty. To account tokens of every stream, the gateway adds
// that option to a streamed request that has no "stream_options" of its own, and the response
// side (usage_reader.hpp, SseUsageTap) leaves that extra event out of what the client sees.
#pragma once

#include <string>
#include <string_view>

#include "infergate/request_facts.hpp"

namespace infergate {

// What is inserted, right after the body's top-level `{`.
inline constexpr std::string_view kIncludeUsageMember = R"("stream_options":{"include_usage":true},)";

// Whether add_include_usage would change this body: `facts` were extracted from it (JSON, not a
// form), "stream" is true, the body has no top-level "stream_options" key at all (a client that
// set one, even without include_usage, keeps it as it is: a second key would be read differently
// by different parsers), and the object is not empty.
bool can_add_include_usage(std::string_view body, const RequestFacts& facts);

// When can_add_include_usage: replaces `out` with the body plus kIncludeUsageMember after its
// top-level `{` (every other byte unchanged) and returns true. Otherwise returns false and leaves
// `out` alone: the body goes upstream as it is and nothing is to be stripped from the response.
// `out` is a buffer the caller keeps, so its capacity is reused from request to request.
bool add_include_usage(std::string_view body, const RequestFacts& facts, std::string& out);

// Both edits in one copy: replaces `out` with the body whose model token is `served_model`
// (exactly as rewrite_model does) and, when can_add_include_usage, kIncludeUsageMember after the
// top-level `{`. Returns whether the member was added.
bool add_include_usage(std::string_view body, const RequestFacts& facts,
                       std::string_view served_model, std::string& out);

}  // namespace infergate
