"""Renders packaging/helm/infergate without helm (no helm binary on the development machines).

Only the part of Go templates and Sprig that the chart uses: actions with whitespace trimming,
comments, if/else, with/else, range over a list with a variable, define/include, variables
(`$x := ...`, `$`), pipelines, and the functions default, quote, nindent, toYaml, trunc, trimSuffix,
printf (%s), replace, contains, sha256sum, list. Anything else raises, so a template that moves
beyond this subset fails loudly instead of rendering wrongly. Where helm exists, the test renders
with helm itself as well.
"""
import hashlib
import json
import os
import re

import yaml

ACTION = re.compile(r"{{(-?)(\s*)(.*?)(\s*)(-?)}}", re.S)


# ---- parsing: text and actions into a tree of blocks

def _lex(text):
    out, pos = [], 0
    for m in ACTION.finditer(text):
        out.append(("text", text[pos:m.start()]))
        if m.group(1) == "-":
            out[-1] = ("text", out[-1][1].rstrip())
        out.append(("action", m.group(3), m.group(5) == "-"))
        pos = m.end()
    out.append(("text", text[pos:]))
    # A right trim marker eats the whitespace at the start of the next text.
    for i, tok in enumerate(out):
        if tok[0] == "action" and tok[2] and i + 1 < len(out):
            out[i + 1] = ("text", out[i + 1][1].lstrip())
    return out


def _parse(tokens, i=0, stop=("end",)):
    """Returns (nodes, index after the stop word, the stop word)."""
    nodes = []
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok[0] == "text":
            if tok[1]:
                nodes.append(("text", tok[1]))
            continue
        action = tok[1]
        if action.startswith("/*"):
            continue
        word = action.split(None, 1)[0] if action else ""
        rest = action[len(word):].strip()
        if word in ("end", "else") and word in stop:
            return nodes, i, word
        if word in ("if", "with"):
            body, i, how = _parse(tokens, i, ("end", "else"))
            other = []
            if how == "else":
                other, i, _ = _parse(tokens, i, ("end",))
            nodes.append((word, rest, body, other))
        elif word == "range":
            m = re.match(r"(\$\w+)\s*:=\s*(.*)", rest, re.S)
            var, expr = (m.group(1), m.group(2)) if m else (None, rest)
            body, i, _ = _parse(tokens, i, ("end",))
            nodes.append(("range", (var, expr), body, []))
        elif word == "define":
            body, i, _ = _parse(tokens, i, ("end",))
            nodes.append(("define", json.loads(rest), body, []))
        else:
            nodes.append(("action", action))
    return nodes, i, None


# ---- evaluation

def _truthy(v):
    return v not in (None, False, 0, "", [], {})


