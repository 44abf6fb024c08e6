"""A small, faithful fake of Foundry Nuke's ``nuke`` Python module, for tests.

Real names and argument shapes (checked against the ``types-nuke`` stubs): ``nodes.Read(...)``,
``createNode``, ``toNode``, ``selectedNodes``, ``allNodes``, ``delete``, ``execute(node, start,
end)``, ``root()``, knobs with ``value/setValue/getValue``, ``ProgressTask``, ``message``,
``executeInMainThread[WithResult]``, ``GUI``, ``menu``/``toolbar``.

What makes it useful rather than a stub:
- Nodes render: a Read reads its EXR frames, a Roto/RotoPaint/Rectangle draws a box into alpha,
  Constant fills its colour, other nodes pass input 0 through. A Write node executed with
  ``execute`` writes real EXRs through OpenImageIO, honouring ``file``, ``channels`` and
  ``datatype``.
- Threading like Nuke's: with ``GUI`` true, touching nodes, knobs or ``message`` from any thread
  but the main one raises, and ``executeInMainThread`` queues the call (from the main thread
  too) until the test pumps the "event loop" with :func:`fake_process_events`.
  ``executeInMainThreadWithResult`` prints an error's traceback and returns None, as Foundry's
  ``executeInMain.py`` does, and refuses the main thread (Nuke would deadlock there).
  ``ProgressTask`` may be used from any thread; its bar closes when the object is released.
- Nuke's fixed lists: ``file_type``, ``channels``, ``colorspace`` (per the root's
  ``OCIO_config``), ``on_error``, ``datatype`` are enumerations, and ``datatype``/``compression``
  exist on a Write only once its ``file_type`` is exr. ``filename()`` evaluates ``####`` to
  ``%04d``; a connected node takes its input's format; a Roto composites its shapes over its
  input's alpha unless ``replace`` is on; ``scriptOpen`` of a missing file raises, and scripts
  saved with ``scriptSave[As]`` open again (``_script``).

Everything that is not Nuke API is prefixed ``fake_``. The package holds the session
(``fake_state``, ``GUI``) and re-exports the API from its modules: ``_knobs``, ``_nodes``,
``_render`` (EXR I/O, ``execute``), ``_threads`` (the main thread's event loop, ``ProgressTask``),
``_ui`` (messages, menus, toolbars) and ``_state`` (the main-thread rule). Every public name here
exists in the ``types-nuke`` stubs with a compatible signature (tests/nuke/test_nuke_fake_faithful.py).
"""

from ._knobs import (
    ENDLINE,
    INVISIBLE,
    STARTLINE,
    Array_Knob,
    Boolean_Knob,
    Double_Knob,
    Enumeration_Knob,
    EvalString_Knob,
    File_Knob,
    Format,
    Format_Knob,
    FrameRange,
    Int_Knob,
    Knob,
    Multiline_Eval_String_Knob,
    PyScript_Knob,
    String_Knob,
    Tab_Knob,
    Text_Knob,
)
from ._nodes import (
    REPLACE,
    Group,
    Node,
    Root,
    allNodes,
    createNode,
    delete,
    filename,
    frame,
    nodes,
    root,
    scriptName,
    scriptOpen,
    scriptSave,
    scriptSaveAs,
    selectedNode,
    selectedNodes,
    toNode,
)
from ._render import execute, fake_frame_path
from ._state import FakeState as _FakeState
from ._threads import ProgressTask, executeInMainThread, executeInMainThreadWithResult, fake_process_events
from ._ui import Menu, MenuItem, ToolBar, error, menu, message, pluginAddPath, toolbar, tprint, warning

GUI: bool = True
NUKE_VERSION_MAJOR = 15
NUKE_VERSION_MINOR = 1
NUKE_VERSION_STRING = "15.1v1"
env: dict[str, object] = {"gui": True, "NukeVersionMajor": 15}

#: the current script: its nodes, messages shown, progress tasks, Writes executed, menus
fake_state = _FakeState()


def fake_reset(gui: bool = True) -> None:
    """A new empty script; ``gui`` sets ``nuke.GUI``."""
    global GUI, fake_state
    GUI = gui
    env["gui"] = gui
    fake_state = _FakeState()


__all__ = [
    # session
    "GUI",
    "NUKE_VERSION_MAJOR",
    "NUKE_VERSION_MINOR",
    "NUKE_VERSION_STRING",
    "env",
    "fake_state",
    "fake_reset",
    # knobs
    "ENDLINE",
    "INVISIBLE",
    "STARTLINE",
    "Array_Knob",
    "Boolean_Knob",
    "Double_Knob",
    "Enumeration_Knob",
    "EvalString_Knob",
    "File_Knob",
    "Format",
    "Format_Knob",
    "FrameRange",
    "Int_Knob",
    "Knob",
    "Multiline_Eval_String_Knob",
    "PyScript_Knob",
    "String_Knob",
    "Tab_Knob",
    "Text_Knob",
    # nodes
    "Group",
    "REPLACE",
    "Node",
    "Root",
    "allNodes",
    "createNode",
    "delete",
    "filename",
    "frame",
    "nodes",
    "root",
    "scriptName",
    "scriptOpen",
    "scriptSave",
    "scriptSaveAs",
    "selectedNode",
    "selectedNodes",
    "toNode",
    # rendering
    "execute",
    "fake_frame_path",
    # threads
    "ProgressTask",
    "executeInMainThread",
    "executeInMainThreadWithResult",
    "fake_process_events",
    # ui
    "Menu",
    "MenuItem",
    "ToolBar",
    "error",
    "menu",
    "message",
    "pluginAddPath",
    "toolbar",
    "tprint",
    "warning",
]
