"""void_engine.service.journal: the SQLite journal's states, ordering, idempotency and crash recovery."""

from __future__ import annotations

import sqlite3

import pytest

from bridge.protocol import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobSpec
from void_engine.service.journal import DuplicateKeyError, IllegalTransition, Journal


def spec(**over) -> JobSpec:
    base = dict(plate="/s/p.####.exr", frames=(1, 2), prompt="bg", out="/s/out", remove="/s/r.####.exr")
    base.update(over)
    return JobSpec(**base)


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite3")
    try:
        yield j
    finally:
        j.close()


def test_submit_stores_a_queued_job_with_its_first_event(journal):
    rec, created = journal.submit("alice", spec())
    assert created and rec.state == QUEUED
    assert [(e.seq, e.kind, e.state) for e in journal.events(rec.id)] == [(1, "state", QUEUED)]


def test_a_new_job_cannot_be_claimed_until_its_on_create_step_has_run(journal):
    import threading

    claimed = []

    def place_inputs(job_id: str) -> None:
        worker = threading.Thread(target=lambda: claimed.append(journal.claim_next()))
        worker.start()
        worker.join(0.3)
        assert worker.is_alive() and claimed == []  # the worker waits for the submit to finish
        place_inputs.worker = worker  # type: ignore[attr-defined]

    rec, _ = journal.submit("alice", spec(), on_create=place_inputs)
    place_inputs.worker.join(5)  # type: ignore[attr-defined]
    assert [c.id for c in claimed] == [rec.id]


def test_a_job_whose_on_create_step_fails_is_not_stored(journal):
    def no_room(job_id: str) -> None:
        raise OSError("no space left on device")

    with pytest.raises(OSError):
        journal.submit("alice", spec(), on_create=no_room)
    assert journal.list_jobs() == [] and journal.claim_next() is None


def test_submit_is_idempotent_on_owner_and_job_key(journal):
    a, created_a = journal.submit("alice", spec(job_key="k"))
    b, created_b = journal.submit("alice", spec(job_key="k", priority=5))
    c, created_c = journal.submit("bob", spec(job_key="k"))
    assert created_a and not created_b and created_c
    assert a.id == b.id != c.id


def test_job_key_reused_for_other_inputs_is_refused(journal):
    journal.submit("alice", spec(job_key="k"))
    with pytest.raises(DuplicateKeyError, match="other inputs"):
        journal.submit("alice", spec(job_key="k", prompt="something else"))


def test_claim_takes_highest_priority_then_oldest(journal):
    first, _ = journal.submit("a", spec(prompt="1"))
    second, _ = journal.submit("a", spec(prompt="2"))
    urgent, _ = journal.submit("a", spec(prompt="3", priority=10))
    order = [journal.claim_next().id for _ in range(3)]
    assert order == [urgent.id, first.id, second.id]
    assert journal.claim_next() is None
    assert journal.get(first.id).state == RUNNING and journal.get(first.id).attempts == 1


def test_finish_records_result_and_terminal_event(journal):
    rec, _ = journal.submit("a", spec())
    journal.claim_next()
    journal.add_event(rec.id, kind="step", window=0, step=1, total=2)
    journal.finish(
        rec.id, DONE, result={"pattern": "/s/out/v001/p_void.####.exr", "frames": [1, 2], "version_dir": "/s/out/v001"}
    )
    st = journal.status(rec.id)
    assert st.state == DONE and st.output.endswith("p_void.####.exr") and st.frames == (1, 2)
    evs = journal.events(rec.id)
    assert [e.seq for e in evs] == [1, 2, 3, 4]
    assert evs[-1].terminal and evs[-1].output == st.output
    assert [e.seq for e in journal.events(rec.id, after=2)] == [3, 4]


def test_cancel_of_queued_job_is_immediate_and_of_running_job_is_a_request(journal):
    queued, _ = journal.submit("a", spec(prompt="q"))
    running, _ = journal.submit("a", spec(prompt="r", priority=1))
    journal.claim_next()
    state, event = journal.request_cancel(queued.id)
    assert state == CANCELLED and event.terminal
    state, event = journal.request_cancel(running.id)
    assert state == RUNNING and event is None and journal.cancel_requested(running.id)


