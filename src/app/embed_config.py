"""Writes a C++ source holding a text file as a raw string literal (the embedded default config).

usage: embed_config.py INPUT OUTPUT
"""
import sys

DELIMITER = "infergate_yaml"

src, out = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    text = f.read()
if ")" + DELIMITER + '"' in text:
    sys.exit(f"{src} contains the raw-string delimiter {DELIMITER}")
with open(out, "w", encoding="utf-8") as f:
    f.write("// Generated from config/gateway.yaml by src/app/embed_config.py; do not edit.\n")
    f.write("#include <string_view>\n\nnamespace infergate::app {\n")
    f.write("extern const std::string_view kEmbeddedConfig;\n")
    f.write(f'const std::string_view kEmbeddedConfig = R"{DELIMITER}({text}){DELIMITER}";\n')
    f.write("}  // namespace infergate::app\n")
