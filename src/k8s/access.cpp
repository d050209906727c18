// Where the API server is and how to authenticate: in-cluster service-account files, kubeconfig
// (yaml-cpp), and client-go's order between them. Also the small ResourceKind helpers.
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "infergate/k8s/client.hpp"

namespace infergate::k8s {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AccessError(what + ": cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// kubeconfig's *-data fields are base64 (standard alphabet, padded).
std::string base64_decode(const std::string& encoded, const std::string& what) {
  std::string clean;
  for (char c : encoded)
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') clean.push_back(c);
  if (clean.size() % 4 != 0) throw AccessError(what + ": not base64");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), int(clean.size()));
  if (n < 0) throw AccessError(what + ": not base64");
  std::size_t padding = 0;
  for (auto it = clean.rbegin(); it != clean.rend() && *it == '='; ++it) ++padding;
  out.resize(std::size_t(n) - padding);
  return out;
}

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;  // IPv6 literal
}

// One kubeconfig file of a list, parsed; relative paths in it are relative to `base`.
struct KubeconfigFile {
  std::string path;
  fs::path base;
  YAML::Node root;
};

KubeconfigFile load_kubeconfig(const std::string& path) {
  const std::string text = read_text(path, "kubeconfig");
  KubeconfigFile file{path, fs::absolute(fs::path(path)).parent_path(), {}};
  try {
    file.root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw AccessError("kubeconfig " + path + ": not YAML: " + e.what());
  }
  if (!file.root.IsMap()) throw AccessError("kubeconfig " + path + ": not a YAML map");
  return file;
}

// The entry named `name` in a kubeconfig list (clusters, users, contexts): its inner map and the
// file it came from. As kubectl merges a KUBECONFIG list, the first file that defines a name wins.
struct Entry {
  YAML::Node body;
  const KubeconfigFile* file;
};
Entry named_entry(const std::vector<KubeconfigFile>& files, const char* list, const char* inner,
                  const std::string& name, const std::string& where) {
  for (const KubeconfigFile& file : files) {
    const YAML::Node entries = file.root[list];
    if (!entries || !entries.IsSequence()) continue;
    for (const auto& entry : entries) {
      if (entry["name"] && entry["name"].as<std::string>() == name) {
        YAML::Node body = entry[inner];
        if (!body || !body.IsMap()) throw AccessError("kubeconfig " + file.path + ": " + list + "[" +
                                                      name + "]." + inner + " is missing or not a map");
        return {body, &file};
      }
    }
  }
  throw AccessError(where + ": no entry named '" + name + "' in " + list);
}

std::string scalar(const YAML::Node& map, const char* key) {
  const YAML::Node node = map[key];
  if (!node || node.IsNull()) return {};
  if (!node.IsScalar()) throw AccessError(std::string(key) + " is not a scalar");
  return node.as<std::string>();
}

std::string resolve(const fs::path& base, const std::string& file) {
  if (file.empty()) return {};
  fs::path path(file);
  return (path.is_absolute() ? path : base / path).lexically_normal().string();
}

}  // namespace

ClusterAccess in_cluster_access(const std::string& sa_dir) {
  std::string dir = sa_dir;
  if (dir.empty()) dir = env("INFERGATE_SA_DIR");
  if (dir.empty()) dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string host = env("KUBERNETES_SERVICE_HOST"), port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty())
    throw AccessError(
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  fs::path base(dir);
  ClusterAccess access;
  access.server = "https://" + host_for_url(host) + ":" + port;
  access.token_file = (base / "token").string();
  if (trim(read_text(access.token_file, "in-cluster token")).empty())
    throw AccessError("in-cluster token: " + access.token_file + " is empty");
  access.ca_file = (base / "ca.crt").string();
  read_text(access.ca_file, "in-cluster CA");  // fail now, not at the first connection
  std::error_code ec;
  if (fs::exists(base / "namespace", ec)) {
    std::string ns = trim(read_text(base / "namespace", "in-cluster namespace"));
    if (!ns.empty()) access.default_namespace = ns;
  }
  return access;
}

ClusterAccess kubeconfig_access(const std::string& path, const std::string& context_name) {
  return kubeconfig_access(std::vector<std::string>{path}, context_name);
}

