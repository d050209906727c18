#include "sim/session.hpp"

#include <algorithm>
#include <ctime>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/spdlog.h>

#include "infergate/request_facts.hpp"
#include "sim/text.hpp"
#include "sim/tokenizer.hpp"

namespace infergate::sim {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kBodyLimit = 64 << 20;
constexpr std::size_t kWatchBufferLimit = 1 << 20;
constexpr std::size_t kReadBuffer = 32 << 10;
constexpr std::string_view kFastText = " fast reply";
constexpr std::uint32_t kFastTokens = 2;

std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
  }
  return "Unknown";
}

std::string_view error_type(unsigned status) {
  switch (status) {
    case 400: return "BadRequestError";
    case 404: return "NotFoundError";
    case 429: return "RateLimitError";
    case 503: return "ServiceUnavailableError";
  }
  return "InternalServerError";
}

class Session {
 public:
  Session(Instance& in, tcp::socket sock) : in_(in), sock_(std::move(sock)), watch_done_(sock_.get_executor()) {}
  awaitable<void> run();

 private:
  struct Call {  // one model request being served
    ApiRequest api;
    ReplyInfo reply;
    std::string id;
    std::string model;
    std::uint64_t text_key = 0;
  };

  awaitable<bool> dispatch(http::request<http::string_body>& req);
  awaitable<bool> model_call(Endpoint ep, std::string& body);
  awaitable<bool> transcription(const http::request<http::string_body>& req);
  std::string prepare(Call& call, const std::string& lora, RequestSpec& spec);
  awaitable<bool> run_engine(Call& call, const std::string& lora);
  awaitable<bool> follow(Call& call, Engine::Id id, Event& wake);
  awaitable<bool> serve_fast(Call& call, std::size_t body_bytes);
  awaitable<bool> embeddings(Call& call);
  awaitable<bool> hang();
  awaitable<void> watch();
  void start_watch(Event* wake);
  awaitable<void> stop_watch();
  awaitable<bool> respond(unsigned status, std::string_view content_type, std::string_view body,
                          std::string_view extra = {});
  awaitable<bool> respond_error(unsigned status, std::string_view message, std::string_view param = {},
                                std::string_view extra = {});
  awaitable<bool> write_out();
  void append_head(unsigned status, std::string_view content_type, std::size_t length, bool chunked,
                   std::string_view extra = {});
  void reset();
  // Appends events_ to out_ as one HTTP chunk (plus the terminating chunk when `last`).
  void append_body_chunk(bool last);

  Instance& in_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
  std::string body_store_;  // keeps its capacity from one request to the next
  std::string out_;
  std::string events_;
  std::vector<std::uint32_t> tokens_;
  bool keep_alive_ = true;
  bool http10_ = false;
  // Close watch: while a model request runs, a read stays posted so that a client that leaves is
  // noticed at once (and any pipelined bytes are kept in buf_ for the next request).
  bool watching_ = false;
  bool stop_watch_ = false;
  bool peer_closed_ = false;
  Event* wake_ = nullptr;
  Event watch_done_;
};

awaitable<void> Session::run() {
  // Large bodies (the proxy benchmark posts 50 KB) are read in big gulps, not 512-byte sips.
  buf_.reserve(kReadBuffer);
  for (;;) {
    std::optional<http::request_parser<http::string_body>> parser;
    body_store_.clear();
    parser.emplace(std::piecewise_construct, std::make_tuple(std::move(body_store_)));
    parser->body_limit(kBodyLimit);
    auto read = http::async_read(sock_, buf_, *parser, kTuple);
    auto [ec, n] = co_await std::move(read);
    if (ec) {
      if (ec == http::error::body_limit) {
        keep_alive_ = false;
        co_await respond_error(413, "request body too large");
      } else if (ec != http::error::end_of_stream && ec != asio::error::eof &&
                 ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
        keep_alive_ = false;
        co_await respond_error(400, "malformed HTTP request");
      }
      break;
    }
    auto req = parser->release();
    keep_alive_ = req.keep_alive();
    http10_ = req.version() < 11;
    const bool ok = co_await dispatch(req);
    body_store_ = std::move(req.body());
    if (!ok || !keep_alive_) break;
  }
  beast::error_code ignored;
  sock_.shutdown(tcp::socket::shutdown_send, ignored);
  sock_.close(ignored);
}

