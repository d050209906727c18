// The upstream side of a request: endpoint attempts, the request write, and the response
// streamed back piece by piece as it arrives, while a read on the client notices it leaving.
#include <algorithm>
#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "proxy/session.hpp"
#include "routing/endpoint_health.hpp"
#include "routing/scheduler.hpp"
#include "routing/stream_usage.hpp"

namespace infergate::proxy {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

void append_number(std::string& out, std::uint64_t value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += kCrlf;
}

const UpstreamTlsPtr kPlainTcp;

// The client's request id and trace context: the gateway sends its own (session_record.cpp).
bool is_trace_header(std::string_view name) noexcept {
  switch (name.size()) {
    case 10: return iequals(name, "tracestate");
    case 11: return iequals(name, "traceparent");
    case 12: return iequals(name, "x-request-id");
    default: return false;
  }
}

// The TLS handle of the decision's pool; null: plain TCP to its servers.
const UpstreamTlsPtr& pool_tls(const Decision& decision) {
  return decision.target && decision.target->pool ? decision.target->pool->tls : kPlainTcp;
}

// Clears the session's pointer to a lease before the lease dies (declared after it).
struct UpstreamInUse {
  UpstreamLease*& slot;
  UpstreamInUse(UpstreamLease*& s, UpstreamLease& lease) : slot(s) { slot = &lease; }
  ~UpstreamInUse() { slot = nullptr; }
};

}  // namespace

net::awaitable<bool> Session::forward(const RequestFacts& facts, const Decision& decision) {
  std::string_view body = body_;
  // A key's streamed request is accounted by its final usage chunk: asked for here when the
  // client did not (and left out of what the client sees), in the same copy as a model rewrite.
  const bool ask_usage = key_ && facts.stream && worker_.front_door()->wants_stream_usage();
  usage_injected_ = false;
  if (decision.rewrite() && ask_usage) {
    usage_injected_ = add_include_usage(body_, facts, decision.target->served_model, rewritten_);
    body = rewritten_;
  } else if (decision.rewrite()) {
    rewritten_ = rewrite_model(body_, facts, decision.target->served_model);
    body = rewritten_;
  } else if (ask_usage && add_include_usage(body_, facts, rewritten_)) {
    usage_injected_ = true;
    body = rewritten_;
  }
  response_status_ = 0;
  build_upstream_head(body.size(), decision);
  relay_keep_ = false;
  client_gone_ = false;
  // The watch: a read on the client while the relay runs, so a client that leaves (during the
  // prefill or mid-stream) closes the upstream connection at once (on_client_read).
  relaying_ = true;
  start_client_read();
  relay_error_.reset();
  const std::string_view served =
      decision.rewrite() ? std::string_view(decision.target->served_model) : decision.model->name;
  WorkerMetrics::ModelSeries& series = worker_.metrics().model(decision.model->name, served);
  worker_.metrics().model_started(series);
  const auto started = Clock::now();
  auto op = relay(decision, body);
  co_await std::move(op);
  relaying_ = false;
  upstream_in_.clear();
  upstream_in_.shrink_to_fit();  // its block goes back to the worker (see ReadBlocks)
  worker_.metrics().model_finished(
      series, std::chrono::duration<double>(Clock::now() - started).count(),
      relay_error_ ? &*relay_error_ : nullptr);
  settle_usage(series);
  if (client_gone_) {
    worker_.metrics().client_abort();
    co_return false;
  }
  co_return relay_keep_;
}

