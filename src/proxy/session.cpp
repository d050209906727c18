// The downstream side of a client connection: request reading with limits and timeouts,
// dispatch, the gateway's own routes (/v1/models) and every refusal.
#include "proxy/session.hpp"
#include "proxy/tls.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <exception>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/status.hpp>
#include <spdlog/spdlog.h>

#include "proxy/drop_reasons.hpp"
#include "routing/scheduler.hpp"

namespace infergate::proxy {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kKeepBodyCapacity = 1u << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// `created` of every model in /v1/models: when this process started.
const std::time_t kStarted = std::time(nullptr);

void append_number(std::string& out, std::uint64_t value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a path segment; ids with '/' arrive raw or as %2F.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

void append_model_object(std::string& out, const ModelRoute& model) {
  out += R"({"id":")";
  append_json_escaped(out, model.name);
  out += R"(","object":"model","created":)";
  append_number(out, static_cast<std::uint64_t>(kStarted));
  out += R"(,"owned_by":")";
  const Target* first = model.targets.empty() ? nullptr : &model.targets.front();
  append_json_escaped(out, first && first->pool ? std::string_view(first->pool->name) : "infergate");
  out += "\"}";
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

// `slot` lives in the frame until the session ends: that is what holds the connection's place.
net::awaitable<void> run_session(Worker& worker, tcp::socket socket,
                                 [[maybe_unused]] ConnectionSlot slot) {
  Session session(worker, std::move(socket));
  co_await session.run();
}

Session::Session(Worker& worker, tcp::socket socket)
    : worker_(worker),
      client_(std::move(socket)),
      timer_(client_.get_executor()),
      in_(worker.config().max_header_bytes + kReadChunk),
      upstream_in_(std::max<std::size_t>(worker.config().max_header_bytes, 64 * 1024) + kReadChunk,
                   ReadBlockAllocator<char>(worker.read_blocks())) {
  worker_.attach(*this);
}

Session::~Session() {
  if (ticket_) worker_.waits().abandon(*ticket_);
  worker_.detach(*this);
}

net::awaitable<void> Session::run() {
  arm_watchdog();
  std::exception_ptr failure;
  try {
    auto op = serve();
    co_await std::move(op);
  } catch (...) {
    failure = std::current_exception();
  }
  finished_ = true;
  auto settle = settle_watchdog();
  co_await std::move(settle);
  if (failure) std::rethrow_exception(failure);
}

void Session::on_drain() {
  // Only a connection waiting for its next request is closed now; others close after answering.
  if (phase_ == Phase::idle && in_.size() == 0 && !(request_ && request_->got_some())) {
    expired_ = Phase::idle;
    boost::system::error_code ignored;
    client_.cancel(ignored);
  } else if (phase_ == Phase::queued && ticket_) {
    ticket_->timer.cancel();  // its wait ends now: 503 shutting_down, retry elsewhere
  }
}

net::awaitable<void> Session::serve() {
  co_await net::this_coro::throw_if_cancelled(false);
  boost::system::error_code ec;
  client_.set_option(tcp::no_delay(true), ec);
  client_.non_blocking(true, ec);
  const auto remote = client_.remote_endpoint(ec);
  if (!ec) peer_ip_ = remote.address().to_string();
  if (worker_.tls()) {
    auto handshake = tls_handshake();
    if (!co_await std::move(handshake)) {
      finished_ = true;
      client_.close(ec);
      co_return;
    }
  }
  set_deadline(Phase::idle, worker_.config().timeouts.keepalive_idle);
  for (;;) {
    auto read_op = read_request();
    const ReadResult read = co_await std::move(read_op);
    if (read != ReadResult::request) {
      finish_record();  // a refused head or body was answered; a close answers nothing
      break;
    }
    auto dispatch_op = dispatch();
    const bool keep = co_await std::move(dispatch_op);
    finish_record();
    if (!keep || client_gone_ || worker_.draining()) break;
    set_deadline(Phase::idle, worker_.config().timeouts.keepalive_idle);
  }
  if (linger_ && !client_gone_) {
    auto linger = linger_close();
    co_await std::move(linger);
  }
  if (tls_ && !client_gone_ && !read_error_) {
    auto notify = tls_close_notify();
    co_await std::move(notify);
  }
  client_.shutdown(tcp::socket::shutdown_both, ec);
  auto settle = settle_client_read();
  co_await std::move(settle);
  finished_ = true;
  client_.close(ec);
}