awaitable<bool> Session::dispatch(http::request<http::string_body>& req) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  if (path == "/v1/chat/completions" || path == "/v1/completions" || path == "/v1/embeddings") {
    if (!post) co_return co_await respond(405, "application/json", R"({"detail":"Method Not Allowed"})");
    const Endpoint ep = path == "/v1/chat/completions" ? Endpoint::chat
                        : path == "/v1/completions"    ? Endpoint::completion
                                                       : Endpoint::embedding;
    co_return co_await model_call(ep, req.body());
  }
  if (path == "/v1/audio/transcriptions" || path == "/v1/audio/translations") {
    if (!post) co_return co_await respond(405, "application/json", R"({"detail":"Method Not Allowed"})");
    co_return co_await transcription(req);
  }
  if (!get && path != "/health") co_return co_await respond(405, "application/json", R"({"detail":"Method Not Allowed"})");
  if (path == "/health") {
    if (!in_.ready()) co_return co_await respond(503, "application/json", R"({"detail":"starting"})");
    co_return co_await respond(200, "application/json", "");
  }
  if (path == "/metrics") {
    const double wall = static_cast<double>(std::time(nullptr));
    const std::string text = in_.metrics.render(in_.opts.fast ? nullptr : &in_.engine, wall);
    co_return co_await respond(200, "text/plain; version=0.0.4; charset=utf-8", text);
  }
  if (path == "/v1/models") co_return co_await respond(200, "application/json", in_.models_json);
  if (path == "/version") co_return co_await respond(200, "application/json", R"({"version":"0.11.0-infergate-sim"})");
  co_return co_await respond(404, "application/json", R"({"detail":"Not Found"})");
}

awaitable<bool> Session::model_call(Endpoint ep, std::string& body) {
  Call call;
  std::string error;
  if (!in_.parser.parse(ep, body, in_.opts.fast, call.api, error)) {
    co_return co_await respond_error(400, error);
  }
  std::string lora;
  call.model = call.api.model.empty() ? in_.opts.served_names.front() : call.api.model;
  if (!in_.base_names.count(call.model)) {
    if (!in_.lora_names.count(call.model)) {
      const std::string message = "The model `" + call.model + "` does not exist.";
      co_return co_await respond_error(404, message, "model");
    }
    lora = call.model;
  }
  if (!in_.ready()) co_return co_await respond_error(503, "the server is starting");
  call.id = make_request_id(ep, (std::uint64_t{in_.index} << 48) + ++in_.request_count);
  call.reply.endpoint = ep;
  call.reply.id = call.id;
  call.reply.model = call.model;
  call.reply.created = static_cast<std::int64_t>(std::time(nullptr));
  if (in_.opts.fast) co_return co_await serve_fast(call, body.size());

  const Faults& f = in_.opts.faults;
  if (f.reset_before > 0 && in_.draw() < f.reset_before) {
    reset();
    co_return false;
  }
  if (f.hang > 0 && in_.draw() < f.hang) co_return co_await hang();
  if (f.fail_500 > 0 && in_.draw() < f.fail_500) co_return co_await respond_error(500, "injected failure");
  if (f.fail_429 > 0 && in_.draw() < f.fail_429) {
    co_return co_await respond_error(429, "injected rate limit", {}, "retry-after: 1\r\n");
  }
  if (ep == Endpoint::embedding) co_return co_await embeddings(call);
  co_return co_await run_engine(call, lora);
}

// A Whisper-style form: the model field must name a served model; the audio is not listened to.
awaitable<bool> Session::transcription(const http::request<http::string_body>& req) {
  const auto boundary = infergate::form_boundary(req[http::field::content_type]);
  if (!boundary) co_return co_await respond_error(400, "expected a multipart/form-data body");
  const auto form = infergate::extract_form_facts(req.body(), *boundary);
  if (!form) co_return co_await respond_error(400, "the form has no single readable model field", "model");
  if (!in_.base_names.count(form->model) && !in_.lora_names.count(form->model)) {
    const std::string message = "The model `" + form->model + "` does not exist.";
    co_return co_await respond_error(404, message, "model");
  }
  const std::string body = R"({"text":")" + std::string(kFastText.substr(1)) + R"("})";
  co_return co_await respond(200, "application/json", body);
}

awaitable<bool> Session::serve_fast(Call& call, std::size_t body_bytes) {
  // No tokenizing in fast mode: about four bytes per token is close enough for usage.
  call.reply.prompt_tokens = static_cast<std::uint32_t>(std::max<std::size_t>(1, body_bytes / 4));
  call.reply.completion_tokens = kFastTokens;
  in_.metrics.count_fast(call.reply.prompt_tokens, kFastTokens);
  if (call.api.endpoint == Endpoint::embedding) co_return co_await embeddings(call);
  if (!call.api.stream) {
    const std::string body = completion_body(call.reply, kFastText, "stop");
    co_return co_await respond(200, "application/json", body);
  }
  events_.clear();
  if (call.api.endpoint == Endpoint::chat) append_chunk(events_, call.reply, "", {}, true);
  append_chunk(events_, call.reply, kFastText.substr(0, 5), {}, false);
  append_chunk(events_, call.reply, kFastText.substr(5), "stop", false);
  if (call.api.include_usage) append_usage_chunk(events_, call.reply);
  append_done(events_);
  // Chunked like a real stream, so that a proxy in front runs its streaming path.
  out_.clear();
  append_head(200, "text/event-stream; charset=utf-8", 0, true);
  append_body_chunk(true);
  const bool ok = co_await write_out();
  co_return ok && !http10_;
}

