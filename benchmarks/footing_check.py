"""Does every actbench version that trained a sweep compute the same thing? (one footing in software)

A long sweep resumes across working sessions, and the code moves on between them: each run's summary.json
names the git commit of every process start (`starts[].git_commit`). A comparison is on one footing only if
those versions train identically. This script checks it directly: it extracts each commit's tree
(`git archive`, nothing checked out), runs the sweep's own command at every commit on a small slice of the
data (`--epochs`, `--limit-train`, `--limit-test`; one thread, so runs are bitwise reproducible on the
CPU), and compares, per activation, what each version produced with the first version's. The command is
the sweep's own: its base config as sweep.yaml records it (what every run of it was planned from, the
--set options included; a preset's defaults may have changed since) and its activations, at seed 0:

  weights   sha256 of the final checkpoint's model tensors (names, dtypes, shapes, bytes)
  optimizer sha256 of the final checkpoint's optimizer state (a resumed run continues from it)
  metrics   every field of metrics.jsonl (losses, accuracies, learned a) except times and speeds
  noise     robustness.json's accuracies and losses

and, for each pair of commits that trained one run before and after a resume (its `starts`), trains
epochs-1 at the first and the last epoch at the second (`train --resume RUN --set train.epochs=N`): the
result must equal the uninterrupted run's.

    python benchmarks/footing_check.py RUNS_DIR [--rev HEAD ...] [--dry-run]
        [-- SWEEP ARGS]   # default: --config <sweep.yaml's base> --acts <its activations> --seeds 0

It prints one line per (commit, activation) and writes --json (default
benchmarks/results/cpu-footing-<sweep>.json). Exit 1 if any version differs from the first.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from actbench.config import yaml_dump

ROOT = Path(__file__).resolve().parents[1]
# metrics.jsonl fields that measure the machine, not the model
TIMING = {"epoch_time_s", "images_per_s", "time", "wall_s"}


def commits_of(runs_dir: Path) -> list[str]:
    """Every git commit that started a process of a run below runs_dir, oldest start first."""
    starts: list[tuple[str, str]] = []
    for path in sorted(runs_dir.rglob("summary.json")):
        for s in json.loads(path.read_text()).get("starts", []):
            if s.get("git_commit"):
                starts.append((s.get("at", ""), s["git_commit"]))
    out: list[str] = []
    for _, commit in sorted(starts):
        if commit not in out:
            out.append(commit)
    return out


def sweep_command(runs_dir: Path, work: Path) -> list[str]:
    """The sweep's own arguments: its base config (written to work/base.yaml) and its activations."""
    manifest = yaml.safe_load((runs_dir / "sweep.yaml").read_text())
    data = manifest["base"]["data"]
    data["root"] = absolute_root(f"data.root={data['root']}").partition("=")[2]  # see `actbench`
    base = work / "base.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(yaml_dump(manifest["base"]))  # quoted as the config loader reads it back
    acts = manifest["axes"].get("activation.name") or [manifest["base"]["activation"]["name"]]
    return ["--config", str(base), "--acts", ",".join(acts), "--seeds", "0"]


def extract(commit: str, dest: Path) -> Path:
    """The commit's tree (as git has it, without the working tree's changes) under dest/<commit[:12]>."""
    tree = dest / commit[:12]
    if not tree.exists():
        got = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True)
        if got.returncode != 0:  # e.g. a shallow clone, or runs trained from another repository
            raise SystemExit(f"{commit[:12]}: not in this repository: {got.stderr.decode().strip()}")
        blob = got.stdout
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
                tar.extractall(tree, filter="data")
            else:  # git's own archive of this repository: trusted
                tar.extractall(tree)  # noqa: S202
    return tree