net::awaitable<void> Session::linger_close() {
  // The client may still be sending the body we refused: read and drop it for a moment, so our
  // close does not turn into a reset that destroys the answer before the client reads it.
  boost::system::error_code ec;
  client_.shutdown(tcp::socket::shutdown_send, ec);
  set_deadline(Phase::writing, std::chrono::milliseconds(1000));
  std::size_t dropped = 0;
  while (dropped < (4u << 20)) {
    if (!read_pending_) {
      dropped += in_.size();
      in_.clear();
    }
    auto read = wait_client_read();
    const boost::system::error_code rec = co_await std::move(read);
    if (rec) break;
  }
}

net::awaitable<Session::ReadResult> Session::read_request() {
  const GatewayConfig& config = worker_.config();
  expired_ = Phase::none;
  read_hint_ = in_.size() == 0 ? kIdleRead : kReadChunk;  // kReadChunk once bytes came
  routed_model_ = {};
  snapshot_.reset();
  message_.clear();
  drop_reason_ = {};
  // Buffers are reused across requests, but one huge body (images travel as base64) should not
  // pin its memory for the connection's life.
  if (body_.capacity() > kKeepBodyCapacity) std::string().swap(body_);
  if (rewritten_.capacity() > kKeepBodyCapacity) std::string().swap(rewritten_);
  request_.emplace(body_, request_fields_, target_);
  request_->header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
  request_->body_limit(config.max_body_bytes);
  bool header_done = false;
  for (;;) {
    boost::system::error_code ec = http::error::need_more;
    if (in_.size() != 0) {
      const std::size_t used = request_->feed(in_.data(), in_.size(), ec);
      in_.consume(used);
      if (!record_started_ && request_->got_some()) begin_record();
      record_.bytes_in += used;
      if (read_hint_ < kReadChunk) read_hint_ = kReadChunk;  // a request began: the rest in chunks
    }
    if (ec && ec != http::error::need_more) {
      const ErrorKind kind = ec == http::error::header_limit ? ErrorKind::headers_too_large
                             : ec == http::error::body_limit ? ErrorKind::body_too_large
                                                             : ErrorKind::bad_request;
      keep_alive_ = false;
      linger_ = true;
      auto op = refuse(kind, true);
      co_await std::move(op);
      co_return ReadResult::refused;
    }
    if (!header_done && request_->is_header_done()) {
      header_done = true;
      request_->eager(true);
      // A large body comes in reads as large as the buffer allows (fewer system calls); the
      // buffer only grows for connections that send such bodies.
      if (const auto length = request_->content_length(); length && *length > kReadChunk) {
        read_hint_ = static_cast<std::size_t>(*length);
      }
      if (request_->expect_continue() && !request_->is_done() && in_.size() == 0 &&
          request_->version() >= 11) {
        std::array<net::const_buffer, 1> interim{net::buffer(kContinue)};
        auto write = write_client(interim);
        const boost::system::error_code wec = co_await std::move(write);
        if (wec) co_return ReadResult::closed;
      }
    }
    if (request_->is_done()) co_return ReadResult::request;
    if (!ec) continue;  // an element was parsed; more may be buffered

    const Phase wanted = !request_->got_some() ? Phase::idle : header_done ? Phase::body : Phase::header;
    if (wanted != phase_) {
      set_deadline(wanted, wanted == Phase::header ? config.timeouts.client_header
                           : wanted == Phase::body ? config.timeouts.client_body
                                                   : config.timeouts.keepalive_idle);
    }
    if (!read_pending_ && read_room(in_) == 0) {
      keep_alive_ = false;
      linger_ = true;
      auto op = refuse(ErrorKind::headers_too_large, true);
      co_await std::move(op);
      co_return ReadResult::refused;
    }
    auto read = wait_client_read();
    const boost::system::error_code rec = co_await std::move(read);
    if (rec) {
      if (expired_ == Phase::header || expired_ == Phase::body) {
        keep_alive_ = false;
        auto op = refuse(ErrorKind::request_timeout, true);
        co_await std::move(op);
        co_return ReadResult::refused;
      }
      co_return ReadResult::closed;  // the client closed, an idle timeout, or the drain
    }
  }
}

net::awaitable<bool> Session::dispatch() {
  keep_alive_ = request_->keep_alive();
  const std::string_view target = target_;
  const std::string_view path = target.substr(0, target.find('?'));
  const http::verb method = request_->method();
  read_routing_headers();
  if (!authenticate(path)) {
    auto op = refuse(ErrorKind::invalid_api_key);
    co_return co_await std::move(op);
  }
  if (path == "/v1/models" || starts_with(path, "/v1/models/")) {
    if (method != http::verb::get) {
      auto op = refuse(ErrorKind::method_not_allowed, false, "GET");
      co_return co_await std::move(op);
    }
    if (path.size() <= 11) {
      auto op = list_models();
      co_return co_await std::move(op);
    }
    auto op = get_model(path.substr(11));
    co_return co_await std::move(op);
  }
  if (starts_with(path, "/v1/")) {
    if (method != http::verb::post) {
      auto op = refuse(ErrorKind::method_not_allowed, false, "POST");
      co_return co_await std::move(op);
    }
    auto op = route_model_request();
    co_return co_await std::move(op);
  }
  auto op = refuse(ErrorKind::route_not_found);
  co_return co_await std::move(op);
}

