"""Fake of Resolve's external scripting module (``import DaVinciResolveScript as dvr``).

External scripting needs Resolve Studio; in the fake, ``scriptapp("Resolve")`` returns the app
registered with :func:`register` (None when Resolve is "not running").
"""

from typing import Any

_APPS: dict[str, Any] = {}


def register(name: str, app: Any) -> None:
    _APPS[name] = app


def scriptapp(name: str) -> Any:
    return _APPS.get(name)
