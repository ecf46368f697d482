# %% [markdown]
# # actbench results in pandas
#
# The published 20-epoch CIFAR-10 runs (`docs/results/runs/cifar10-cpu`) as DataFrames: one row per run,
# one row per epoch, and the report's tables. A notebook in percent format: open it in Jupyter with
# jupytext, run its cells in VS Code, or run it as a script from the repository root (needs
# `pip install 'actbench[analysis]'`):
#
#     python examples/results_in_pandas.py            # writes results_in_pandas.png
#
# `ACTBENCH_RESULTS` points it at other run folders, `ACTBENCH_FIGURE` at another figure file.

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; in a notebook, drop this line to see the figure inline
import matplotlib.pyplot as plt  # noqa: E402

import actbench  # noqa: E402

RESULTS = os.environ.get("ACTBENCH_RESULTS", "docs/results/runs/cifar10-cpu")
FIGURE = Path(os.environ.get("ACTBENCH_FIGURE", "results_in_pandas.png"))

# %% [markdown]
# One row per run: its folder, status, every config key (`activation.name`, `train.seed`, ...), the final
# and best-validation results (accuracies as fractions), cost and the learned activation parameters.

# %%
runs = actbench.load_runs(RESULTS)
print(f"{len(runs)} runs")
final = runs.groupby("activation.name")["last.test_acc_pct"].agg(["mean", "std", "count"])
print((100 * final[["mean", "std"]]).round(2).join(final["count"]).sort_values("mean", ascending=False))

# %% [markdown]
# One row per run and epoch: validation accuracy curves, mean over seeds per activation.

# %%
curves = actbench.load_metrics(RESULTS)
mean_curves = curves.groupby(["activation.name", "epoch"])["val_acc_pct"].mean().unstack(0)
print(mean_curves.tail(3).round(4))

# %% [markdown]
# The report's tables (`actbench report` with the same options): the summary with the comparisons
# against ReLU, and the learned `a` per layer (the paper's Table 1 layout).

# %%
tables = actbench.load_report(RESULTS, bootstrap=0)
print(tables["summary"][["group", "n", "test_acc_pct_mean", "acc_pct_p_vs_baseline"]])
print(tables["learned"].round(3))

# %% [markdown]
# A figure: validation accuracy per epoch, and each run's final test accuracy.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
order = list(final.sort_values("mean").index)
colors = {act: f"C{i}" for i, act in enumerate(order)}  # one colour per activation in both panels
for act in order:
    left.plot(mean_curves.index, mean_curves[act], color=colors[act], label=act)
    accs = runs.loc[runs["activation.name"] == act, "last.test_acc_pct"]
    right.scatter([order.index(act)] * len(accs), accs, color=colors[act], alpha=0.7)
left.legend()
left.set(xlabel="epoch", ylabel="validation accuracy (%)", title="mean over seeds")
right.set_xticks(range(len(order)), order)
right.set(ylabel="test accuracy (%)", title="each run, last epoch")
fig.tight_layout()
fig.savefig(FIGURE, dpi=100)
print(f"wrote {FIGURE}")
