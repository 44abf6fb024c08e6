"""What the artist sees and the start-up scripts touch: messages, menus, toolbars, plugin paths."""

from __future__ import annotations

from typing import Any

from ._state import gui, require_main, session


def message(prompt: str) -> None:
    require_main("nuke.message")
    session().messages.append(str(prompt))


def tprint(*args: Any) -> None:
    print(*args)


def warning(message: str) -> None:
    print(f"Warning: {message}")


def error(message: str) -> None:
    print(f"Error: {message}")


class MenuItem:
    def __init__(self, name: str, command: Any = None, shortcut: str = "", icon: str = "") -> None:
        self._name, self._command, self._shortcut, self._icon = name, command, shortcut, icon

    def name(self) -> str:
        return self._name

    def shortcut(self) -> str:
        return self._shortcut

    def setShortcut(self, keySequence: str) -> None:
        self._shortcut = keySequence

    def icon(self) -> str:
        return self._icon

    def script(self) -> str:
        return self._command if isinstance(self._command, str) else ""

    def invoke(self) -> None:
        if callable(self._command):
            self._command()
        elif isinstance(self._command, str) and self._command:
            exec(self._command, {})


class _ItemTree:
    """What a menu and a toolbar share (Nuke's ToolBar is no Menu): items by name, "a/b" paths."""

    _name: str
    _items: dict[str, MenuItem]

    def name(self) -> str:
        return self._name

    def _item(self, path: str) -> tuple[_ItemTree, str]:
        parts = path.split("/")
        menu: _ItemTree = self
        for p in parts[:-1]:
            sub = menu._items.get(p)
            if not isinstance(sub, Menu):
                sub = Menu(p)
                menu._items[p] = sub
            menu = sub
        return menu, parts[-1]

    def addCommand(
        self,
        name: str,
        command: Any = None,
        shortcut: str = "",
        icon: str = "",
        tooltip: str = "",
        index: int = -1,
        readonly: bool = False,
        shortcutContext: int = 0,
        tag: int = 0,
        tagTarget: int = 0,
    ) -> MenuItem:
        menu, leaf = self._item(name)
        if command is None:
            sub = Menu(leaf)
            menu._items[leaf] = sub
            return sub
        item = MenuItem(leaf, command, shortcut, icon)
        menu._items[leaf] = item
        return item

    def addMenu(self, name: str, icon: str = "", tooltip: str = "", index: int = -1) -> "Menu":
        menu, leaf = self._item(name)
        sub = menu._items.get(leaf)
        if not isinstance(sub, Menu):
            sub = Menu(leaf)
            menu._items[leaf] = sub
        return sub

    def addSeparator(self, *args: Any, **kwargs: Any) -> None:
        pass

    def findItem(self, name: str) -> MenuItem | None:
        menu: Any = self
        for p in name.split("/"):
            if not isinstance(menu, _ItemTree) or p not in menu._items:
                return None
            menu = menu._items[p]
        return menu

    def menu(self, name: str) -> "Menu | None":
        item = self.findItem(name)
        return item if isinstance(item, Menu) else None

    def items(self) -> list[MenuItem]:
        return list(self._items.values())


class Menu(_ItemTree, MenuItem):
    def __init__(self, name: str) -> None:
        MenuItem.__init__(self, name)
        self._items = {}


class ToolBar(_ItemTree):
    def __init__(self, name: str) -> None:
        self._name = name
        self._items = {}


def menu(name: str) -> Menu:
    require_main("nuke.menu")
    if not gui() and name in ("Nodes", "Nuke", "Viewer", "Node Graph"):
        raise RuntimeError(f"nuke.menu({name!r}) has no menu without a GUI")
    return session().menus.setdefault(name, Menu(name))


def toolbar(name: str, create: bool = True) -> ToolBar | None:
    require_main("nuke.toolbar")
    if name not in session().toolbars:
        if not create:
            return None
        session().toolbars[name] = ToolBar(name)
    return session().toolbars[name]


def pluginAddPath(args: str, addToSysPath: bool = True) -> None:
    import sys

    if addToSysPath and args not in sys.path:
        sys.path.insert(0, args)