class Renderer:
    def __init__(self, chart_dir, values=None, release="infergate", namespace="default"):
        with open(os.path.join(chart_dir, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        with open(os.path.join(chart_dir, "values.yaml")) as f:
            vals = yaml.safe_load(f)
        for dotted, v in (values or {}).items():
            node = vals
            *parents, last = dotted.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = v
        self.root = {"Values": vals, "Release": {"Name": release, "Namespace": namespace,
                                                 "Service": "Helm"},
                     "Chart": {"Name": chart["name"], "Version": chart["version"],
                               "AppVersion": chart.get("appVersion", "")}}
        self.defines = {}
        self.templates = {}
        tdir = os.path.join(chart_dir, "templates")
        for name in sorted(os.listdir(tdir)):
            with open(os.path.join(tdir, name)) as f:
                nodes, _, _ = _parse(_lex(f.read()))
            self._collect(nodes)
            if name.endswith(".yaml"):
                self.templates[name] = nodes

    def _collect(self, nodes):
        for n in nodes:
            if n[0] == "define":
                self.defines[n[1]] = n[2]

    def render_all(self):
        """{template name: rendered text}."""
        return {name: self._run(nodes, self.root, {"$": self.root})
                for name, nodes in self.templates.items()}

    def documents(self):
        docs = []
        for text in self.render_all().values():
            docs += [d for d in yaml.safe_load_all(text) if d]
        return docs

    def _run(self, nodes, dot, env):
        out = []
        for n in nodes:
            kind = n[0]
            if kind == "text":
                out.append(n[1])
            elif kind == "define":
                continue
            elif kind == "action":
                m = re.match(r"(\$\w+)\s*:=\s*(.*)", n[1], re.S)
                if m:
                    env[m.group(1)] = self._pipeline(m.group(2), dot, env)
                else:
                    out.append(self._text(self._pipeline(n[1], dot, env)))
            elif kind == "if":
                v = self._pipeline(n[1], dot, env)
                out.append(self._run(n[2] if _truthy(v) else n[3], dot, dict(env)))
            elif kind == "with":
                v = self._pipeline(n[1], dot, env)
                out.append(self._run(n[2], v, dict(env)) if _truthy(v)
                           else self._run(n[3], dot, dict(env)))
            elif kind == "range":
                var, expr = n[1]
                for item in self._pipeline(expr, dot, env) or []:
                    inner = dict(env)
                    if var:
                        inner[var] = item
                    out.append(self._run(n[2], item, inner))
        return "".join(out)

    @staticmethod
    def _text(v):
        if v is None:
            return "<no value>"
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def _pipeline(self, text, dot, env):
        value, first = None, True
        for command in _split_top(text, "|"):
            args = _split_top(command.strip(), " ")
            if first:
                value = self._command(args, dot, env, None, False)
                first = False
            else:
                value = self._command(args, dot, env, value, True)
        return value

    def _command(self, args, dot, env, piped, has_piped):
        head = args[0]
        if head in FUNCTIONS or head == "include":
            vals = [self._arg(a, dot, env) for a in args[1:]]
            if has_piped:
                vals.append(piped)
            if head == "include":
                name, data = vals
                return self._run(self.defines[name], data, {"$": self.root})
            return FUNCTIONS[head](*vals)
        if len(args) != 1 or has_piped:
            raise ValueError(f"not a function: {head}")
        return self._arg(head, dot, env)

    def _arg(self, a, dot, env):
        if a.startswith("(") and a.endswith(")"):
            return self._pipeline(a[1:-1], dot, env)
        if a.startswith('"'):
            return json.loads(a)
        if re.fullmatch(r"-?\d+", a):
            return int(a)
        if a in ("true", "false"):
            return a == "true"
        if a == ".":
            return dot
        if a.startswith("$"):
            var, _, path = a.partition(".")
            return _walk(env[var], path)
        if a.startswith("."):
            return _walk(dot, a[1:])
        raise ValueError(f"unsupported argument: {a}")


def _walk(value, path):
    for part in filter(None, path.split(".")):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _split_top(text, sep):
    """Splits on `sep` outside quotes and parentheses; drops empty pieces for spaces."""
    parts, depth, cur, quote = [], 0, "", False
    for ch in text:
        if ch == '"' and not cur.endswith("\\"):
            quote = not quote
        elif not quote:
            depth += ch == "("
            depth -= ch == ")"
        if ch == sep and depth == 0 and not quote:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()] if sep == " " else parts


def _to_yaml(v):
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def _nindent(n, s):
    return "\n" + "\n".join((" " * n + line) if line else line for line in str(s).split("\n"))


FUNCTIONS = {
    "default": lambda d, v=None: v if _truthy(v) else d,
    "quote": lambda v: json.dumps("" if v is None else Renderer._text(v)),
    "nindent": _nindent,
    "toYaml": _to_yaml,
    "trunc": lambda n, s: str(s)[:n],
    "trimSuffix": lambda suf, s: s[:-len(suf)] if suf and s.endswith(suf) else s,
    "printf": lambda fmt, *a: fmt % a,
    "replace": lambda old, new, s: str(s).replace(old, new),
    "contains": lambda sub, s: sub in str(s),
    "sha256sum": lambda s: hashlib.sha256(str(s).encode()).hexdigest(),
    "list": lambda *a: list(a),
}
