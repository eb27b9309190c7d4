"""docs/latency.png: callback p50/p99 against offered load, full path vs decrypt-only, per database."""

from __future__ import annotations

from pathlib import Path


def plot_latency(callback: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(callback), figsize=(6 * len(callback), 4.2), sharey=True, squeeze=False)
    for ax, cb in zip(axes[0], callback, strict=True):
        for mode, color in (("full", "tab:red"), ("baseline", "tab:blue")):
            rates = [p["offered_rps"] for p in cb[mode]["rates"]]
            label = "full callback" if mode == "full" else "decrypt-only baseline"
            ax.plot(rates, [p["p99_ms"] for p in cb[mode]["rates"]], "o-", color=color, label=f"{label}, p99")
            ax.plot(rates, [p["p50_ms"] for p in cb[mode]["rates"]], "s--", color=color, alpha=0.6,
                    label=f"{label}, p50")
        ax.axhline(50, color="grey", linewidth=0.8, linestyle=":", label="p99 target 50 ms")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([p["offered_rps"] for p in cb["full"]["rates"]],
                      [f"{p['offered_rps']:g}" for p in cb["full"]["rates"]])
        ax.set_title({"sqlite": "SQLite", "postgres": "PostgreSQL"}.get(cb["database"], cb["database"]))
        ax.set_xlabel("offered load, requests/s (fixed rate)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("latency from scheduled send, ms")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
