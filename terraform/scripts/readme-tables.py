#!/usr/bin/env python3
"""Writes the inputs/outputs tables of terraform/README.md from variables.tf and outputs.tf.

  readme-tables.py          rewrite the tables between the BEGIN/END markers
  readme-tables.py --check  exit 1 when the README is not current (CI)

A small HCL reader, enough for this module's files: top-level `variable`/`output` blocks,
their `description`, `type`, `default`, `sensitive` attributes (strings, heredoc-free).
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
README = os.path.join(ROOT, "README.md")
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def blocks(text, kind):
    """Yields (name, body) of each top-level `kind "name" { ... }` block."""
    for m in re.finditer(r'^%s "([^"]+)" \{' % kind, text, flags=re.M):
        i, depth, in_str, esc = m.end(), 1, False, False
        while depth:
            ch = text[i]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch in "{[(":
                depth += ch == "{"
            elif ch == "}":
                depth -= 1
            elif ch == "#":
                i = text.index("\n", i) - 1
            i += 1
        yield m.group(1), text[m.end():i - 1]


def attributes(body):
    """Top-level `key = value` attributes of a block body (nested blocks skipped)."""
    attrs, key, buf, depth = {}, None, [], 0
    for line in body.split("\n"):
        m = re.match(r"^  ([a-z_]+)\s*(=\s*(.*)|\{)\s*$", line) if depth == 0 else None
        if m:
            if key:
                attrs[key] = "\n".join(buf).strip()
            key, buf = (m.group(1), [m.group(3)]) if m.group(3) is not None else (None, [])
            if m.group(3) is None:
                depth = 1
                continue
            depth = level(m.group(3))
        else:
            if key is not None and depth >= 0:
                buf.append(line)
            depth += level(line)
            if depth < 0:
                depth = 0
    if key:
        attrs[key] = "\n".join(buf).strip()
    return attrs


def level(s):
    s = re.sub(r'"(\\.|[^"\\])*"', '""', s)
    return s.count("{") + s.count("[") + s.count("(") - s.count("}") - s.count("]") - s.count(")")


def unquote(s):
    return s[1:-1].replace('\\"', '"') if s.startswith('"') and s.endswith('"') else s


def cell(s):
    s = re.sub(r"\s+", " ", s.replace("\n", " ")).strip()
    return s.replace("|", "\\|")


def code(s):
    s = re.sub(r"\s+", " ", s).strip()
    return "`" + s.replace("|", "\\|").replace("`", "'") + "`"


def tables():
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    variables = list(blocks(open(os.path.join(ROOT, "variables.tf")).read(), "variable"))
    for name, body in variables:
        a = attributes(body)
        if not unquote(a.get("description", "")) or "type" not in a:
            sys.exit(f"variable {name} needs a description and a type")
        default = a.get("default")
        lines.append("| `%s` | %s | %s | %s | %s |" % (
            name, cell(unquote(a.get("description", ""))), code(a.get("type", "any")),
            code(default) if default is not None else "n/a", "no" if default is not None else "yes"))
    lines += ["", "## Outputs", "", "| Name | Description | Sensitive |", "|---|---|:---:|"]
    outputs = list(blocks(open(os.path.join(ROOT, "outputs.tf")).read(), "output"))
    for name, body in outputs:
        a = attributes(body)
        lines.append("| `%s` | %s | %s |" % (name, cell(unquote(a.get("description", ""))),
                                             "yes" if a.get("sensitive") == "true" else "no"))
    return "\n".join(lines), len(variables), len(outputs)


def main():
    text = open(README).read()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    generated, nvars, nouts = tables()
    new = text[:start] + "\n" + generated + "\n" + text[end:]
    if "--check" in sys.argv:
        if new != text:
            sys.exit("terraform/README.md inputs/outputs tables are stale: run terraform/scripts/readme-tables.py")
        print(f"README tables current: {nvars} inputs, {nouts} outputs")
        return
    open(README, "w").write(new)
    print(f"README tables written: {nvars} inputs, {nouts} outputs")


if __name__ == "__main__":
    main()