def digest(obj: Any) -> str:
    """sha256 over a nested structure of tensors and plain values, in a fixed order."""
    h = hashlib.sha256()

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous().reshape(-1)  # 0-d tensors (Adam's step) too
            h.update(f"T{t.dtype}{tuple(x.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(x, dict):
            for k in sorted(x, key=str):
                h.update(f"K{k}".encode())
                walk(x[k])
        elif isinstance(x, list | tuple):
            h.update(f"L{len(x)}".encode())
            for v in x:
                walk(v)
        else:
            h.update(repr(x).encode())

    walk(obj)
    return h.hexdigest()


def fingerprint(run: Path) -> dict[str, Any]:
    """What a run computed, without what the machine measured (times, speeds, memory)."""
    ck = torch.load(run / "checkpoint-last.pt", map_location="cpu", weights_only=False)
    metrics = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        metrics.append({k: v for k, v in row.items() if k not in TIMING})
    noise_path = run / "robustness.json"
    noise = json.loads(noise_path.read_text()).get("results") if noise_path.exists() else None
    last = json.loads((run / "summary.json").read_text()).get("last") or {}
    return {
        "epoch": ck["epoch"],
        "weights": digest(ck["model"])[:16],
        "optimizer": digest(ck["optimizer"])[:16],
        "metrics": digest(metrics)[:16],
        "noise": digest(noise)[:16],
        "test_acc": last.get("test_acc"),
        "test_loss": last.get("test_loss"),
    }


def absolute_root(arg: str) -> str:
    """`data.root=REL` as the repository root resolves it (actbench runs elsewhere: see `actbench`)."""
    key, _, value = arg.partition("=")
    relative = key == "data.root" and not Path(value).is_absolute()
    return f"{key}={(ROOT / value).resolve()}" if relative else arg


def tree_env(tree: Path) -> dict[str, str]:
    """The environment in which `python -m actbench`, run outside the repository root, is `tree`'s
    version, in the sweep's process and in every worker it starts (they inherit it): PYTHONPATH comes
    before site-packages, where an installed or editable actbench is found (checked once per tree)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONUNBUFFERED": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", "import actbench; print(actbench.__file__)"], env=env, text=True,
        capture_output=True, check=True, cwd=tree.parent,
    )  # fmt: skip
    if not probe.stdout.strip().startswith(str(tree)):
        raise SystemExit(f"{tree.name}: PYTHONPATH did not win over the installed actbench ({probe.stdout})")
    return env


def actbench(tree: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`actbench ARGS` of `tree`'s version, run in `cwd`, not in the repository root, where `python -m`
    would import the working tree's actbench first; relative data roots are made absolute (the data's
    content, not its path, is what a run computes from)."""
    cwd.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "actbench", *(absolute_root(arg) for arg in args)]
    return subprocess.run(cmd, cwd=cwd, env=tree_env(tree), text=True, capture_output=True)


def finished_runs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if (p / "summary.json").exists())