void Session::build_upstream_head(std::size_t content_length, const Decision& decision) {
  upstream_head_.clear();
  upstream_head_ += http::to_string(request_->method());
  upstream_head_ += ' ';
  upstream_head_ += target_;
  upstream_head_ += " HTTP/1.1\r\n";
  bool has_host = false;
  std::string_view forwarded_for;  // the first X-Forwarded-For; others are appended after it
  std::size_t forwarded_count = 0;
  const Pool* pool = decision.target ? decision.target->pool : nullptr;
  const UpstreamAuthMode auth = pool ? pool->upstream_auth : UpstreamAuthMode::pass;
  // With keys on, the client's key is checked here and never reaches a model server.
  const bool keys_on = worker_.config().auth.enabled;
  for (std::size_t i = 0; i < request_fields_.size(); ++i) {
    if (request_fields_.hop_by_hop(i)) continue;
    const std::string_view name = request_fields_.name(i);
    switch (request_fields_.id(i)) {
      case http::field::content_length:
      case http::field::expect:  // answered here; the body travels with the head
        continue;
      case http::field::authorization:
        if (auth != UpstreamAuthMode::pass) continue;
        break;
      case http::field::host:
        has_host = true;
        break;
      default:
        if (keys_on && iequals(name, kApiKeyHeader)) continue;
        if (is_trace_header(name)) continue;  // ours replace them (session_record.cpp)
        if (iequals(name, "x-forwarded-proto")) continue;
        if (iequals(name, "x-forwarded-for")) {
          if (forwarded_count++ == 0) forwarded_for = request_fields_.value(i);
          continue;
        }
        break;
    }
    append_field(upstream_head_, name, request_fields_.value(i));
  }
  if (!has_host && !decision.endpoints.empty()) {
    append_field(upstream_head_, "host", decision.endpoints.front()->name);
  }
  if (auth == UpstreamAuthMode::replace && pool->credential) {
    // Unread (the file is missing): nothing is sent, and the server's 401 says why.
    if (const auto value = pool->credential->authorization.load(std::memory_order_acquire)) {
      append_field(upstream_head_, "authorization", *value);
    }
  }
  upstream_head_ += "x-forwarded-for: ";
  if (forwarded_count > 0) {
    upstream_head_ += forwarded_for;
    for (std::size_t i = 0, seen = 0; i < request_fields_.size() && forwarded_count > 1; ++i) {
      if (!iequals(request_fields_.name(i), "x-forwarded-for") || seen++ == 0) continue;
      upstream_head_ += ", ";
      upstream_head_ += request_fields_.value(i);
    }
    upstream_head_ += ", ";
  }
  upstream_head_ += peer_ip_;
  upstream_head_ += "\r\nx-forwarded-proto: http\r\n";
  append_trace_headers(upstream_head_);
  upstream_head_ += "content-length: ";
  append_number(upstream_head_, content_length);
  upstream_head_ += "\r\n\r\n";
}

void Session::order_attempts(const Decision& decision) {
  // The scheduler's order, except that ejected or unhealthy endpoints go last: a profile's
  // available-filter has usually dropped them already (it keeps them all when none is left), but
  // not every profile has one.
  attempt_order_.clear();
  const std::size_t n = decision.endpoints.size();
  for (std::uint32_t i = 0; i < n; ++i) {
    if (is_available(*decision.endpoints[i], decided_at_)) attempt_order_.push_back(i);
  }
  if (attempt_order_.size() == n) return;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!is_available(*decision.endpoints[i], decided_at_)) attempt_order_.push_back(i);
  }
}

net::awaitable<void> Session::relay(const Decision& decision, std::string_view body) {
  const GatewayConfig& config = worker_.config();
  order_attempts(decision);
  const std::size_t tries =
      std::min<std::size_t>(attempt_order_.size(), std::max(1u, config.max_attempts));
  ErrorKind failure = ErrorKind::no_ready_endpoint;
  bool fresh_only = false;  // after a stale pooled connection: a new one to the same endpoint
  const Endpoint* dispatched_to = nullptr;
  PendingPrefill prefill;  // the prompt, on the endpoint it was sent to, until the first body byte
  const UpstreamTlsPtr& tls = pool_tls(decision);
  std::size_t index = 0;
  while (index < tries) {
    const EndpointPtr& endpoint = decision.endpoints[attempt_order_[index]];
    InFlight in_flight(endpoint);
    note_attempt(decision, *endpoint);
    UpstreamLease lease;
    if (!fresh_only) lease = worker_.pool().take(endpoint, tls);
    if (!lease) {
      lease = worker_.pool().open(endpoint, tls);
      UpstreamInUse in_use(upstream_, lease);
      set_deadline(Phase::connect, config.timeouts.connect);
      auto connect = worker_.pool().connect(lease);
      const boost::system::error_code ec = co_await std::move(connect);
      if (client_gone_) co_return;
      if (ec) {
        SPDLOG_DEBUG("connect endpoint={} error={}", endpoint->name, ec.message());
        record_connect_failure(*endpoint, Clock::now());  // ejected: others skip it for a while
        prefill.release();  // a retry after a stale connection: the prompt never reached that one
        ++index;
        fresh_only = false;
        if (index < tries) worker_.metrics().retry();
        continue;
      }
      record_connect_success(*endpoint);
    }
    if (dispatched_to != endpoint.get()) {
      // Sent to this endpoint: counted in its load until the next scrape, and in the prefix
      // index. A request that waited in a queue passes its pool's turn on now.
      dispatched_to = endpoint.get();
      prefill = record_dispatch(decision, endpoint);
      if (ticket_) leave_queue(true);
    }
    UpstreamInUse in_use(upstream_, lease);
    const auto sent_at = Clock::now();
    set_deadline(Phase::first_byte, config.timeouts.first_byte);
    auto exchange_op = exchange(lease, body);
    const Attempt attempt = co_await std::move(exchange_op);
    if (attempt == Attempt::gone || client_gone_) co_return;
    if (attempt == Attempt::stale) {
      fresh_only = true;
      worker_.metrics().retry();
      continue;
    }
    if (attempt != Attempt::head) {
      failure = attempt == Attempt::timeout ? ErrorKind::upstream_timeout : ErrorKind::upstream_failed;
      record_upstream_status(*endpoint, describe(failure).status, Clock::now());
      message_.clear();
      break;
    }
    const auto head_at = Clock::now();
    record_upstream_status(*endpoint, response_->status(), head_at);  // 5xx in a row eject
    worker_.metrics().first_byte(endpoint, std::chrono::duration<double>(head_at - sent_at).count());
    attempts_ = static_cast<unsigned>(index + 1);
    decision_ = &decision;
    auto stream_op = stream(lease, endpoint, in_flight, prefill);
    co_await std::move(stream_op);
    decision_ = nullptr;
    co_return;
  }
  prefill.release();  // no response from upstream: not while the refusal is written
  if (failure == ErrorKind::no_ready_endpoint) {
    message_ = "No endpoint of pool '";
    message_ += decision.target && decision.target->pool ? decision.target->pool->name : "";
    message_ += "' accepted a connection; retry later.";
  }
  relay_error_ = failure;
  auto refusal = refuse(failure);
  relay_keep_ = co_await std::move(refusal);
}

