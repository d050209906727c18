// List pages and watch events decoded with simdjson's DOM (objects are re-serialized minified for
// the consumers, whole or only the fields kept), and the line splitter.
#include "k8s/watch_events.hpp"

#include <map>

#include <simdjson.h>

namespace infergate::k8s::detail {

std::string object_key(std::string_view namespace_name, std::string_view name) {
  if (namespace_name.empty()) return std::string(name);
  std::string key;
  key.reserve(namespace_name.size() + 1 + name.size());
  key.append(namespace_name).append("/").append(name);
  return key;
}

bool LineSplitter::feed(std::string_view data,
                        const std::function<void(std::string_view)>& on_line) {
  // A line's CR is dropped wherever the read was cut: "...}\r" + "\n" is the same line as
  // "...}\r\n" in one read, and a lone "\r" line is an empty one (skipped).
  const auto emit = [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) on_line(line);
  };
  while (!data.empty()) {
    auto newline = data.find('\n');
    if (newline == std::string_view::npos) {
      if (partial_.size() + data.size() > max_line_) return false;
      partial_.append(data);
      return true;
    }
    std::string_view piece = data.substr(0, newline);
    data.remove_prefix(newline + 1);
    if (partial_.empty()) {
      emit(piece);
      continue;
    }
    if (partial_.size() + piece.size() > max_line_) return false;
    partial_.append(piece);
    std::string line = std::move(partial_);
    partial_.clear();
    emit(line);
  }
  return true;
}

const char* to_string(EventType type) {
  switch (type) {
    case EventType::added: return "ADDED";
    case EventType::modified: return "MODIFIED";
    case EventType::deleted: return "DELETED";
    case EventType::bookmark: return "BOOKMARK";
    case EventType::error: return "ERROR";
  }
  return "?";
}

namespace {

std::string_view string_or_empty(simdjson::dom::element element, std::string_view field) {
  std::string_view value;
  if (element[field].get_string().get(value) != simdjson::SUCCESS) return {};
  return value;
}

// metadata.namespace / name / resourceVersion of an object.
struct Meta {
  std::string_view namespace_name, name, resource_version;
  bool has_metadata = false;
};
Meta read_meta(simdjson::dom::element object) {
  Meta meta;
  simdjson::dom::element metadata;
  if (object["metadata"].get(metadata) != simdjson::SUCCESS || !metadata.is_object()) return meta;
  meta.has_metadata = true;
  meta.namespace_name = string_or_empty(metadata, "namespace");
  meta.name = string_or_empty(metadata, "name");
  meta.resource_version = string_or_empty(metadata, "resourceVersion");
  return meta;
}

StatusInfo read_status(simdjson::dom::element object) {
  StatusInfo status;
  int64_t code = 0;
  if (object["code"].get_int64().get(code) == simdjson::SUCCESS) status.code = int(code);
  status.reason = std::string(string_or_empty(object, "reason"));
  status.message = std::string(string_or_empty(object, "message"));
  return status;
}

}  // namespace

// The kept fields as a tree: "/status/podIP" and "/status/conditions" share one "status" node.
struct KeptFields {
  std::map<std::string, KeptFields, std::less<>> children;
  bool whole = false;  // this field is kept with everything under it

  void add(std::string_view path) {
    KeptFields* node = this;
    while (!path.empty() && !node->whole) {
      if (path.front() == '/') path.remove_prefix(1);
      const std::string_view name = path.substr(0, path.find('/'));
      path.remove_prefix(name.size());
      if (name.empty()) continue;
      node = &node->children[std::string(name)];
    }
    node->whole = true;
    node->children.clear();
  }

  // The kept fields of `object`, minified; those it lacks are left out, and so is an object
  // left with none of them. Returns whether any field was written.
  bool project(simdjson::dom::object object, std::string& out) const {
    out += '{';
    bool any = false;
    for (const auto& [name, child] : children) {
      simdjson::dom::element value;
      if (object[name].get(value) != simdjson::SUCCESS) continue;
      simdjson::dom::object inner;
      if (!child.whole && value.get_object().get(inner) != simdjson::SUCCESS) continue;
      const std::size_t mark = out.size();
      if (any) out += ',';
      out += '"';
      out += name;  // a name from our own paths: nothing to escape
      out += "\":";
      if (child.whole) {
        out += simdjson::minify(value);
      } else if (!child.project(inner, out)) {
        out.resize(mark);
        continue;
      }
      any = true;
    }
    out += '}';
    return any;
  }
};