awaitable<bool> Session::embeddings(Call& call) {
  std::vector<std::vector<float>> vectors;
  std::uint32_t tokens = 0;
  for (const auto& input : call.api.inputs) {
    tokens += static_cast<std::uint32_t>(count_tokens(input));
    vectors.push_back(embedding_for(in_.opts.engine.seed, input, in_.opts.embedding_dim));
  }
  call.reply.prompt_tokens = tokens;
  call.reply.completion_tokens = 0;
  const std::string body = embeddings_body(call.reply, vectors);
  co_return co_await respond(200, "application/json", body);
}

awaitable<bool> Session::hang() {
  Event wake(sock_.get_executor());
  start_watch(&wake);
  while (!peer_closed_) co_await wake.wait();
  co_await stop_watch();
  co_return false;
}

void Session::reset() {
  beast::error_code ignored;
  sock_.set_option(asio::socket_base::linger(true, 0), ignored);
  sock_.close(ignored);
}

void Session::start_watch(Event* wake) {
  wake_ = wake;
  stop_watch_ = false;
  peer_closed_ = false;
  watching_ = true;
  asio::co_spawn(sock_.get_executor(), watch(), asio::detached);
}

awaitable<void> Session::watch() {
  for (;;) {
    auto read = sock_.async_read_some(buf_.prepare(4096), kTuple);
    auto [ec, n] = co_await std::move(read);
    if (stop_watch_) {
      if (!ec) buf_.commit(n);
      break;
    }
    if (ec) {
      peer_closed_ = true;
      if (wake_) wake_->notify();
      break;
    }
    buf_.commit(n);
    if (buf_.size() > kWatchBufferLimit) break;  // a client this far ahead is not watched
  }
  watching_ = false;
  watch_done_.notify();
}

awaitable<void> Session::stop_watch() {
  wake_ = nullptr;
  if (!watching_) co_return;
  stop_watch_ = true;
  beast::error_code ignored;
  sock_.cancel(ignored);  // no write is outstanding here, so only the watch read is cancelled
  while (watching_) co_await watch_done_.wait();
}


// Tokenizes the prompt and fills `spec`; returns an error message when it can never run.
std::string Session::prepare(Call& call, const std::string& lora, RequestSpec& spec) {
  const ApiRequest& api = call.api;
  tokens_.clear();
  if (!api.prompt_ids.empty()) {
    tokens_ = api.prompt_ids;
  } else {
    tokenize(api.prompt, tokens_);
  }
  spec.output_tokens = api.max_tokens.value_or(in_.opts.output_len);
  spec.finish = api.max_tokens ? FinishReason::length : FinishReason::stop;
  spec.lora = lora;
  const std::size_t wanted = tokens_.size() + spec.output_tokens;
  if (wanted > in_.opts.max_model_len || !in_.engine.fits(tokens_.size(), spec.output_tokens)) {
    return "This model's maximum context length is " + std::to_string(in_.opts.max_model_len) +
           " tokens. However, you requested " + std::to_string(wanted) + " tokens.";
  }
  spec.prompt = tokens_;
  call.text_key = text_key(in_.opts.engine.seed, api.prompt);
  call.reply.prompt_tokens = static_cast<std::uint32_t>(tokens_.size());
  return {};
}

awaitable<bool> Session::run_engine(Call& call, const std::string& lora) {
  RequestSpec spec;
  const std::string refusal = prepare(call, lora, spec);
  if (!refusal.empty()) co_return co_await respond_error(400, refusal);
  const Engine::Id id = in_.engine.submit(std::move(spec), now_us());
  in_.changed();
  if (id == 0) co_return co_await respond_error(503, "the request queue is full", {}, "retry-after: 1\r\n");

  Event wake(sock_.get_executor());
  in_.waiters.emplace(id, &wake);
  start_watch(&wake);
  const bool alive = co_await follow(call, id, wake);
  in_.waiters.erase(id);
  co_await stop_watch();
  const RequestState* st = in_.engine.find(id);
  if (!alive && st->phase != Phase::finished) {
    in_.engine.abort(id, now_us());  // the client left (or a fault cut it off): free its slot now
    in_.changed();
  }
  const FinishReason reason = st->finish_reason;
  call.reply.completion_tokens = st->tokens_emitted;
  in_.engine.forget(id);
  if (!alive) {
    reset();
    co_return false;
  }
  if (call.api.stream) co_return !http10_;
  std::string text;
  append_words(text, call.text_key, 0, call.reply.completion_tokens);
  const std::string body = completion_body(call.reply, text, to_string(reason));
  co_return co_await respond(200, "application/json", body);
}

