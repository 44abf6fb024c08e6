"""The fakes stay faithful: every Resolve API method they offer exists under that name in
fusionscript-stubs (the public typing of Resolve's scripting README) and takes the arguments
the stubs give it; and the fakes answer failure as Resolve does (None / False / "" / []), not
with exceptions."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import fake_resolve.resolve as fake
import pytest


def _stub_methods() -> dict[str, set[str]]:
    import importlib.util

    spec = importlib.util.find_spec("fusionscript-stubs")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    if not roots:
        pytest.skip("fusionscript-stubs is not installed (pip install -c constraints.txt fusionscript-stubs)")
    tree = ast.parse((roots[0] / "fusionscript.pyi").read_text())
    return {
        node.name: {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


FAKE_CLASSES = [
    fake.Resolve,
    fake.ProjectManager,
    fake.Project,
    fake.MediaStorage,
    fake.MediaPool,
    fake.Folder,
    fake.MediaPoolItem,
    fake.Timeline,
    fake.TimelineItem,
]


@pytest.mark.parametrize("cls", FAKE_CLASSES, ids=lambda c: c.__name__)
def test_fake_resolve_methods_exist_in_the_stubs(cls):
    stubs = _stub_methods()[cls.__name__]
    api = {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[:1].isupper()}
    assert api, f"{cls.__name__} offers no API methods"
    assert sorted(api - stubs) == []


def _stub_overloads() -> dict[str, dict[str, list[ast.FunctionDef]]]:
    import importlib.util

    spec = importlib.util.find_spec("fusionscript-stubs")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    if not roots:
        pytest.skip("fusionscript-stubs is not installed (pip install -c constraints.txt fusionscript-stubs)")
    tree = ast.parse((roots[0] / "fusionscript.pyi").read_text())
    out: dict[str, dict[str, list[ast.FunctionDef]]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for f in node.body:
                if isinstance(f, ast.FunctionDef):
                    out.setdefault(node.name, {}).setdefault(f.name, []).append(f)
    return out


_MANY = 10**6


def _stub_arity(f: ast.FunctionDef) -> tuple[int, int]:
    """(required, most) positional arguments a stub overload takes, ``self`` left out."""
    params = f.args.posonlyargs + f.args.args
    params = params[1:]  # self
    required = len(params) - len(f.args.defaults)
    return required, _MANY if f.args.vararg else len(params)


def _fake_arity(fn) -> tuple[int, int]:
    params = list(inspect.signature(fn).parameters.values())[1:]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is p.empty)
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    return required, _MANY if varargs else len(positional)


@pytest.mark.parametrize("cls", FAKE_CLASSES, ids=lambda c: c.__name__)
def test_fake_resolve_methods_take_the_arguments_the_stubs_give_them(cls):
    # Every call some stub overload allows, the fake takes; and the fake takes no more
    # arguments than the widest overload (a fake that swallows extra arguments hides misuse).
    stubs = _stub_overloads()[cls.__name__]
    bad = []
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if not name[:1].isupper():
            continue
        fake_min, fake_max = _fake_arity(fn)
        arities = [_stub_arity(f) for f in stubs[name]]
        stub_min, stub_max = min(a for a, _ in arities), max(b for _, b in arities)
        # README-documented optional arguments the stubs mark required are allowed to stay optional
        if fake_min > stub_min or fake_max < stub_max or fake_max > stub_max:
            bad.append(f"{name}: fake takes {fake_min}-{fake_max}, stubs {stub_min}-{stub_max}")
    assert bad == []


def test_fake_import_media_answers_empty_for_what_it_cannot_import(tmp_path):
    pool = fake.Project().GetMediaPool()
    assert pool.ImportMedia([{"FilePath": str(tmp_path / "none.%04d.exr"), "StartIndex": 1, "EndIndex": 2}]) == []
    assert pool.ImportMedia(["/media/take.mov"]) == []


def test_fake_append_to_timeline_answers_empty_for_a_bad_clip_info():
    project = fake.Project()
    item = fake.MediaPoolItem("/s/p.[1001-1008].exr", 1001, 1008)
    project.timelines.append(fake.Timeline("t"))
    project.current_timeline = project.timelines[0]
    pool = project.GetMediaPool()
    assert pool.AppendToTimeline([{"mediaPoolItem": item, "startFrame": 1001, "endFrame": 1003, "speed": 2}]) == []
    assert pool.AppendToTimeline(["not a clip info"]) == []
    assert len(pool.AppendToTimeline([{"mediaPoolItem": item, "startFrame": 1001, "endFrame": 1003}])) == 1


def test_fake_render_job_needs_a_timeline():
    assert fake.Project().AddRenderJob() == ""


def test_fake_render_settings_start_as_a_project_s_and_refuse_bad_keys():
    project = fake.Project()
    assert project.GetCurrentRenderFormatAndCodec() == {"format": "mov", "codec": "H264"}
    assert project.GetCurrentRenderMode() == 1
    before = project.render_snapshot()
    assert before["settings"]["TargetDir"] and before["settings"]["ExportAudio"] is True
    assert project.SetRenderSettings({"Bogus": 1}) is False
    assert project.SetRenderSettings({"FormatWidth": "96"}) is False
    assert project.SetRenderSettings({"ExportAudio": 0}) is False
    assert project.render_snapshot() == before


def test_fake_render_preset_keeps_the_settings_but_not_the_mode():
    project = fake.Project()
    assert project.SaveAsNewRenderPreset("keep") and not project.SaveAsNewRenderPreset("keep")
    project.SetRenderSettings({"TargetDir": "/elsewhere"})
    project.SetCurrentRenderFormatAndCodec("exr", "RGBHalfZIP")
    project.SetCurrentRenderMode(0)
    assert project.LoadRenderPreset("keep")
    assert project.render_settings["TargetDir"] == "/Volumes/Deliveries/Shots"
    assert project.GetCurrentRenderFormatAndCodec()["format"] == "mov"
    assert project.GetCurrentRenderMode() == 0
    assert project.DeleteRenderPreset("keep") and not project.LoadRenderPreset("keep")


def test_fake_fusion_answers_none_and_false_instead_of_raising():
    from fake_resolve import Fusion

    comp = Fusion().NewComp()
    assert comp.AddTool("NoSuchTool") is None
    saver = comp.AddTool("Saver")
    assert comp.Render({"Tool": saver, "Wait": True}) is False  # nothing connected to it
    assert comp.Render({"Tool": saver, "Bogus": 1}) is False
    assert not saver.SetInput("NoSuchInput", 1)
    assert comp.unknown_inputs == [f"{saver.name}.NoSuchInput"]