ClusterAccess kubeconfig_access(const std::vector<std::string>& paths,
                                const std::string& context_name) {
  std::vector<KubeconfigFile> files;
  std::string where = "kubeconfig ";
  for (const std::string& path : paths) where += (&path == &paths.front() ? "" : ":") + path;
  for (const std::string& path : paths) {
    std::error_code ec;
    // In a list, a file that does not exist is skipped (kubectl's rule); a single one must.
    if (paths.size() > 1 && !fs::exists(path, ec)) continue;
    files.push_back(load_kubeconfig(path));
  }
  if (files.empty()) throw AccessError(where + ": none of these files exists");
  try {
    std::string name = context_name;
    for (const KubeconfigFile& file : files) {
      if (name.empty()) name = scalar(file.root, "current-context");  // the first one set wins
    }
    if (name.empty()) throw AccessError(where + ": no current-context");
    const YAML::Node context = named_entry(files, "contexts", "context", name, where).body;
    std::string cluster_name = scalar(context, "cluster"), user_name = scalar(context, "user");
    if (cluster_name.empty()) throw AccessError(where + ": context '" + name + "' has no cluster");
    const Entry cluster_entry = named_entry(files, "clusters", "cluster", cluster_name, where);
    const YAML::Node& cluster = cluster_entry.body;
    const fs::path& cluster_base = cluster_entry.file->base;

    ClusterAccess access;
    access.server = scalar(cluster, "server");
    if (access.server.empty())
      throw AccessError(where + ": cluster '" + cluster_name + "' has no server");
    while (access.server.size() > 1 && access.server.back() == '/') access.server.pop_back();
    if (std::string data = scalar(cluster, "certificate-authority-data"); !data.empty())
      access.ca_pem = base64_decode(data, where + ": certificate-authority-data");
    else
      access.ca_file = resolve(cluster_base, scalar(cluster, "certificate-authority"));
    access.insecure_skip_tls_verify = scalar(cluster, "insecure-skip-tls-verify") == "true";
    access.tls_server_name = scalar(cluster, "tls-server-name");
    if (std::string ns = scalar(context, "namespace"); !ns.empty()) access.default_namespace = ns;

    if (!user_name.empty()) {
      const Entry user_entry = named_entry(files, "users", "user", user_name, where);
      const YAML::Node& user = user_entry.body;
      const fs::path& base = user_entry.file->base;
      if (user["exec"] || user["auth-provider"])
        throw AccessError(where + ": user '" + user_name +
                          "' uses an exec/auth-provider plugin, which infergate does not run; "
                          "use a token, tokenFile or client certificate");
      access.token = scalar(user, "token");
      access.token_file = resolve(base, scalar(user, "tokenFile"));
      if (std::string data = scalar(user, "client-certificate-data"); !data.empty())
        access.client_cert_pem = base64_decode(data, where + ": client-certificate-data");
      else
        access.client_cert_file = resolve(base, scalar(user, "client-certificate"));
      if (std::string data = scalar(user, "client-key-data"); !data.empty())
        access.client_key_pem = base64_decode(data, where + ": client-key-data");
      else
        access.client_key_file = resolve(base, scalar(user, "client-key"));
      bool has_cert = !access.client_cert_pem.empty() || !access.client_cert_file.empty();
      bool has_key = !access.client_key_pem.empty() || !access.client_key_file.empty();
      if (has_cert != has_key)
        throw AccessError(where + ": user '" + user_name +
                          "' needs both a client certificate and a client key");
    }
    return access;
  } catch (const YAML::Exception& e) {
    throw AccessError(where + ": " + e.what());
  }
}

std::vector<std::string> kubeconfig_env_list() {
  std::vector<std::string> paths;
  const std::string list = env("KUBECONFIG");
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t colon = std::min(list.find(':', start), list.size());
    if (colon > start) paths.push_back(list.substr(start, colon - start));
    start = colon + 1;
  }
  return paths;
}

ClusterAccess default_access(const std::string& kubeconfig_path) {
  if (!kubeconfig_path.empty()) return kubeconfig_access(kubeconfig_path);
  if (const std::vector<std::string> list = kubeconfig_env_list(); !list.empty()) {
    return kubeconfig_access(list);
  }
  if (!env("KUBERNETES_SERVICE_HOST").empty()) return in_cluster_access();
  if (std::string home = env("HOME"); !home.empty()) {
    fs::path path = fs::path(home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(path, ec)) return kubeconfig_access(path.string());
  }
  throw AccessError(
      "no cluster access: give --kubeconfig, set KUBECONFIG, or run in a pod "
      "(KUBERNETES_SERVICE_HOST)");
}

std::string ResourceKind::api_version() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceKind::display() const {
  return plural + (group.empty() ? "" : "." + group) + "/" + version;
}

const char* to_string(SourceState state) {
  switch (state) {
    case SourceState::starting: return "starting";
    case SourceState::synced: return "synced";
    case SourceState::absent: return "absent";
    case SourceState::denied: return "denied";
    case SourceState::failing: return "failing";
  }
  return "?";
}

}  // namespace infergate::k8s
