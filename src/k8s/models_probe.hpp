// GET /v1/models of one model server, for pools whose models no route or InferenceModel names.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "infergate/config.hpp"
#include "infergate/k8s/translate.hpp"

namespace infergate::k8s {

// One plain HTTP/1.1 request on a fresh connection (probes are rare: at a pool's first sight and
// every resync). Empty optional on any failure: connect, timeout (`timeout` for the whole
// exchange), a status other than 200, a body over 1 MiB or not a model list. Runs on the caller's
// executor.
boost::asio::awaitable<std::optional<std::vector<ReportedModel>>> probe_models(
    HostPort endpoint, std::chrono::milliseconds timeout);

}  // namespace infergate::k8s
