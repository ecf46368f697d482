"""Run a suite from Python: every task of a suite as one sweep under <out>/<name>/<task>/.

    from actbench.suites.run import plan_suite, run_suite
    plan = plan_suite("smoke", acts=["relu", "rational"], seeds=[0, 1])
    result = run_suite(plan)            # SuiteOutcome: per task, how its sweep ended
    result.exit_code                    # 0 all completed, 1 a run failed, 130 interrupted

`actbench suite run` is this with a display and log lines. Every task is planned (its config checked)
before the first run starts, so a bad override in the last task is refused before hours of the others;
tasks whose data is missing are skipped and recorded in suite.yaml, so the suite report names them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from actbench import runs
from actbench.errors import UserError, require
from actbench.pack.plan import pack_sweep
from actbench.suites import spec as SU
from actbench.sweep import plan as S
from actbench.sweep.ray import RayOptions
from actbench.sweep.run import EXIT_CODES, Watcher, check_workers, run_plan, sweep_outcome
from actbench.sweep.state import RunStatus


@dataclass
class TaskPlan:
    task: SU.Task
    plan: S.Plan
    alone: list[str]  # why runs train alone rather than packed (actbench.pack.plan.pack_sweep)


@dataclass
class SuitePlan:
    suite: SU.Suite
    root: Path  # the suite folder: one sweep folder per task
    tasks: list[TaskPlan]
    skipped: dict[str, str] = field(default_factory=dict)  # task -> why (its data is missing)


@dataclass
class TaskOutcome:
    task: str
    sweep_dir: Path
    result: str  # completed | failed | interrupted
    statuses: list[RunStatus]


@dataclass
class SuiteOutcome:
    root: Path
    tasks: list[TaskOutcome]  # in the suite's order; none after an interrupted one
    skipped: dict[str, str]

    @property
    def exit_code(self) -> int:
        """130 when a task was interrupted (re-run to continue), else 1 when any run failed, else 0."""
        return max((EXIT_CODES[t.result] for t in self.tasks), default=0)


def plan_suite(
    suite: str,
    acts: Sequence[str] | str = "relu,elu,prelu,rational,exponential",
    seeds: Sequence[int] | str = "0",
    sets: Sequence[str] = (),
    name: str | None = None,
    out: Path | str | None = None,
    pack: str | None = None,
    workers: int | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> SuitePlan:
    """Every task's sweep, planned and checked (UserError naming the task otherwise; run.tensorboard
    without the tensorboard extra is refused here, before any task runs); `suite`: a shipped name or a
    YAML file; `on_skip(task, why)` hears of each task skipped for missing data."""
    spec = SU.load_suite(suite)
    if name is not None and not SU.TASK_NAME.match(name):
        raise SU.SuiteError(f"--name: {name!r} is not a plain folder name (letters, digits, . _ -)")
    configs = [SU.task_config(task, list(sets)) for task in spec.tasks]  # each task's, after --set
    if out is None:  # as for a sweep: run.out of the configs; one suite folder holds every task
        outs = sorted({str(cfg.run.out) for cfg in configs})
        if len(outs) > 1:
            raise SU.SuiteError(f"--out: the tasks' run.out differ ({', '.join(outs)}); give --out")
        out = outs[0] if outs else "runs"
    root = Path(out) / (name or spec.name)
    acts = acts if isinstance(acts, str) else ",".join(acts)
    seeds = seeds if isinstance(seeds, str) else ",".join(map(str, seeds))
    tasks, skipped = [], {}
    for task, cfg in zip(spec.tasks, configs, strict=True):
        if problem := SU.missing_data(cfg):
            skipped[task.name] = problem
            if on_skip:
                on_skip(task.name, problem)
            continue
        try:
            plan = S.plan_from_options(
                task.config, [*task.set, *sets], acts, seeds, None, task.name, root, name_network=False
            )
            tasks.append(TaskPlan(task, plan, pack_sweep(plan, pack, workers)))
        except UserError as exc:
            raise UserError(f"task {task.name}: {exc}") from None
    if any(tp.plan.base.run.tensorboard for tp in tasks):  # before any task runs (run_plan: per task)
        require("tensorboard", "tensorboard")
    return SuitePlan(spec, root, tasks, skipped)


def run_suite(
    plan: SuitePlan,
    workers: int | None = None,
    options: RayOptions | None = None,
    retry_failed: bool = False,
    watch: Callable[[S.Plan, int], Watcher] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> SuiteOutcome:
    """Run the tasks in order, each as a sweep (completed runs are skipped, partial ones resumed). An
    interrupted task ends the suite there (its outcome is the last); a failed run does not stop it.
    `watch(plan, slots)`: what follows each task's sweep; `on_note`: progress sentences."""
    check_workers(workers)  # before suite.yaml is written
    note = on_note or (lambda text: None)
    SU.write_plan(plan.root, plan.suite, plan.skipped)  # so the report names tasks never started
    done: list[TaskOutcome] = []
    for i, tp in enumerate(plan.tasks, 1):
        note(f"=== suite {plan.suite.name}: task {i}/{len(plan.tasks)} {tp.task.name} ({tp.task.config})")
        try:  # run_plan writes it too: here first, so that a refusal names the task
            S.write_manifest(tp.plan)
        except UserError as exc:
            raise UserError(f"task {tp.task.name}: {exc}") from None
        sweep_watch = (lambda slots, p=tp.plan: watch(p, slots)) if watch else None
        statuses = run_plan(tp.plan, workers, options, retry_failed, sweep_watch, note, tp.alone)
        done.append(TaskOutcome(tp.task.name, tp.plan.sweep_dir, sweep_outcome(statuses), statuses))
        if done[-1].result == runs.INTERRUPTED:
            break
    return SuiteOutcome(plan.root, done, dict(plan.skipped))
