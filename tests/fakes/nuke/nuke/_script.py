""".nk scripts: the fake saves its graph in Nuke's block syntax and reads back what it saved.

    Read {
     inputs 0
     file /shots/sh010/plate.####.exr
     name Read1
    }
    set N_Read1 [stack 0]
    push $N_Read1
    Roto {
     inputs 1
     name Roto1
    }

Each node block pops ``inputs`` nodes off the stack (the top is input 0) and pushes itself, as in
Nuke's files. Knob values are written as words, ``{a b c}`` for arrays and JSON-quoted strings
for text with spaces; Format knobs and Roto shapes are not kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._knobs import Array_Knob, Boolean_Knob, Double_Knob, Format_Knob, Int_Knob, Knob
from ._state import session

_PLAIN = re.compile(r"^[^\s\"{}\[\]$\\]+$")


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "{" + " ".join(_word(v) for v in value) + "}"
    text = str(value)
    return text if _PLAIN.match(text) else json.dumps(text)


def _value(knob: Knob, word: str) -> Any:
    if word.startswith('"'):
        return json.loads(word)
    if isinstance(knob, Boolean_Knob):
        return word == "true"
    if isinstance(knob, Int_Knob):
        return int(word)
    if isinstance(knob, Double_Knob):
        return float(word)
    if isinstance(knob, Array_Knob) and word.startswith("{"):
        return [float(v) for v in word.strip("{}").split()]
    return word


def save_script(path: str) -> None:
    lines = ["Root {", " inputs 0"]
    root = session().root
    for name, knob in root._knobs.items():
        if name != "name" and not isinstance(knob, Format_Knob):
            lines.append(f" {name} {_word(knob._value)}")
    lines.append("}")
    for node in session().nodes:
        for src in reversed(node._inputs):  # input 0 ends on top of the stack
            lines.append(f"push ${_var(src)}" if src is not None else "push 0")
        lines += [f"{node._class} {{", f" inputs {len(node._inputs)}"]
        for name, knob in node._knobs.items():
            if knob._value is None or isinstance(knob, Format_Knob) or name in ("curves",):
                continue
            lines.append(f" {name} {_word(knob._value)}")
        lines += ["}", f"set {_var(node)} [stack 0]"]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _var(node: Any) -> str:
    return "N_" + str(node._knobs["name"]._value)


def load_script(path: str) -> None:
    from ._nodes import _add_node

    stack: list[Any] = []
    named: dict[str, Any] = {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if line.startswith("push "):
            ref = line[5:]
            stack.append(None if ref == "0" else named[ref.lstrip("$")])
            continue
        if line.startswith("set "):
            named[line.split()[1]] = stack[-1]
            continue
        if not line.endswith("{"):
            raise RuntimeError(f"{path}: line {i}: the fake cannot read {line!r}")
        cls = line[:-1].strip()
        body: list[tuple[str, str]] = []
        while lines[i].strip() != "}":
            name, _, word = lines[i].strip().partition(" ")
            body.append((name, word))
            i += 1
        i += 1
        if cls == "Root":
            for name, word in body:
                knob = session().root._knobs.get(name)
                if knob is not None and name != "inputs":
                    knob.setValue(_value(knob, word))
            continue
        node = _add_node(cls, {})
        count = 0
        for name, word in body:
            if name == "inputs":
                count = int(word)
                continue
            knob = node.knob(name)
            if knob is None:
                raise RuntimeError(f"{path}: {cls} has no knob {name!r}")
            if name == "name":
                knob._value = _value(knob, word)
            else:
                knob.setValue(_value(knob, word))
        inputs = [stack.pop() for _ in range(count)]
        for k, src in enumerate(inputs):
            node.setInput(k, src)
        stack.append(node)
