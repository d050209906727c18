// YAML text -> one document node, with the checks yaml-cpp 0.7 leaves out (see the header).
#include "routing/yaml_document.hpp"

#include <optional>
#include <sstream>
#include <string_view>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "infergate/config.hpp"

namespace infergate {
namespace {

// Line `line` (0-based) of `text`, without its newline; empty past the end.
std::string_view line_of(std::string_view text, int line) {
  for (int i = 0; i < line; ++i) {
    const std::size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return {};
    text.remove_prefix(newline + 1);
  }
  return text.substr(0, text.find('\n'));
}

// "[::1]:8000" written without quotes: YAML reads a list and then stumbles on ":8000".
bool has_bare_ipv6(std::string_view line) {
  for (std::size_t open = line.find('['); open != std::string_view::npos;
       open = line.find('[', open + 1)) {
    const std::size_t close = line.find("]:", open);
    if (close == std::string_view::npos) return false;
    const std::string_view inside = line.substr(open + 1, close - open - 1);
    if (inside.find(':') != std::string_view::npos &&
        inside.find_first_not_of("0123456789abcdefABCDEF:.") == std::string_view::npos) {
      return true;
    }
  }
  return false;
}

struct YamlOutline {
  int first_line = -1;  // 0-based; -1 when there is no content
  int first_column = -1;
  std::string_view first_text;  // the first content line, from its first non-blank character
};

// Where a YAML text's content starts, found on the text. Comments, blank lines, directives and
// document markers are not content.
YamlOutline first_content(std::string_view text) {
  YamlOutline outline;
  for (int index = 0; !text.empty(); ++index) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line[start] == '#') continue;
    const bool marker = (line.starts_with("---") || line.starts_with("...")) &&
                        (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
    if (marker || line.front() == '%') continue;
    outline.first_line = index;
    outline.first_column = static_cast<int>(start);
    outline.first_text = line.substr(start);
    break;
  }
  return outline;
}


// Notes where a document's first content is; builds nothing.
class ContentProbe final : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> first;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& mark) {
    if (!first) first = mark;
  }
};

// yaml-cpp's Load() reads the first document and ignores the rest without a word: after a
// "---", a '%' line, or a line indented less than the first ("%models:" or a stray leading
// space would drop settings). The issue for content after the first document, if any. At most
// two documents are read: LoadAll() never returns on some malformed input.
std::optional<ConfigIssue> content_after_first_document(const std::string& yaml,
                                                        const std::string& name) {
  std::istringstream stream(yaml);
  YAML::Parser parser(stream);
  ContentProbe first_document, second_document;
  try {
    if (!parser.HandleNextDocument(first_document)) return std::nullopt;
    if (!parser.HandleNextDocument(second_document) || !second_document.first) return std::nullopt;
  } catch (const YAML::ParserException& e) {
    return ConfigIssue{name, e.mark.line + 1, e.mark.column + 1, "", e.msg};
  }
  const YAML::Mark& mark = *second_document.first;
  return ConfigIssue{name, mark.line + 1, mark.column + 1, "",
                     "the YAML document ended before this line (indentation above, '---' or a "
                     "'%' directive): the config must be one document"};
}

}  // namespace

YAML::Node parse_yaml_document(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);  // not LoadAll: it loops forever on some malformed input
  } catch (const YAML::ParserException& e) {
    std::string message = e.msg;
    if (has_bare_ipv6(line_of(yaml, e.mark.line))) {
      message += " (quote IPv6 addresses in YAML: \"[::1]:8000\")";
    }
    throw ConfigError({{name, e.mark.line + 1, e.mark.column + 1, "", std::move(message)}});
  }
  const YamlOutline outline = first_content(yaml);
  if (root.IsNull() && outline.first_line >= 0 && outline.first_text != "~" &&
      !outline.first_text.starts_with("null")) {
    // yaml-cpp returns an empty document for some malformed starts: never read that as "defaults".
    throw ConfigError({{name, outline.first_line + 1, outline.first_column + 1, "",
                        "expected a map of settings (key: value)"}});
  }
  if (auto rest = content_after_first_document(yaml, name)) throw ConfigError({std::move(*rest)});
  return root;
}

}  // namespace infergate
