#include "proxy/tls.hpp"

#include <stdexcept>
#include <string>

#include <openssl/ssl.h>

namespace infergate::proxy {
namespace {

// Only HTTP/1.1 is spoken: select it when the client offers it, else proceed without ALPN.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsConfig& config) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  boost::system::error_code ec;
  context->use_certificate_chain_file(config.cert, ec);
  if (ec) throw std::runtime_error("tls.cert " + config.cert + ": " + ec.message());
  context->use_private_key_file(config.key, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("tls.key " + config.key + ": " + ec.message());
  SSL_CTX_set_alpn_select_cb(context->native_handle(), select_alpn, nullptr);
  return context;
}

}  // namespace infergate::proxy