std::optional<ErrorKind> Session::decide() {
  // A plain function, not a coroutine: the facts and the decision live in members, not in a
  // coroutine frame (GCC 12 mishandles some frame-resident temporaries), and reuse their storage.
  const std::optional<std::string_view> boundary = form_boundary(content_type_);
  auto facts = boundary ? extract_form_facts(body_, *boundary)  // the audio endpoints' forms
                        : extract_request_facts(body_, body_.capacity());
  if (!facts) return facts.error();
  facts_ = std::move(*facts);
  record_.model.assign(facts_.model);
  record_.stream = facts_.stream;
  if (key_) {
    // A model the key may not use does not exist for it: names don't leak (as OpenAI does).
    if (!key_->allows(facts_.model)) {
      message_ = model_not_found_message(facts_.model);
      return ErrorKind::model_not_found;
    }
    if (std::optional<ErrorKind> refusal = admit()) return refusal;
  }
  return schedule_request();
}

void Session::read_routing_headers() {
  // One pass. The routing headers are not names Beast knows: only unknown fields of the right
  // length are compared.
  session_id_ = objective_ = content_type_ = authorization_ = api_key_ = {};
  if (!record_started_) begin_record();
  for (std::size_t i = 0; i < request_fields_.size(); ++i) {
    const http::field id = request_fields_.id(i);
    if (id == http::field::content_type && content_type_.empty()) {
      content_type_ = request_fields_.value(i);
      continue;
    }
    if (id == http::field::authorization && authorization_.empty()) {
      authorization_ = request_fields_.value(i);
      continue;
    }
    if (id != http::field::unknown) continue;
    const std::string_view name = request_fields_.name(i);
    if (name.size() == kSessionHeader.size() && iequals(name, kSessionHeader)) {
      session_id_ = request_fields_.value(i);
    } else if (name.size() == kObjectiveHeader.size() && iequals(name, kObjectiveHeader)) {
      objective_ = request_fields_.value(i);
    } else if (name.size() == kApiKeyHeader.size() && iequals(name, kApiKeyHeader)) {
      api_key_ = request_fields_.value(i);
    } else {
      read_trace_header(name, request_fields_.value(i));
    }
  }
  start_trace();
}

std::optional<ErrorKind> Session::schedule_request() {
  const GatewayConfig& config = worker_.config();
  snapshot_ = worker_.snapshots().load();
  RequestContext context;
  context.facts = &facts_;
  context.session_id = session_id_;
  context.objective = objective_;
  if (key_) context.key_priority = key_->priority;
  context.want_scores = config.debug_headers;
  decided_at_ = Clock::now();
  auto decision = schedule(*snapshot_, context, worker_.rng(), std::max(1u, config.max_attempts),
                           decided_at_);
  if (!decision) {
    const ErrorKind kind = decision.error();
    if (kind == ErrorKind::model_not_found) {
      message_ = model_not_found_message(facts_.model);
    } else if (const ModelRoute* model = snapshot_->find_model(facts_.model)) {
      routed_model_ = model->name;
      if (kind == ErrorKind::saturated) {
        drop_reason_ = kDroppedSaturated;
        worker_.metrics().shed(
            model->name, request_priority(*snapshot_, *model, objective_,
                                          key_ ? key_->priority : std::nullopt));
      } else if (kind == ErrorKind::no_ready_endpoint) {
        drop_reason_ = kDroppedNoEndpoints;
      }
    }
    return kind;
  }
  decision_value_ = std::move(*decision);
  routed_model_ = decision_value_.model->name;
  return std::nullopt;
}

