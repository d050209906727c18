// Cluster access from kubeconfig files (data vs file forms, tokenFile, context selection, errors)
// and from an in-cluster service-account directory, in temporary directories.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "infergate/k8s/client.hpp"

using namespace infergate::k8s;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "k8s-access-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    fs::path file = path / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }
  fs::path path;
};

// base64("hello") and base64("CA PEM\n")
constexpr const char* kHello = "aGVsbG8=";
constexpr const char* kCaPem = "Q0EgUEVNCg==";

std::string kubeconfig(const std::string& user_body, const std::string& cluster_extra = {},
                       const std::string& current = "dev") {
  return "apiVersion: v1\nkind: Config\n"
         "clusters:\n"
         "- name: prod-cluster\n  cluster:\n    server: https://10.0.0.1:6443\n"
         "- name: dev-cluster\n  cluster:\n    server: https://127.0.0.1:6443/\n" + cluster_extra +
         "users:\n"
         "- name: prod-user\n  user:\n    token: prod-token\n"
         "- name: dev-user\n  user:\n" + user_body +
         "contexts:\n"
         "- name: prod\n  context:\n    cluster: prod-cluster\n    user: prod-user\n"
         "- name: dev\n  context:\n    cluster: dev-cluster\n    user: dev-user\n    namespace: team-a\n"
         "current-context: " + current + "\n";
}

