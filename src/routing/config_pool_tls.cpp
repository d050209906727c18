// TEMPORARY (branch uptls): a pool's `tls:` block -> PoolConfig::tls, so the upstream TLS
// tests can run from a config file. The pool credentials/TLS parse of src/routing/config_auth.cpp
// (another branch) replaces it: drop this file, its meson line and its hook in Loader::pool.
//
//   pools:
//     - name: secure
//       endpoints: [10.0.0.5:8443]
//       tls:                      # present: TLS to the servers (unless enabled: false)
//         ca_file: /etc/infergate/upstream-ca.pem   # default: the system's trust store
//         server_name: vllm.internal               # default: the endpoint's host
//         cert_file: /etc/infergate/client.pem     # optional client certificate ...
//         key_file: /etc/infergate/client.key      # ... and its key
//         verify: true                             # false: no certificate check (tests only)
//
// Files are not read here: the snapshot build does, and logs a context it cannot build (its
// pool's connects then fail, counted), the same path a Kubernetes annotation takes.
#include "routing/config_loader.hpp"

namespace infergate::config_detail {

void Loader::pool_tls(const YAML::Node& node, const std::string& path, UpstreamTlsConfig& out) {
  UpstreamTlsConfig tls;
  tls.enabled = true;
  const auto file = [this](std::string& field) {
    return [this, out = &field](const YAML::Node& n, const std::string& p) {
      if (auto s = text(n, p)) *out = *s;
    };
  };
  fields(node, path,
         {{"enabled", false, [&](const YAML::Node& n, const std::string& p) { set_bool(n, p, tls.enabled); }},
          {"ca_file", false, file(tls.ca_file)},
          {"server_name", false, file(tls.server_name)},
          {"cert_file", false, file(tls.cert_file)},
          {"key_file", false, file(tls.key_file)},
          {"verify", false, [&](const YAML::Node& n, const std::string& p) { set_bool(n, p, tls.verify); }}});
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    issue(node, path, "cert_file and key_file go together");
  }
  out = std::move(tls);
}

}  // namespace infergate::config_detail
