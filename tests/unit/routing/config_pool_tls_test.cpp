// TEMPORARY (branch uptls, with src/routing/config_pool_tls.cpp): a pool's `tls:` block.
#include <doctest/doctest.h>

#include <string>

#include "config_issues.hpp"
#include "infergate/config.hpp"

using namespace infergate;

namespace {

PoolConfig first_pool(const std::string& tls) {
  return load_config_string("pools:\n  - name: p\n    endpoints: [127.0.0.1:8443]\n" + tls +
                                "models:\n  - {name: m, pool: p}\n",
                            "test.yaml")
      .pools.at(0);
}

}  // namespace

TEST_CASE("pool tls: absent is plain TCP; present turns TLS on with its fields") {
  struct Case {
    std::string yaml;
    UpstreamTlsConfig want;
  };
  const Case cases[] = {
      {"", UpstreamTlsConfig{}},
      {"    tls: {}\n", UpstreamTlsConfig{true, "", "", "", "", true}},
      {"    tls: {ca_file: /ca.pem, server_name: vllm.internal}\n",
       UpstreamTlsConfig{true, "/ca.pem", "vllm.internal", "", "", true}},
      {"    tls: {cert_file: /c.pem, key_file: /k.pem, verify: false}\n",
       UpstreamTlsConfig{true, "", "", "/c.pem", "/k.pem", false}},
      {"    tls: {enabled: false, ca_file: /ca.pem}\n",
       UpstreamTlsConfig{false, "/ca.pem", "", "", "", true}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    CHECK(first_pool(c.yaml).tls == c.want);
  }
}

TEST_CASE("pool tls: located errors") {
  struct Case {
    std::string tls;
    std::string field;
    std::string message;
  };
  const Case cases[] = {
      {"{cert_file: /c.pem}", "pools[0].tls", "cert_file and key_file go together"},
      {"{verify: maybe}", "pools[0].tls.verify", ""},
      {"{ca: /ca.pem}", "pools[0].tls.ca", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.tls);
    const auto issues = issues_of("pools:\n  - name: p\n    endpoints: [127.0.0.1:8443]\n    tls: " +
                                  c.tls + "\nmodels:\n  - {name: m, pool: p}\n");
    REQUIRE(issues.size() == 1);
    CHECK(issues[0].field == c.field);
    CHECK(issues[0].line == 4);
    CHECK(issues[0].message.find(c.message) != std::string::npos);
  }
}

TEST_CASE("kubernetes.pool_defaults.tls: every cluster pool's upstream TLS") {
  const GatewayConfig config = load_config_string(R"(
kubernetes:
  enabled: true
  pool_defaults:
    tls: {ca_file: /etc/infergate/upstream/ca.crt}
)", "test.yaml");
  CHECK(config.kubernetes.pool_defaults.tls ==
        UpstreamTlsConfig{true, "/etc/infergate/upstream/ca.crt", "", "", "", true});
}