void check_throws_with(const std::string& path, const std::string& part,
                       const std::string& context = {}) {
  try {
    kubeconfig_access(path, context);
    FAIL("no AccessError for " << path);
  } catch (const AccessError& e) {
    CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("kubeconfig: current-context, data forms, namespace") {
  TempDir dir;
  auto path = dir.write("config",
                        kubeconfig(std::string("    token: dev-token\n    client-certificate-data: ") +
                                       kHello + "\n    client-key-data: " + kHello + "\n",
                                   std::string("    certificate-authority-data: ") + kCaPem +
                                       "\n    tls-server-name: api.internal\n"));
  ClusterAccess access = kubeconfig_access(path);
  CHECK(access.server == "https://127.0.0.1:6443");  // trailing slash dropped
  CHECK(access.ca_pem == "CA PEM\n");
  CHECK(access.ca_file.empty());
  CHECK(access.tls_server_name == "api.internal");
  CHECK(access.token == "dev-token");
  CHECK(access.client_cert_pem == "hello");
  CHECK(access.client_key_pem == "hello");
  CHECK(access.default_namespace == "team-a");
  CHECK_FALSE(access.insecure_skip_tls_verify);

  ClusterAccess prod = kubeconfig_access(path, "prod");  // an explicit context wins
  CHECK(prod.server == "https://10.0.0.1:6443");
  CHECK(prod.token == "prod-token");
  CHECK(prod.default_namespace == "default");
}

TEST_CASE("kubeconfig: file forms are relative to the kubeconfig, tokenFile, insecure") {
  TempDir dir;
  auto path = dir.write("kube/config",
                        kubeconfig("    tokenFile: secrets/token\n"
                                   "    client-certificate: certs/client.crt\n"
                                   "    client-key: /abs/client.key\n",
                                   "    certificate-authority: ../ca.crt\n"
                                   "    insecure-skip-tls-verify: true\n"));
  ClusterAccess access = kubeconfig_access(path);
  CHECK(access.ca_file == (dir.path / "ca.crt").string());
  CHECK(access.token_file == (dir.path / "kube/secrets/token").string());
  CHECK(access.client_cert_file == (dir.path / "kube/certs/client.crt").string());
  CHECK(access.client_key_file == "/abs/client.key");
  CHECK(access.insecure_skip_tls_verify);
  CHECK(access.token.empty());
}

TEST_CASE("kubeconfig: errors name the problem") {
  TempDir dir;
  check_throws_with((dir.path / "missing").string(), "cannot read");
  check_throws_with(dir.write("bad", "clusters: [unclosed\n"), "not YAML");
  check_throws_with(dir.write("scalar", "just a string\n"), "not a YAML map");
  check_throws_with(dir.write("nocurrent", kubeconfig("    token: t\n", {}, "\"\"")),
                    "no current-context");
  check_throws_with(dir.write("unknown", kubeconfig("    token: t\n", {}, "staging")),
                    "no entry named 'staging' in contexts");
  check_throws_with(dir.write("exec", kubeconfig("    exec:\n      command: aws\n")),
                    "exec/auth-provider");
  check_throws_with(dir.write("halfcert", kubeconfig("    client-certificate: c.crt\n")),
                    "both a client certificate and a client key");
  check_throws_with(
      dir.write("badb64", kubeconfig("    token: t\n", "    certificate-authority-data: abc\n")),
      "certificate-authority-data: not base64");
}

TEST_CASE("in-cluster access from a service-account directory") {
  TempDir dir;
  dir.write("sa/token", "the-token\n");
  dir.write("sa/ca.crt", "CA");
  dir.write("sa/namespace", "gateway-system");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  ClusterAccess access = in_cluster_access((dir.path / "sa").string());
  CHECK(access.server == "https://10.96.0.1:443");
  CHECK(access.token_file == (dir.path / "sa/token").string());
  CHECK(access.token.empty());  // kept as a file: rotations are followed
  CHECK(access.ca_file == (dir.path / "sa/ca.crt").string());
  CHECK(access.default_namespace == "gateway-system");

  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("INFERGATE_SA_DIR", (dir.path / "sa").c_str(), 1);
  CHECK(in_cluster_access().server == "https://[fd00::1]:443");  // the directory from the env

  fs::remove(dir.path / "sa/token");
  CHECK_THROWS_AS(in_cluster_access((dir.path / "sa").string()), AccessError);
  unsetenv("KUBERNETES_SERVICE_HOST");
  CHECK_THROWS_AS(in_cluster_access((dir.path / "sa").string()), AccessError);
  unsetenv("INFERGATE_SA_DIR");
  unsetenv("KUBERNETES_SERVICE_PORT");
}

TEST_CASE("default access: explicit path, then KUBECONFIG's first file") {
  TempDir dir;
  auto path = dir.write("config", kubeconfig("    token: dev-token\n"));
  CHECK(default_access(path).token == "dev-token");
  setenv("KUBECONFIG", (path + ":/nonexistent").c_str(), 1);
  CHECK(default_access().server == "https://127.0.0.1:6443");
  unsetenv("KUBECONFIG");
}

TEST_CASE("a KUBECONFIG list is merged as kubectl does") {
  TempDir dir;
  // The first file only picks the context; the second defines it, its cluster and user, with a
  // tokenFile relative to the second file's directory; a third redefines them all, too late.
  const auto first = dir.write("a/config", "apiVersion: v1\nkind: Config\ncurrent-context: kind\n");
  dir.write("b/token", "kind-token\n");
  const auto second = dir.write(
      "b/config",
      "apiVersion: v1\nkind: Config\ncurrent-context: other\n"
      "clusters:\n- name: kind\n  cluster:\n    server: https://127.0.0.1:35000\n"
      "users:\n- name: kind\n  user:\n    tokenFile: token\n"
      "contexts:\n- name: kind\n  context:\n    cluster: kind\n    user: kind\n    namespace: models\n");
  const auto third = dir.write("c/config", kubeconfig("    token: late\n",
                                                      "- name: kind\n  cluster:\n    server: https://10.9.9.9\n",
                                                      "kind"));
  const std::vector<std::string> list = {first, (dir.path / "missing").string(), second, third};
  ClusterAccess access = kubeconfig_access(list);
  CHECK(access.server == "https://127.0.0.1:35000");
  CHECK(access.token_file == (dir.path / "b/token").string());
  CHECK(access.default_namespace == "models");
  // An explicit context may come from any file; the first definition of a name still wins.
  ClusterAccess prod = kubeconfig_access(list, "prod");
  CHECK(prod.server == "https://10.0.0.1:6443");
  CHECK(prod.token == "prod-token");

  setenv("KUBECONFIG", (":" + first + "::" + second).c_str(), 1);
  CHECK(kubeconfig_env_list() == std::vector<std::string>{first, second});
  CHECK(default_access().server == "https://127.0.0.1:35000");
  setenv("KUBECONFIG", ((dir.path / "x").string() + ":" + (dir.path / "y").string()).c_str(), 1);
  try {
    default_access();
    FAIL("no AccessError without any file");
  } catch (const AccessError& e) {
    CHECK(std::string(e.what()).find("none of these files exists") != std::string::npos);
  }
  unsetenv("KUBECONFIG");
  CHECK(kubeconfig_env_list().empty());
}
