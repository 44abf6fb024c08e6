"""Knobs (named values on nodes and panels), formats and frame ranges."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._state import require_main

if TYPE_CHECKING:
    from ._nodes import Node

# Knob flags the plugin may use
STARTLINE = 0x1000
ENDLINE = 0x2000
INVISIBLE = 0x400


class Knob:
    """A named value on a node or panel."""

    def __init__(self, name: str, label: str | None = None, value: Any = None) -> None:
        self._name = name
        self._label = label if label is not None else name
        self._value = value
        self._tooltip = ""
        self._flags = 0
        self._enabled = True
        self._visible = True
        self._node: Node | None = None

    def Class(self) -> str:
        return type(self).__name__

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def setLabel(self, label: str) -> None:
        self._label = label

    def node(self) -> Node:
        assert self._node is not None
        return self._node

    def _touch(self) -> None:
        if self._node is not None:
            require_main(f"knob {self._name!r}")

    def value(self, index: int = 0) -> Any:
        self._touch()
        return self._value

    def getValue(self, channel: int = 0) -> Any:
        return self.value()

    def setValue(self, val: Any, chan: int = 0) -> bool:
        self._touch()
        self._value = val
        if self._node is not None:
            self._node.fake_knob_changed(self)
        return True

    def setTooltip(self, tooltip: str) -> None:
        self._tooltip = tooltip

    def tooltip(self) -> str:
        return self._tooltip

    def setFlag(self, flag: int) -> None:
        self._flags |= flag

    def clearFlag(self, flag: int) -> None:
        self._flags &= ~flag

    def getFlag(self, flag: int) -> bool:
        return bool(self._flags & flag)

    def setEnabled(self, enabled: bool) -> None:
        self._enabled = enabled

    def enabled(self) -> bool:
        return self._enabled

    def setVisible(self, visible: bool) -> None:
        self._visible = visible

    def visible(self) -> bool:
        return self._visible

    def toScript(self, quote: bool = False, context: Any = None) -> str:
        return str(self.value())

    def fromScript(self, script: str) -> None:
        self.setValue(script)

    def __repr__(self) -> str:
        return f"<{self.Class()} {self._name}={self._value!r}>"


class String_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, value: str = "") -> None:
        super().__init__(name, label, str(value))

    def value(self, oc: Any = None) -> Any:
        return super().value()

    def setValue(self, val: Any, view: str | None = None) -> bool:
        if not isinstance(val, str):
            raise TypeError(f"{self._name}: a string knob takes a string, got {type(val).__name__}")
        return super().setValue(val)

    def getText(self) -> str:
        return str(self.value())


class EvalString_Knob(String_Knob):
    pass


class File_Knob(EvalString_Knob):
    def getEvaluatedValue(self) -> str:
        return str(self.value())


class Multiline_Eval_String_Knob(EvalString_Knob):
    pass


class Text_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, text: str = "") -> None:
        super().__init__(name, label, text)


class Tab_Knob(Knob):
    pass


class PyScript_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, command: str = "") -> None:
        super().__init__(name, label, command)

    def value(self) -> Any:
        return super().value()

    def setValue(self, cmd: Any) -> bool:
        return super().setValue(cmd)


class Array_Knob(Knob):
    pass


class Int_Knob(Array_Knob):
    def __init__(self, name: str, label: str | None = None, value: int = 0) -> None:
        super().__init__(name, label, int(value))

    def value(self) -> Any:
        return super().value()

    def setValue(self, val: Any) -> bool:
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise TypeError(f"{self._name}: an int knob takes a number, got {type(val).__name__}")
        return super().setValue(int(val))


class Double_Knob(Array_Knob):
    def __init__(self, name: str, label: str | None = None, value: float = 0.0) -> None:
        super().__init__(name, label, float(value))

    def setValue(self, val: Any, *args: Any) -> bool:
        return super().setValue(float(val))


class Boolean_Knob(Array_Knob):
    def __init__(self, name: str, label: str | None = None, value: bool = False) -> None:
        super().__init__(name, label, bool(value))

    def value(self) -> Any:
        return super().value()

    def setValue(self, b: Any) -> bool:
        return super().setValue(bool(b))


class Enumeration_Knob(Knob):
    """``value()`` is the chosen item's name; ``setValue`` takes a name or an index."""

    def __init__(self, name: str, label: str | None = None, items: list[str] | None = None) -> None:
        self._items = [str(i) for i in (items or [])]
        super().__init__(name, label, self._items[0] if self._items else "")

    def values(self) -> list[str]:
        return list(self._items)

    def setValues(self, items: list[str]) -> None:
        self._items = [str(i) for i in items]

    def numValues(self) -> int:
        return len(self._items)

    def enumName(self, n: int) -> str:
        return self._items[n]

    def value(self) -> Any:
        return super().value()

    def setValue(self, val: Any, *args: Any) -> bool:
        if isinstance(val, int) and not isinstance(val, bool):
            val = self._items[val]
        if self._items and val not in self._items:
            raise ValueError(f"{self._name}: {val!r} is not one of {self._items}")
        return super().setValue(val)

    def getValue(self, *args: Any) -> Any:
        return float(self._items.index(self.value())) if self._items else 0.0


class Format:
    def __init__(self, width: int, height: int, name: str = "") -> None:
        self._w, self._h, self._name = width, height, name

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def name(self) -> str:
        return self._name

    def pixelAspect(self) -> float:
        return 1.0

    def x(self) -> int:
        return 0

    def y(self) -> int:
        return 0

    def r(self) -> int:
        return self._w

    def t(self) -> int:
        return self._h


class Format_Knob(Knob):
    def value(self, *args: Any) -> Any:
        return self._value


class FrameRange:
    def __init__(self, first: int, last: int) -> None:
        self._first, self._last = first, last

    def first(self) -> int:
        return self._first

    def last(self) -> int:
        return self._last

    def frames(self) -> int:
        return self._last - self._first + 1
