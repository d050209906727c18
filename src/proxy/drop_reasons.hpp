// Why a scheduling refusal dropped the request (header x-gateway-request-dropped-reason), in
// the words of the Inference Extension's flow control (its x-...-request-dropped-reason values).
// Internal to src/proxy.
#pragma once

#include <string_view>

namespace infergate::proxy {

constexpr std::string_view kDroppedSaturated = "rejected-saturated";
constexpr std::string_view kDroppedNoEndpoints = "rejected-no-endpoints";
constexpr std::string_view kDroppedQueueFull = "rejected-queue-full";
constexpr std::string_view kDroppedTtl = "rejected-ttl-expired";
constexpr std::string_view kDroppedDisplaced = "evicted-priority";
constexpr std::string_view kDroppedShuttingDown = "rejected-shutting-down";

}  // namespace infergate::proxy
