"""Parse a PowerShell script with the tree-sitter PowerShell grammar and
print what the tests check, as JSON:

  {"errors": ["line:col: ERROR ..."],          # ERROR and MISSING nodes
   "attributes": ["CmdletBinding(SupportsShouldProcess = $true)", ...],
   "commands": [{"name": "netsh", "line": 12,
                 "elements": [{"param": "-Path"}, {"value": "HKLM:\\..."},
                              {"values": ["a", "b"]}, {"token": "DWord"}]}]}

An argument is a value only when its node is nothing but literals:
single-quoted strings unquoted ('' -> '), @(...) arrays of them as lists,
numbers and bare words as tokens; anything computed is an "expr".
"functions" says, per function, whether it asks $PSCmdlet.ShouldProcess.

  python3 tests/ps_tree.py SCRIPT.ps1
"""

import json
import re
import sys

import tree_sitter
import tree_sitter_powershell


def text(src, node):
    return src[node.start_byte:node.end_byte].decode("utf-8")


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


STRING = r"'(?:[^'\u2018\u2019\u201a\u201b]|'')*'"
LITERAL = re.compile(r"^%s$" % STRING)
ARRAY = re.compile(r"^@\(\s*(?:%s(?:\s*,\s*%s)*)?\s*\)$" % (STRING, STRING))
WORD = re.compile(r"^[A-Za-z0-9]+$")


def unquote(literal):
    return literal[1:-1].replace("''", "'")


def element(src, node):
    """A parameter, or a value only when it is nothing but literals: a
    single-quoted string, @() of them, or a bare word or number. Anything
    computed (a variable, a sub-expression, a call) is an "expr"."""
    if node.type == "command_parameter":
        return {"param": text(src, node)}
    raw = text(src, node)
    if LITERAL.match(raw):
        return {"value": unquote(raw)}
    if ARRAY.match(raw):
        return {"values": [unquote(m) for m in re.findall(STRING, raw)]}
    if WORD.match(raw):
        return {"token": raw}
    return {"expr": raw}


def main(path):
    src = open(path, "rb").read()
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(src)
    errors, commands, attributes, functions = [], [], [], {}
    for n in walk(tree.root_node):
        if n.type == "function_statement":
            name = next((c for c in n.children if c.type == "function_name"), None)
            # Whether the function asks $PSCmdlet.ShouldProcess, which is
            # what makes -WhatIf stop it.
            asks = any(m.type == "member_name" and text(src, m) == "ShouldProcess" for m in walk(n))
            functions[text(src, name) if name else ""] = {"should_process": asks}
        if n.type == "ERROR" or n.is_missing:
            errors.append("%d:%d: %s %r" % (n.start_point[0] + 1, n.start_point[1] + 1, n.type, text(src, n)[:60]))
        elif n.type == "attribute":
            attributes.append(text(src, n)[1:-1])
        elif n.type == "command":
            name = next((c for c in n.children if c.type == "command_name"), None)
            elements = next((c for c in n.children if c.type == "command_elements"), None)
            commands.append({
                "name": text(src, name) if name else "",
                "line": n.start_point[0] + 1,
                "elements": [element(src, c) for c in (elements.children if elements else [])
                             if c.type != "command_argument_sep"],
            })
    print(json.dumps({"errors": errors, "attributes": attributes, "commands": commands, "functions": functions}))


if __name__ == "__main__":
    main(sys.argv[1])