def failed(what: str, proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    print(f"{what}: exited {proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}", flush=True)
    return {"error": f"{what}: exit {proc.returncode}"}


def check_commit(tree: Path, work: Path, sweep_args: list[str]) -> dict[str, Any]:
    """Each activation's fingerprint after the sweep trained it from scratch at this commit."""
    out = work / "runs"
    proc = actbench(tree, out, "sweep", *sweep_args, "--out", str(out), "--name", tree.name)
    if proc.returncode != 0:
        return failed(f"{tree.name} sweep", proc)
    return {r.name: fingerprint(r) for r in finished_runs(out / tree.name)}


def check_resume(first: Path, then: Path, work: Path, sweep_args: list[str], epochs: int) -> dict[str, Any]:
    """Each activation trained for epochs-1 at commit `first`, then trained on to `epochs` at `then`
    (`train --resume RUN --set train.epochs=N`, reading `first`'s checkpoint, optimizer state and RNG)."""
    name = f"{first.name}-{then.name}"
    out = work / "resumed"
    shorter = ["--set", f"train.epochs={epochs - 1}"]
    proc = actbench(first, out, "sweep", *sweep_args, *shorter, "--out", str(out), "--name", name)
    if proc.returncode != 0:
        return failed(f"{name} first leg", proc)
    results: dict[str, Any] = {}
    for run in finished_runs(out / name):
        longer = ["--set", f"train.epochs={epochs}", "--no-progress"]
        proc = actbench(then, out, "train", "--resume", str(run), *longer)
        results[run.name] = failed(f"{name} {run.name}", proc) if proc.returncode else fingerprint(run)
    return results


def uncommitted_starts(runs_dir: Path) -> list[str]:
    """'run@at' of each process start that ran uncommitted changes to actbench (summary.json starts[]
    git_dirty, recorded since 2026-12-07): what its commit does not cover."""
    out = []
    for path in sorted(runs_dir.rglob("summary.json")):
        for s in json.loads(path.read_text()).get("starts", []):
            if s.get("git_dirty"):
                out.append(f"{path.parent.name}@{s.get('at')}")
    return out


def resume_pairs(runs_dir: Path) -> list[tuple[str, str]]:
    """(commit that trained a run's earlier epochs, commit that resumed it), as the runs' starts record."""
    pairs: list[tuple[str, str]] = []
    for path in sorted(runs_dir.rglob("summary.json")):
        commits = [s.get("git_commit") for s in json.loads(path.read_text()).get("starts", [])]
        for a, b in zip(commits, commits[1:], strict=False):
            if a and b and a != b and (a, b) not in pairs:
                pairs.append((a, b))
    return pairs


KEYS = ("weights", "optimizer", "metrics", "noise")


def compare(reference: dict[str, Any], results: dict[str, Any], label: str) -> list[str]:
    """What differs from the reference (or failed), as 'label run' lines."""
    if "error" in results:
        return [f"{label}: {results['error']}"]
    out = []
    for name, f in results.items():
        ref = reference.get(name)
        if "error" in f:
            out.append(f"{label} {name}: {f['error']}")
        elif ref is None or any(ref[k] != f[k] for k in KEYS):
            out.append(f"{label} {name}")
    return out


def show(label: str, results: dict[str, Any]) -> None:
    for name, f in results.items() if "error" not in results else []:
        if "error" not in f:
            print(f"{label:25s} {name:16s} weights {f['weights']} optimizer {f['optimizer']} metrics "
                  f"{f['metrics']} noise {f['noise']} test acc {f['test_acc']}", flush=True)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs_dir", type=Path, help="a sweep folder whose runs name their commits")
    ap.add_argument("--rev", action="append", default=[], help="another commit to check (e.g. HEAD)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--limit-train", type=int, default=2000)
    ap.add_argument("--limit-test", type=int, default=500)
    ap.add_argument("--val-size", type=int, help="validation images carved from the slice (default 10%%)")
    ap.add_argument("--json", type=Path, help="default: benchmarks/results/cpu-footing-<sweep>.json")
    ap.add_argument("--work", type=Path, help="where trees and runs go (default: a temporary folder)")
    ap.add_argument("--dry-run", action="store_true", help="list the commits and stop")
    ap.add_argument(
        "--quick", action="store_true",
        help="only the first recorded commit and the --rev ones, no resumes (e.g. before a sweep resumes "
        "with new code: --rev HEAD --quick)",
    )  # fmt: skip
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # after --: the sweep's own arguments
    a = ap.parse_args(argv[:cut])
    a.sweep_args = argv[cut + 1 :]

    commits = commits_of(a.runs_dir)[:1] if a.quick else commits_of(a.runs_dir)
    for rev in a.rev:
        full = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True, text=True)
        if full.stdout.strip() not in commits:
            commits.append(full.stdout.strip())
    if not commits:
        raise SystemExit(f"{a.runs_dir}: no run names a git commit (summary.json starts[].git_commit)")
    print(f"# {len(commits)} commits: {' '.join(c[:12] for c in commits)}", flush=True)
    dirty = uncommitted_starts(a.runs_dir)
    if dirty:
        print(f"# not covered: {len(dirty)} starts ran uncommitted changes ({', '.join(dirty)})", flush=True)
    if a.dry_run:
        return 0
    work = a.work or Path(tempfile.mkdtemp(prefix="footing-"))
    val = a.val_size or a.limit_train // 10
    sweep_args = (a.sweep_args or sweep_command(a.runs_dir, work)) + [
        "--set", f"train.epochs={a.epochs}", "--set", f"data.limit_train={a.limit_train}",
        "--set", f"data.limit_test={a.limit_test}", "--set", f"data.val_size={val}",
        "--set", "train.threads=1", "--workers", "1",
    ]  # fmt: skip
    print(f"# sweep {' '.join(sweep_args)}", flush=True)
    trees = {c: extract(c, work / "trees") for c in commits}
    results: dict[str, dict[str, Any]] = {}
    for commit in commits:
        results[commit] = check_commit(trees[commit], work, sweep_args)
        show(commit[:12], results[commit])
        if "error" in results[commit] and commit == commits[0]:
            break  # nothing to compare with
    reference = results[commits[0]]
    differ = [d for c in commits[1:] if c in results for d in compare(reference, results[c], c[:12])]
    resumed: dict[str, dict[str, Any]] = {}
    pairs = [] if a.quick or a.epochs < 2 or "error" in reference else resume_pairs(a.runs_dir)
    for first, then in pairs:
        label = f"{first[:12]}>{then[:12]}"
        resumed[label] = check_resume(trees[first], trees[then], work, sweep_args, a.epochs)
        show(label, resumed[label])
        differ += compare(reference, resumed[label], label)
    same = not differ and len(results) == len(commits)
    verdict = (
        f"all {len(commits)} commits computed identical weights, optimizer state, metrics and noise results"
        + (f"; so did the {len(pairs)} resumes across commits the runs record" if pairs else "")
        if same
        else f"differ from {commits[0][:12]} (or failed): {'; '.join(differ) or 'the first commit failed'}"
    )
    print(verdict)
    dest = a.json or ROOT / "benchmarks" / "results" / f"cpu-footing-{a.runs_dir.resolve().name}.json"
    record = {
        "command": "python benchmarks/footing_check.py " + " ".join(sys.argv[1:]),
        "sweep_args": sweep_args,
        "torch": torch.__version__,
        "commits": commits,
        "results": results,
        "resumed": resumed,
        "identical": same,
        "uncommitted_starts": dirty,
        "verdict": verdict,
    }
    dest.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {dest}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