struct Decoder::Impl {
  simdjson::dom::parser parser;
  KeptFields kept;

  std::string serialize(simdjson::dom::element object) const {
    if (kept.children.empty()) return simdjson::minify(object);
    std::string out;
    kept.project(object.get_object().value_unsafe(), out);
    return out;
  }
};

Decoder::Decoder(const std::vector<std::string>& keep_fields) : impl_(std::make_unique<Impl>()) {
  for (const std::string& path : keep_fields) impl_->kept.add(path);
}
Decoder::~Decoder() = default;

bool Decoder::decode_event(std::string_view line, WatchEvent& out, std::string& error) {
  simdjson::dom::element root;
  if (auto ec = impl_->parser.parse(line.data(), line.size()).get(root)) {
    error = std::string("not JSON: ") + simdjson::error_message(ec);
    return false;
  }
  std::string_view type;
  simdjson::dom::element object;
  if (root["type"].get_string().get(type) != simdjson::SUCCESS ||
      root["object"].get(object) != simdjson::SUCCESS || !object.is_object()) {
    error = "not a watch event (no type or object)";
    return false;
  }
  out = WatchEvent{};
  if (type == "ADDED") out.type = EventType::added;
  else if (type == "MODIFIED") out.type = EventType::modified;
  else if (type == "DELETED") out.type = EventType::deleted;
  else if (type == "BOOKMARK") out.type = EventType::bookmark;
  else if (type == "ERROR") out.type = EventType::error;
  else {
    error = "unknown event type " + std::string(type);
    return false;
  }
  if (out.type == EventType::error) {
    StatusInfo status = read_status(object);
    out.code = status.code;
    out.message = status.reason + (status.reason.empty() ? "" : ": ") + status.message;
    return true;
  }
  Meta meta = read_meta(object);
  out.resource_version = std::string(meta.resource_version);
  if (out.type == EventType::bookmark) return true;
  if (meta.name.empty()) {
    error = std::string(to_string(out.type)) + " event without metadata.name";
    return false;
  }
  out.key = object_key(meta.namespace_name, meta.name);
  out.object_json = impl_->serialize(object);
  return true;
}

bool Decoder::decode_list(std::string_view body, ListPage& out, std::string& error) {
  simdjson::dom::element root;
  if (auto ec = impl_->parser.parse(body.data(), body.size()).get(root)) {
    error = std::string("list response is not JSON: ") + simdjson::error_message(ec);
    return false;
  }
  simdjson::dom::element items_element;
  if (root["items"].get(items_element) != simdjson::SUCCESS ||
      !(items_element.is_array() || items_element.is_null())) {
    error = "list response without an items array";
    return false;
  }
  out = ListPage{};
  Meta list_meta = read_meta(root);
  out.resource_version = std::string(list_meta.resource_version);
  simdjson::dom::element metadata;
  if (root["metadata"].get(metadata) == simdjson::SUCCESS)
    out.continue_token = std::string(string_or_empty(metadata, "continue"));
  if (items_element.is_null()) return true;  // "items": null is an empty list
  simdjson::dom::array items = items_element.get_array().value_unsafe();
  out.items.reserve(items.size());
  for (simdjson::dom::element item : items) {
    Meta meta = read_meta(item);
    if (meta.name.empty()) continue;  // not an object of the API: nothing can address it
    out.items.emplace_back(object_key(meta.namespace_name, meta.name), impl_->serialize(item));
  }
  return true;
}

StatusInfo Decoder::decode_status(std::string_view body) {
  simdjson::dom::element root;
  if (impl_->parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS ||
      !root.is_object())
    return {};
  return read_status(root);
}

}  // namespace infergate::k8s::detail
