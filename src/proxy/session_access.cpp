// The session at the front door (auth:): who is calling, and what their limits admit.
#include "proxy/session.hpp"

namespace infergate::proxy {

bool Session::authenticate(std::string_view path) {
  key_ = nullptr;
  team_ = nullptr;
  rate_headers_.clear();
  FrontDoor* door = worker_.front_door();
  if (!door || path.substr(0, 4) != "/v1/") return true;  // the gateway's own paths stay open
  auth::KeyCache& cache = worker_.key_cache();
  keys_ = cache.table();
  key_ = door->authenticate(cache, authorization_, api_key_);
  if (!key_) return false;
  team_ = &worker_.metrics().team(key_->team);
  return true;
}

std::optional<ErrorKind> Session::admit() {
  FrontDoor& door = *worker_.front_door();
  const std::uint64_t estimate =
      facts_.prompt_token_estimate() + facts_.max_tokens.value_or(door.default_max_tokens());
  Admitted admitted = door.admit(*key_, facts_.model, estimate, Clock::now(), rate_headers_);
  charge_ = std::move(admitted.charge);
  if (!admitted.refusal) return std::nullopt;
  retry_after_ = admitted.retry_after;
  worker_.metrics().team_limited(*team_, *admitted.refusal);
  return admitted.refusal;
}

}  // namespace infergate::proxy