net::awaitable<Session::Attempt> Session::exchange(UpstreamLease& lease, std::string_view body) {
  std::array<net::const_buffer, 2> request{net::buffer(upstream_head_), net::buffer(body)};
  auto write = lease.tls() ? lease.write_tls(request) : write_fully(lease.socket(), request);
  const boost::system::error_code wec = co_await std::move(write);
  if (client_gone_) co_return Attempt::gone;
  if (wec) {
    if (expired_ == Phase::first_byte) co_return Attempt::timeout;
    if (lease.tls() && !lease.reused()) {
      // A TLS 1.3 server that refuses us (no client certificate) sends its alert and resets
      // the connection right after the handshake; the alert is still queued: read it, so the
      // reason is counted and logged rather than a bare "connection reset".
      upstream_in_.clear();
      auto drain = lease.read_some(upstream_in_.prepare(read_room(upstream_in_)));
      co_await std::move(drain);
      if (client_gone_) co_return Attempt::gone;
    }
    co_return lease.reused() ? Attempt::stale : Attempt::failed;
  }
  upstream_in_.clear();
  fed_ = 0;
  pieces_.clear();
  response_.emplace(response_fields_, reason_, pieces_);
  response_->header_limit(static_cast<std::uint32_t>(worker_.config().max_header_bytes));
  bool received = false;
  for (;;) {
    const auto data = upstream_in_.data();
    if (data.size() > fed_) {
      boost::system::error_code ec;
      fed_ += response_->feed(static_cast<const char*>(data.data()) + fed_, data.size() - fed_, ec);
      if (ec && ec != http::error::need_more) co_return Attempt::failed;
      if (response_->is_header_done()) {
        const unsigned status = response_->status();
        if (status / 100 != 1 || status == 101) co_return Attempt::head;
        // An interim answer (100 Continue): drop it and parse what follows.
        upstream_in_.consume(fed_);
        fed_ = 0;
        pieces_.clear();
        response_.emplace(response_fields_, reason_, pieces_);
        response_->header_limit(static_cast<std::uint32_t>(worker_.config().max_header_bytes));
        continue;
      }
    }
    const std::size_t room = read_room(upstream_in_);
    if (room == 0) co_return Attempt::failed;  // a response head above our limit
    auto read = lease.read_some(upstream_in_.prepare(room));
    auto [rec, n] = co_await std::move(read);
    if (client_gone_) co_return Attempt::gone;
    if (rec) {
      if (expired_ == Phase::first_byte) co_return Attempt::timeout;
      // A pooled connection the server closed while idle fails before any byte: not the
      // endpoint's fault, and the request was not processed.
      co_return (!received && lease.reused()) ? Attempt::stale : Attempt::failed;
    }
    received = true;
    upstream_in_.commit(n);
  }
}

void Session::start_usage(bool event_stream) {
  usage_tap_ = UsageTap::none;
  if (response_->status() / 100 != 2) return;
  if (event_stream) {
    usage_tap_ = UsageTap::sse;
    sse_tap_.reset(strip_usage_);
  } else if (const auto length = response_->content_length()) {
    usage_tap_ = UsageTap::json;
    body_tail_.reset(*length);  // keeps only the last bytes, where usage is
  }
}

