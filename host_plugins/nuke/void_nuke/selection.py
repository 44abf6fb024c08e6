"""Which selected node is the plate, which matte says "remove" and which says "affected".

Tagging convention (checked in this order, first match wins):

1. a knob named ``void_role`` whose value is ``plate``, ``remove`` or ``affected``;
2. the word "affected" or "remove" in the node's label or name (``Roto_affected``, a label
   "affected: shadow");
3. Roto and RotoPaint nodes are mattes; with one matte it is "remove", with two one of them must
   carry the "affected" tag.

The plate is the one selected node that is not a matte (a Read or anything else: it is then
rendered). With only mattes selected, the remove matte's input is the plate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import nuke

from .errors import SetupError
from .nodes import MATTE_CLASSES, renumbers_frames

ROLE_KNOB = "void_role"
ROLES = ("plate", "remove", "affected")
_WORD = {role: re.compile(rf"(^|[^a-z]){role}([^a-z]|$)") for role in ROLES}


@dataclass(frozen=True)
class Inputs:
    """The nodes a job is made of."""

    plate: nuke.Node
    remove: nuke.Node
    affected: Optional[nuke.Node] = None


def role_of(node: nuke.Node) -> Optional[str]:
    """The node's tagged role, or None when it carries no tag."""
    knob = node.knob(ROLE_KNOB)
    if knob is not None:
        value = str(knob.value()).strip().lower()
        if value in ROLES:
            return value
    label_knob = node.knob("label")
    text = f"{label_knob.value() if label_knob is not None else ''} {node.name()}".lower()
    for role in ("affected", "remove"):
        if _WORD[role].search(text):
            return role
    return None


def _names(nodes: Sequence[nuke.Node]) -> str:
    return ", ".join(n.name() for n in nodes)


def pick_inputs(selected: Sequence[nuke.Node], *, quadmask: bool = False) -> Inputs:
    """Sort the selection into plate / remove / affected, or say what to select instead.

    With ``quadmask`` the single matte node is a ready quadmask and "affected" is not allowed.
    """
    if not selected:
        raise SetupError("Select the plate (a Read or any node) and the Roto that covers the object to remove.")
    tagged = {n: role_of(n) for n in selected}
    mattes = [
        n for n in selected if tagged[n] in ("remove", "affected") or (tagged[n] is None and n.Class() in MATTE_CLASSES)
    ]
    others = [n for n in selected if n not in mattes]

    removes = [n for n in mattes if tagged[n] == "remove"]
    affecteds = [n for n in mattes if tagged[n] == "affected"]
    untagged = [n for n in mattes if tagged[n] is None]
    if len(untagged) > 1 or (untagged and removes):
        raise SetupError(
            f"More than one matte is selected ({_names(mattes)}). Put 'affected' in the label of the "
            "one that marks shadows/reflections, or leave only the remove matte selected."
        )
    removes += untagged
    if not removes:
        raise SetupError(
            "Select the Roto that covers the object to remove. Any other matte node works too once it "
            "is tagged: put 'remove' in its label (or name), or add a 'void_role' text knob set to 'remove'."
        )
    if len(removes) > 1:
        raise SetupError(f"Only one matte can be the remove matte; {_names(removes)} are all tagged 'remove'.")
    if len(affecteds) > 1:
        raise SetupError(f"Only one matte can be tagged 'affected'; {_names(affecteds)} are.")
    if quadmask and affecteds:
        raise SetupError(
            "A ready quadmask already holds the affected regions: deselect "
            f"{affecteds[0].name()} or switch the mask mode to 'mattes'."
        )

    plates = [n for n in others if tagged[n] == "plate"] or others
    if len(plates) > 1:
        raise SetupError(
            f"Select one plate; {_names(plates)} are all selected. Tag the plate with a "
            "'void_role' knob set to 'plate', or deselect the others."
        )
    if plates:
        plate = plates[0]
    else:
        upstream = removes[0].input(0)
        if upstream is None:
            raise SetupError("Select the plate too (a Read or any node), or connect the Roto to it.")
        plate = upstream
    return Inputs(plate=plate, remove=removes[0], affected=affecteds[0] if affecteds else None)


def check_formats(inputs: Inputs) -> None:
    """Mattes must be the plate's size: the engine lays them over the plate pixel for pixel."""
    pf = inputs.plate.format()
    size = (pf.width(), pf.height())
    for matte in (inputs.remove, inputs.affected):
        if matte is None:
            continue
        mf = matte.format()
        if (mf.width(), mf.height()) != size:
            raise SetupError(
                f"{matte.name()} is {mf.width()}x{mf.height()} but the plate {inputs.plate.name()} is "
                f"{size[0]}x{size[1]}. Set the matte's format (or the project's) to the plate's."
            )


def default_frame_range(plate: nuke.Node) -> tuple[int, int]:
    """The plate's range: a Read's first/last (in script frames when it renumbers its files), else
    the node's frame range, else the project's."""
    if plate.Class() == "Read" and not renumbers_frames(plate):
        return int(plate["first"].value()), int(plate["last"].value())
    try:
        return int(plate.firstFrame()), int(plate.lastFrame())
    except Exception:  # some nodes have no range of their own
        root = nuke.root()
        return int(root["first_frame"].value()), int(root["last_frame"].value())
