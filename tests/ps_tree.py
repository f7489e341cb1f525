"""Parse a PowerShell script with the tree-sitter PowerShell grammar and
print what the tests check, as JSON:

  {"errors": ["line:col: ERROR ..."],          # ERROR and MISSING nodes
   "attributes": ["CmdletBinding(SupportsShouldProcess = $true)", ...],
   "commands": [{"name": "netsh", "line": 12,
                 "elements": [{"param": "-Path"}, {"value": "HKLM:\\..."},
                              {"values": ["a", "b"]}, {"token": "DWord"}]}]}

Values are read from the tree: single-quoted strings unquoted ('' -> '),
@(...) arrays of strings as lists, numbers and bare words as tokens.

  python3 tests/ps_tree.py SCRIPT.ps1
"""

import json
import sys

import tree_sitter
import tree_sitter_powershell


def text(src, node):
    return src[node.start_byte:node.end_byte].decode("utf-8")


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


def strings(src, node):
    """The single-quoted strings under a node, unquoted, in order."""
    out = []
    for n in walk(node):
        if n.type == "verbatim_string_characters":
            raw = text(src, n)
            out.append(raw[1:-1].replace("''", "'"))
        elif n.type == "expandable_string_literal":
            out.append(text(src, n))
    return out


def element(src, node):
    if node.type == "command_parameter":
        return {"param": text(src, node)}
    found = strings(src, node)
    is_array = any(n.type in ("array_expression", "array_literal_expression") and text(src, n).startswith("@(")
                   for n in walk(node))
    if is_array:
        return {"values": found}
    if len(found) == 1:
        return {"value": found[0]}
    return {"token": text(src, node)}


def main(path):
    src = open(path, "rb").read()
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(src)
    errors, commands, attributes = [], [], []
    for n in walk(tree.root_node):
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
    print(json.dumps({"errors": errors, "attributes": attributes, "commands": commands}))


if __name__ == "__main__":
    main(sys.argv[1])
