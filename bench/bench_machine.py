"""Benchmark: one compiled Wijkkompas machine driving many in-memory instances.

Run by hand (not a test):  .venv/bin/python bench/bench_machine.py [--instances N]

Reports, in one run on this machine:
- compile time of the shipped Wijkkompas workflow;
- triggers per second for pause/resume/advance with real gate evaluation (each advance
  evaluates the phase's gate: required milestones and approvals), and for the whole mix
  including milestone_done and approve;
- memory per instance held (tracemalloc, after driving all instances through every phase);
- the same trigger path on a bare two-state ``transitions`` machine with a trivial condition,
  as the baseline;
- what the alternatives would cost: a machine per instance (build time, memory) and
  ``Machine.add_model`` on one shared machine (quadratic: it checks membership in a list).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transitions import Machine  # the baseline needs the library itself

from engine.clock import start_of_day
from engine.runtime.commands import CompiledWorkflow, compile_workflow
from engine.runtime.events import Regie
from engine.workflow.loader import load_file
from engine.workflow.timeline import plan_timeline

WORKFLOW = Path(__file__).resolve().parent.parent / "workflows" / "wijkkompas.yaml"
T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)


def compile_once() -> tuple[CompiledWorkflow, float]:
    definition = load_file(WORKFLOW).definition
    started = time.perf_counter()
    workflow = compile_workflow(definition)
    workflow.machine  # noqa: B018 (built when a trigger is first fired: counted here)
    return workflow, time.perf_counter() - started


Round = tuple[datetime, list[tuple[datetime, str]], list[str]]


def schedule(workflow: CompiledWorkflow) -> list[Round]:
    """Per phase, as planned: its end, its milestones on their planned days, its approvals."""
    plan = plan_timeline(workflow.definition, T0.date())
    rank: dict[str, int] = {}

    def visit(mid: str) -> int:  # dependencies first, for milestones due on the same day
        if mid not in rank:
            deps = workflow.milestones[mid].depends_on
            rank[mid] = 1 + max((visit(d) for d in deps), default=0)
        return rank[mid]

    rounds = []
    for phase, phase_plan in zip(workflow.phases, plan.phases, strict=True):
        days = sorted((m.due or phase_plan.end, visit(m.id), m.id) for m in phase_plan.milestones)
        end = max([phase_plan.end, *(day for day, _, _ in days)])
        rounds.append(
            (
                start_of_day(end),
                [(start_of_day(day), mid) for day, _, mid in days],
                [a for a, _ in workflow.gates[phase.id].approvals],
            )
        )
    return rounds


def drive(workflow: CompiledWorkflow, count: int, *, trace: bool) -> dict[str, float]:
    """Start ``count`` instances and drive them all, phase by phase, to the last phase."""
    gc.collect()
    if trace:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
    gemeente = Regie(type="gemeente")
    instances = [
        workflow.start(key=f"wk{i}", title=f"Wijk {i}", regie=gemeente, at=T0, by="bench")[0]
        for i in range(count)
    ]
    plan = schedule(workflow)
    timed_triggers = mix_triggers = 0
    timed_seconds = mix_seconds = 0.0
    for (end, milestones, approvals), phase in zip(plan[:-1], workflow.phases, strict=False):
        buttons = workflow.buttons_in[phase.id]
        # Recording milestones and approvals (on their planned days): part of the mix.
        started = time.perf_counter()
        for inst in instances:
            for day, mid in milestones:
                workflow.milestone_done(inst, mid, at=day, by="bench")
            for aid in approvals:
                # An independent approval names the organisation that gives it (no party to
                # the instance: the bench's instances have none).
                other = "toetsing-extern" if workflow.definition.independent(aid) else None
                workflow.approve(inst, aid, "go", at=end, by="bench", independent_by=other)
        recording = time.perf_counter() - started
        recorded = count * (len(milestones) + len(approvals))
        # Pause, resume, advance (gate evaluated): the figure the target is about.
        started = time.perf_counter()
        for inst in instances:
            if buttons:
                workflow.pause(inst, buttons[0], at=end, by="bench", reason="bench")
                workflow.resume(inst, at=end, by="bench")
            workflow.advance(inst, at=end, by="bench")
        elapsed = time.perf_counter() - started
        fired = count * (3 if buttons else 1)
        timed_triggers += fired
        timed_seconds += elapsed
        mix_triggers += fired + recorded
        mix_seconds += elapsed + recording
    held = 0.0
    if trace:
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        held = sum(s.size_diff for s in after.compare_to(before, "filename")) / count
    assert all(inst.phase == workflow.phase_ids[-1] for inst in instances)
    return {
        "pause_resume_advance_per_s": timed_triggers / timed_seconds,
        "pause_resume_advance_triggers": timed_triggers,
        "mix_per_s": mix_triggers / mix_seconds,
        "mix_triggers": mix_triggers,
        "bytes_per_instance": held,
    }


class _Model:
    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = "a"


def baseline(count: int) -> float:
    """The same trigger path on a bare machine with a trivial condition."""
    machine = Machine(
        model=None,
        states=["a", "b"],
        initial="a",
        transitions=[
            {"trigger": "go", "source": "a", "dest": "b", "conditions": [lambda e: True]},
            {"trigger": "back", "source": "b", "dest": "a", "conditions": [lambda e: True]},
        ],
        auto_transitions=False,
        send_event=True,
    )
    models = [_Model() for _ in range(count)]
    go, back = machine.events["go"], machine.events["back"]
    started = time.perf_counter()
    for model in models:
        go.trigger(model)
        back.trigger(model)
    return 2 * count / (time.perf_counter() - started)


class _Decorated:
    """A model Machine.add_model can decorate with trigger methods (it needs a __dict__)."""


def machine_per_instance(workflow: CompiledWorkflow, count: int) -> tuple[float, float]:
    """Build time (ms) and memory (KB) of a transitions Machine of this workflow per instance."""

    def build() -> list[Machine]:
        return [
            Machine(
                model=_Decorated(),
                states=list(workflow.states),
                initial=workflow.phase_ids[0],
                transitions=workflow.transition_specs,
                auto_transitions=False,
                send_event=True,
            )
            for _ in range(count)
        ]

    started = time.perf_counter()
    build()
    elapsed = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    machines = build()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(s.size_diff for s in after.compare_to(before, "filename"))
    del machines
    return elapsed / count * 1000, size / count / 1024


def add_model_cost(sizes: list[int]) -> list[tuple[int, float]]:
    """Seconds to add N models to one shared machine with Machine.add_model."""
    results = []
    for size in sizes:
        machine = Machine(model=None, states=["a", "b"], initial="a", auto_transitions=False)
        models = [_Decorated() for _ in range(size)]
        started = time.perf_counter()
        for model in models:
            machine.add_model(model)
        results.append((size, time.perf_counter() - started))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the main measurement")
    args = parser.parse_args()

    workflow, compile_seconds = compile_once()
    milestones = len(workflow.milestone_index)
    print(
        f"workflow: {workflow.key} v{workflow.version}, {len(workflow.phases)} phases, "
        f"{milestones} milestones, {len(workflow.states)} states"
    )
    print(f"compile once (with the machine): {compile_seconds * 1000:.1f} ms")

    runs = [drive(workflow, args.instances, trace=False) for _ in range(args.repeat)]
    prs = statistics.median(r["pause_resume_advance_per_s"] for r in runs)
    mix = statistics.median(r["mix_per_s"] for r in runs)
    mem = drive(workflow, args.instances, trace=True)["bytes_per_instance"]
    print(
        f"{args.instances:,} instances, one shared machine, median of {args.repeat} runs "
        "(memory from one more run under tracemalloc):"
    )
    print(
        f"  pause/resume/advance with gate evaluation: {prs:,.0f} triggers/s "
        f"({runs[0]['pause_resume_advance_triggers']:,} triggers per run)"
    )
    print(
        f"  whole mix incl. milestone_done and approve: {mix:,.0f} triggers/s "
        f"({runs[0]['mix_triggers']:,} triggers per run)"
    )
    print(f"  memory per instance held (tracemalloc, after the run): {mem:,.0f} bytes")
    bare = baseline(args.instances)
    print(f"baseline, bare transitions machine, trivial condition: {bare:,.0f} triggers/s")
    per_ms, per_kb = machine_per_instance(workflow, 500)
    print(
        f"alternative, a transitions Machine per instance: {per_ms:.2f} ms and "
        f"{per_kb:.0f} KB each (built with time and tracemalloc on)"
    )
    growth = add_model_cost([1_000, 2_000, 4_000, 8_000, 16_000])
    print(
        "alternative, Machine.add_model on one machine: "
        + ", ".join(f"{n:,} models {s * 1000:.0f} ms" for n, s in growth)
    )


if __name__ == "__main__":
    main()