void Session::tap_usage() {
  if (usage_tap_ == UsageTap::json) {
    for (const std::string_view piece : pieces_) body_tail_.append(piece);
    return;
  }
  tapped_.clear();
  sse_tap_.feed(pieces_, tapped_);
  if (response_->is_done()) sse_tap_.finish(tapped_);
  pieces_.swap(tapped_);  // the parser appends to pieces_ by reference: same object, new items
}

void Session::settle_usage(WorkerMetrics::ModelSeries& series) {
  std::optional<Usage> usage;
  if (response_status_ / 100 == 2 && usage_tap_ == UsageTap::json) usage = body_tail_.usage();
  if (response_status_ / 100 == 2 && usage_tap_ == UsageTap::sse) usage = sse_tap_.usage();
  usage_tap_ = UsageTap::none;
  if (usage) {
    record_.input_tokens = static_cast<std::int64_t>(usage->prompt_tokens);
    record_.output_tokens = static_cast<std::int64_t>(usage->completion_tokens);
    worker_.metrics().model_tokens(series, usage->prompt_tokens, usage->completion_tokens);
    if (team_) worker_.metrics().team_tokens(*team_, usage->prompt_tokens, usage->completion_tokens);
    charge_.settle(usage->prompt_tokens + usage->completion_tokens);
  } else if (response_status_ == 0 || response_status_ >= 400) {
    charge_.settle(0);  // no answer, or a refusal: the server spent no tokens on it
  }
  // Otherwise (no usage reported, a client that left mid-stream): the estimate stays charged.
  charge_ = {};
}

void Session::build_response_head(const Endpoint& endpoint, bool chunked, bool close) {
  head_.clear();
  head_ += "HTTP/1.1 ";
  append_number(head_, response_->status());
  head_ += ' ';
  head_ += reason_;
  head_ += kCrlf;
  for (std::size_t i = 0; i < response_fields_.size(); ++i) {
    if (response_fields_.hop_by_hop(i)) continue;
    const std::string_view name = response_fields_.name(i);
    if (name.size() == 12 && iequals(name, "x-request-id")) continue;  // ours follows
    append_field(head_, name, response_fields_.value(i));
  }
  append_field(head_, "x-gateway-destination-endpoint-served", endpoint.name);
  append_request_id(head_);
  note_status(response_->status());
  head_ += rate_headers_;
  if (worker_.config().debug_headers && decision_) {
    // How the gateway decided, for whoever debugs a route (config: debug_headers).
    const Target* target = decision_->target;
    if (target && target->pool) append_field(head_, "x-gateway-pool", target->pool->name);
    if (target && !target->served_model.empty()) {
      append_field(head_, "x-gateway-served-model", target->served_model);
    }
    head_ += "x-gateway-attempts: ";
    append_number(head_, attempts_);
    head_ += kCrlf;
    if (!decision_->scores.empty()) append_field(head_, kScoresHeader, scores_header(*decision_));
  }
  if (chunked) head_ += "transfer-encoding: chunked\r\n";
  if (close) head_ += "connection: close\r\n";
  head_ += kCrlf;
}

bool Session::write_pieces(bool chunked, bool last) {
  std::size_t total = 0;
  for (const std::string_view piece : pieces_) total += piece.size();
  if (total > 0) {
    if (chunked) {
      // All pieces of this read become one chunk: event boundaries live in the payload.
      const auto r = std::to_chars(chunk_head_.data(), chunk_head_.data() + 20, total, 16);
      char* end = r.ptr;
      *end++ = '\r';
      *end++ = '\n';
      iov_.push_back(net::buffer(chunk_head_.data(), static_cast<std::size_t>(end - chunk_head_.data())));
    }
    for (const std::string_view piece : pieces_) iov_.push_back(net::buffer(piece.data(), piece.size()));
    if (chunked) iov_.push_back(net::buffer(kCrlf));
    const std::string_view last_piece = pieces_.back();
    if (last_piece.size() >= 2) {
      tail_ = {last_piece[last_piece.size() - 2], last_piece.back()};
    } else {
      tail_ = {tail_[1], last_piece.back()};
    }
  }
  if (last && chunked) iov_.push_back(net::buffer(kLastChunk));
  return !iov_.empty();
}