// Waits for the engine's progress on `id`, streaming tokens as they come when the request
// streams. Returns false when the client left or the stream was cut by a fault.
awaitable<bool> Session::follow(Call& call, Engine::Id id, Event& wake) {
  const bool stream = call.api.stream;
  const bool midstream_reset = stream && in_.opts.faults.reset_midstream > 0 &&
                               in_.draw() < in_.opts.faults.reset_midstream;
  if (stream) {
    out_.clear();
    append_head(200, "text/event-stream; charset=utf-8", 0, true);
    const bool ok = co_await write_out();
    if (!ok) co_return false;
  }
  std::uint32_t sent = 0;
  for (bool finished = false; !finished;) {
    co_await wake.wait();
    if (peer_closed_) co_return false;
    const RequestState* st = in_.engine.find(id);
    // Snapshot before any write: the engine moves on while a write is in flight, and the end of
    // the stream must be sent with the tokens it was computed from.
    finished = st->phase == Phase::finished;
    if (!stream || (st->tokens_emitted == sent && !finished)) continue;
    if (midstream_reset && !finished && sent + 1 >= (st->output_tokens + 1) / 2) co_return false;
    events_.clear();
    for (std::uint32_t i = sent; i < st->tokens_emitted; ++i) {
      if (i == 0 && call.reply.endpoint == Endpoint::chat) append_chunk(events_, call.reply, "", {}, true);
      const bool last = finished && i + 1 == st->tokens_emitted;
      append_chunk(events_, call.reply, word_at(call.text_key, i), last ? to_string(st->finish_reason) : "", false);
    }
    sent = st->tokens_emitted;
    if (finished) {
      call.reply.completion_tokens = sent;
      if (call.api.include_usage) append_usage_chunk(events_, call.reply);
      append_done(events_);
    }
    out_.clear();
    append_body_chunk(finished);
    const bool ok = co_await write_out();
    if (!ok) co_return false;
  }
  co_return true;
}

void Session::append_head(unsigned status, std::string_view content_type, std::size_t length, bool chunked,
                          std::string_view extra) {
  out_ += http10_ ? "HTTP/1.0 " : "HTTP/1.1 ";
  out_ += std::to_string(status);
  out_ += ' ';
  out_ += reason_phrase(status);
  out_ += "\r\ncontent-type: ";
  out_ += content_type;
  out_ += "\r\n";
  if (chunked) {
    if (!http10_) out_ += "transfer-encoding: chunked\r\n";
  } else {
    out_ += "content-length: ";
    out_ += std::to_string(length);
    out_ += "\r\n";
  }
  out_ += in_.extra_headers;
  out_ += extra;
  if (!keep_alive_ || (chunked && http10_)) out_ += "connection: close\r\n";
  out_ += "\r\n";
}

void Session::append_body_chunk(bool last) {
  if (http10_) {  // no chunked encoding: the body ends when the connection closes
    out_ += events_;
    return;
  }
  char size[20];
  out_.append(size, static_cast<std::size_t>(std::snprintf(size, sizeof size, "%zx\r\n", events_.size())));
  out_ += events_;
  out_ += last ? "\r\n0\r\n\r\n" : "\r\n";
}

awaitable<bool> Session::respond(unsigned status, std::string_view content_type, std::string_view body,
                                 std::string_view extra) {
  out_.clear();
  append_head(status, content_type, body.size(), false, extra);
  out_ += body;
  co_return co_await write_out();
}

awaitable<bool> Session::respond_error(unsigned status, std::string_view message, std::string_view param,
                                       std::string_view extra) {
  const std::string body = error_body(status, error_type(status), message, param);
  co_return co_await respond(status, "application/json", body, extra);
}

awaitable<bool> Session::write_out() {
  auto write = asio::async_write(sock_, asio::buffer(out_), kTuple);
  auto [ec, n] = co_await std::move(write);
  co_return !ec;
}

}  // namespace

awaitable<void> run_session(Instance& instance, tcp::socket socket) {
  Session session(instance, std::move(socket));
  try {
    co_await session.run();
  } catch (const std::exception& e) {
    spdlog::get("sim")->error("session failed port={} error={}", instance.port, e.what());
  }
}

}  // namespace infergate::sim