def test_recover_requeues_running_jobs_until_attempts_run_out(tmp_path):
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    rec, _ = j.submit("a", spec())
    j.claim_next()
    j.close()  # the engine "dies" with the job running
    for attempt in (1, 2):
        j = Journal(path)
        requeued, failed = j.recover(max_attempts=3)
        assert requeued == [rec.id] and failed == []
        assert j.get(rec.id).state == QUEUED
        assert j.claim_next().attempts == attempt + 1
        j.close()
    j = Journal(path)
    requeued, failed = j.recover(max_attempts=3)
    assert failed == [rec.id] and j.get(rec.id).state == FAILED
    assert "3 time(s)" in j.get(rec.id).error
    j.close()


def test_state_is_durable_in_the_file_before_it_is_returned(journal, tmp_path):
    rec, _ = journal.submit("a", spec())
    journal.claim_next()
    # Another connection (another process after a crash) sees the committed state at once.
    other = sqlite3.connect(str(tmp_path / "journal.sqlite3"))
    assert other.execute("SELECT state FROM jobs WHERE id=?", (rec.id,)).fetchone() == (RUNNING,)
    other.close()


def test_requeue_puts_one_running_job_back_with_its_reason(tmp_path):
    from bridge.protocol import JobSpec
    from void_engine.service.journal import Journal

    journal = Journal(tmp_path / "journal.sqlite")
    spec = JobSpec(plate="/p/a.####.exr", frames=(1, 2), prompt="x", out="/o", remove="/p/m.####.exr")
    a, _ = journal.submit("me", spec)
    b, _ = journal.submit("me", JobSpec(**{**spec.__dict__, "prompt": "y"}))
    claimed = journal.claim_next()
    assert claimed is not None and claimed.id == a.id
    assert journal.requeue(a.id, "engine 0 died; retry 1 of 1") == "queued"
    assert journal.get(a.id).state == "queued" and journal.get(b.id).state == "queued"
    assert journal.events(a.id)[-1].message == "engine 0 died; retry 1 of 1"
    assert journal.requeue(b.id, "not running") == "queued"  # untouched: it was not running
    assert [e.state for e in journal.events(b.id)].count("queued") == 1


def stored(tmp_path, job: str) -> tuple[tuple, list]:
    """The job's row and its events as another connection reads them from the file."""
    other = sqlite3.connect(str(tmp_path / "journal.sqlite3"))
    try:
        row = other.execute("SELECT * FROM jobs WHERE id=?", (job,)).fetchone()
        events = other.execute("SELECT seq, ts, body FROM events WHERE job=? ORDER BY seq", (job,)).fetchall()
    finally:
        other.close()
    return row, events


def test_finish_of_a_queued_job_is_refused_and_changes_nothing(journal, tmp_path):
    rec, _ = journal.submit("a", spec())
    before = stored(tmp_path, rec.id)
    with pytest.raises(IllegalTransition, match=f"job {rec.id} is queued .*running -> cancelled refused"):
        journal.finish(rec.id, CANCELLED)
    assert stored(tmp_path, rec.id) == before


def test_a_job_is_finished_only_once(journal, tmp_path):
    rec, _ = journal.submit("a", spec())
    journal.claim_next()
    journal.finish(rec.id, DONE, result={"pattern": "/s/out/v001/p.####.exr", "frames": [1, 2]})
    before = stored(tmp_path, rec.id)
    with pytest.raises(IllegalTransition, match=f"job {rec.id} is done .*running -> failed refused"):
        journal.finish(rec.id, FAILED, error="too late")
    assert stored(tmp_path, rec.id) == before and journal.get(rec.id).error is None


def test_requeue_of_a_finished_job_is_refused_and_changes_nothing(journal, tmp_path):
    rec, _ = journal.submit("a", spec())
    journal.claim_next()
    journal.finish(rec.id, FAILED, error="bad plate")
    before = stored(tmp_path, rec.id)
    with pytest.raises(IllegalTransition, match=f"job {rec.id} is failed .*running -> queued refused"):
        journal.requeue(rec.id, "engine 0 died")
    assert stored(tmp_path, rec.id) == before
