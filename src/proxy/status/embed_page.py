"""Joins the status page's HTML, CSS and script into one document and writes it, with the
Content-Security-Policy that allows exactly that style and script (by their SHA-256), as C++
constants.

usage: embed_page.py OUTPUT PAGE.html PAGE.css PAGE.js

The HTML holds the markers <!--infergate:css--> and <!--infergate:js--> where the <style> and
<script> elements go. Hashes rather than 'unsafe-inline': if anything ever injected markup into
the page, its scripts would not run.
"""
import base64
import hashlib
import sys

DELIMITER = "infergate_page"

out, html_path, css_path, js_path = sys.argv[1:5]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def sha256(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


html, css, js = read(html_path), read(css_path), read(js_path)
for marker in ("<!--infergate:css-->", "<!--infergate:js-->"):
    if html.count(marker) != 1:
        sys.exit(f"{html_path}: expected the marker {marker} exactly once")
page = html.replace("<!--infergate:css-->", "<style>" + css + "</style>")
page = page.replace("<!--infergate:js-->", "<script>" + js + "</script>")
if ")" + DELIMITER + '"' in page:
    sys.exit(f"the page contains the raw-string delimiter {DELIMITER}")
csp = ("default-src 'self'; script-src " + sha256(js) + "; style-src " + sha256(css) +
       "; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none';"
       " form-action 'none'; frame-ancestors 'none'")
with open(out, "w", encoding="utf-8") as f:
    f.write("// Generated from src/proxy/status/* by src/proxy/status/embed_page.py; do not edit.\n")
    f.write('#include "proxy/status_page.hpp"\n\nnamespace infergate::proxy {\n')
    f.write(f'const std::string_view kStatusPage = R"{DELIMITER}({page}){DELIMITER}";\n')
    f.write(f'const std::string_view kStatusPageCsp = "{csp}";\n')
    f.write("}  // namespace infergate::proxy\n")