net::awaitable<bool> Session::route_model_request() {
  std::optional<ErrorKind> refusal = decide();
  if (!refusal && decision_value_.verdict == Verdict::dispatch && !worker_.waits().idle() &&
      worker_.waits().has_waiters(decision_value_.target->pool->name)) {
    // Others wait for this pool (it only just accepts again, or they are being admitted one by
    // one): no overtaking them. The queue is the pool's saturation signal here.
    refusal = queue_behind_waiters();
  }
  if (!refusal && decision_value_.verdict == Verdict::queue) {
    auto wait = wait_in_queue();
    refusal = co_await std::move(wait);
    if (client_gone_) {
      relaying_ = false;
      charge_.settle(0);  // never sent: no tokens spent (the request still counts)
      charge_ = {};
      leave_queue(false);
      worker_.metrics().client_abort();
      co_return false;
    }
  }
  if (refusal) {
    relaying_ = false;
    charge_.settle(0);
    charge_ = {};
    leave_queue(true);
    auto op = refuse(*refusal);
    co_return co_await std::move(op);
  }
  auto op = forward(facts_, decision_value_);
  const bool keep = co_await std::move(op);
  leave_queue(true);
  // Capacity may have freed on this pool: its queue (if anyone waits) re-checks it.
  if (!worker_.waits().idle() && decision_value_.target && decision_value_.target->pool) {
    worker_.waits().nudge(decision_value_.target->pool->name);
  }
  co_return keep;
}

net::awaitable<bool> Session::list_models() {
  const SnapshotPtr snapshot = worker_.snapshots().load();
  local_body_.assign(R"({"object":"list","data":[)");
  bool first = true;
  for (const std::string& name : snapshot->model_names) {
    const ModelRoute* model = snapshot->find_model(name);
    if (!model || (key_ && !key_->allows(name))) continue;
    if (!first) local_body_.push_back(',');
    first = false;
    append_model_object(local_body_, *model);
  }
  local_body_ += "]}";
  worker_.metrics().request({}, 200);
  auto op = write_local(200, local_body_, false);
  co_return co_await std::move(op);
}

net::awaitable<bool> Session::get_model(std::string_view encoded_id) {
  const std::string id = percent_decode(encoded_id);
  const SnapshotPtr snapshot = worker_.snapshots().load();
  const ModelRoute* model = snapshot->find_model(id);
  if (!model || (key_ && !key_->allows(id))) {
    message_ = model_not_found_message(id);
    auto op = refuse(ErrorKind::model_not_found);
    co_return co_await std::move(op);
  }
  local_body_.clear();
  append_model_object(local_body_, *model);
  worker_.metrics().request({}, 200);
  auto op = write_local(200, local_body_, false);
  co_return co_await std::move(op);
}

net::awaitable<bool> Session::refuse(ErrorKind kind, bool close, std::string_view allow) {
  const ErrorInfo& info = describe(kind);
  note_reason(kind);
  local_body_ = error_body(kind, message_.empty() ? default_message(kind) : message_);
  message_.clear();
  extra_.clear();
  extra_ += "x-gateway-error-reason: ";
  extra_ += info.reason;
  extra_ += "\r\n";
  if (!drop_reason_.empty()) {
    extra_ += "x-gateway-request-dropped-reason: ";
    extra_ += drop_reason_;
    extra_ += "\r\n";
    drop_reason_ = {};
  }
  if (info.retry_after) {
    // Rounded up to whole seconds; OpenAI's retry-after-ms too, which its SDKs prefer.
    const auto ms = std::max<std::int64_t>(retry_after_.count(), 1000);
    extra_ += "retry-after: ";
    append_number(extra_, static_cast<std::uint64_t>((ms + 999) / 1000));
    extra_ += "\r\n";
    if (retry_after_.count() > 0) {
      extra_ += "retry-after-ms: ";
      append_number(extra_, static_cast<std::uint64_t>(retry_after_.count()));
      extra_ += "\r\n";
    }
    retry_after_ = {};
  }
  if (!allow.empty()) {
    extra_ += "allow: ";
    extra_ += allow;
    extra_ += "\r\n";
  }
  worker_.metrics().error(kind);
  worker_.metrics().request(routed_model_, info.status);
  SPDLOG_DEBUG("refused status={} reason={} peer={}", info.status, info.reason, peer_ip_);
  auto op = write_local(info.status, local_body_, close);
  co_return co_await std::move(op);
}

net::awaitable<bool> Session::write_local(unsigned status, std::string_view body, bool close) {
  close = close || !keep_alive_ || worker_.draining();
  head_.clear();
  head_ += "HTTP/1.1 ";
  append_number(head_, status);
  head_ += ' ';
  head_ += http::obsolete_reason(http::int_to_status(status));
  head_ += "\r\ncontent-type: application/json\r\ncontent-length: ";
  append_number(head_, body.size());
  head_ += "\r\n";
  head_ += extra_;
  extra_.clear();
  head_ += rate_headers_;
  append_request_id(head_);
  note_status(status);
  if (team_) worker_.metrics().team_request(*team_, status);
  if (close) head_ += "connection: close\r\n";
  head_ += "\r\n";
  set_deadline(Phase::writing, worker_.config().timeouts.client_body);
  std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(body)};
  auto write = write_client(buffers);
  const boost::system::error_code ec = co_await std::move(write);
  co_return !ec && !close;
}

}  // namespace infergate::proxy