net::awaitable<void> Session::stream(UpstreamLease& lease, const EndpointPtr& endpoint,
                                     InFlight& in_flight, PendingPrefill& prefill) {
  ResponseParser& response = *response_;
  const unsigned status = response.status();
  const bool bodyless = status / 100 == 1 || status == 204 || status == 304;
  const bool delimited = bodyless || response.content_length().has_value();
  // Without a length the body is re-framed as chunks; an HTTP/1.0 client gets it up to close.
  const bool chunked = !delimited && request_->version() >= 11;
  const bool close = !keep_alive_ || worker_.draining() || (!delimited && !chunked);
  build_response_head(*endpoint, chunked, close);
  worker_.metrics().request(routed_model_, status);
  if (team_) worker_.metrics().team_request(*team_, status);
  response_status_ = status;
  // Only a body the client does not measure may lose the usage chunk the gateway asked for.
  strip_usage_ = usage_injected_ && !response.content_length();
  start_usage(response.event_stream());
  set_deadline(Phase::streaming, worker_.config().timeouts.stream_idle);
  tail_ = {'\n', '\n'};
  bool head_sent = false;
  for (;;) {
    iov_.clear();
    if (!head_sent) iov_.push_back(net::buffer(head_));
    // The first body byte (a stream's first SSE event comes with the first token) or a response
    // without one: the server is done with the prompt.
    if (!pieces_.empty() || response.is_done()) {
      if (prefill.counting()) prefill.release();
      note_first_body_byte();
    }
    // The server is done with the request before its last bytes reach the client: a client that
    // sends its next request as soon as it has them must not find this one still counted.
    if (response.is_done()) in_flight.release();
    if (usage_tap_ != UsageTap::none) tap_usage();
    if (write_pieces(chunked, response.is_done())) {
      auto write = write_client(iov_);
      const boost::system::error_code ec = co_await std::move(write);
      if (ec) {
        client_gone_ = client_gone_ || expired_ != Phase::streaming;
        co_return;  // the lease closes the upstream connection
      }
      head_sent = true;
    }
    upstream_in_.consume(fed_);
    fed_ = 0;
    pieces_.clear();
    if (response.is_done()) break;
    deadline_ = Clock::now() + worker_.config().timeouts.stream_idle;  // later: no re-arm
    const std::size_t room = read_room(upstream_in_);
    boost::system::error_code rec = http::error::header_limit;  // a chunk line above our buffer
    std::size_t n = 0;
    if (room > 0) {
      auto read = lease.read_some(upstream_in_.prepare(room));
      auto [read_ec, read_n] = co_await std::move(read);
      rec = read_ec;
      n = read_n;
    }
    if (client_gone_) co_return;
    boost::system::error_code ec = rec;
    if (!rec) {
      upstream_in_.commit(n);
      const auto data = upstream_in_.data();
      fed_ = response.feed(static_cast<const char*>(data.data()), data.size(), ec);
      if (ec == http::error::need_more) ec = {};
    } else if (rec == net::error::eof && response.need_eof()) {
      response.feed_eof(ec);
    }
    if (ec) {
      SPDLOG_DEBUG("upstream died mid-stream endpoint={} error={}", endpoint->name, ec.message());
      note_reason(ErrorKind::upstream_failed);
      auto end = end_stream_with_error(chunked && response.event_stream());
      if (co_await std::move(end)) relay_keep_ = !close;
      co_return;
    }
  }
  relay_keep_ = !close;
  if (response.keep_alive() && upstream_in_.size() == 0) {
    lease.give_back();
  } else {
    lease.discard();
  }
}

net::awaitable<bool> Session::end_stream_with_error(bool sse) {
  worker_.metrics().error(ErrorKind::upstream_died);
  relay_error_ = ErrorKind::upstream_died;
  relay_keep_ = false;
  if (!sse) co_return false;  // the client sees the connection close before the end of the body
  // A final SSE event the client can parse, then a clean end of the chunked body.
  local_body_.clear();
  if (tail_[0] != '\n' || tail_[1] != '\n') local_body_ += "\n\n";
  local_body_ += "data: ";
  local_body_ += error_body(ErrorKind::upstream_died, default_message(ErrorKind::upstream_died));
  local_body_ += "\n\n";
  const auto r = std::to_chars(chunk_head_.data(), chunk_head_.data() + 20, local_body_.size(), 16);
  char* end = r.ptr;
  *end++ = '\r';
  *end++ = '\n';
  std::array<net::const_buffer, 4> buffers{
      net::buffer(chunk_head_.data(), static_cast<std::size_t>(end - chunk_head_.data())),
      net::buffer(local_body_), net::buffer(kCrlf), net::buffer(kLastChunk)};
  set_deadline(Phase::writing, worker_.config().timeouts.client_body);
  auto write = write_client(buffers);
  const boost::system::error_code ec = co_await std::move(write);
  co_return !ec;
}

}  // namespace infergate::proxy
