"""Where every stage reads and writes. dvc.yaml names the same paths; keep the two in step."""

from __future__ import annotations

import os
from pathlib import Path

REAL = "real"
CARDS_DIR = Path(__file__).parent / "tasks" / "cards"
CACHE_DIR_ENV = "SYNTHCLF_CACHE_DIR"
CACHE_DIR = ".synthclf_cache"
DVC_EXP_TMP_MARKER = os.sep + os.path.join(".dvc", "tmp", "exps") + os.sep


def original_repo_root(cwd: Path) -> Path:
    """The repository a queued `dvc exp` copy was made from (<repo>/.dvc/tmp/exps/<tmpdir>/); cwd otherwise."""
    text = str(cwd.resolve())
    marker = text.find(DVC_EXP_TMP_MARKER)
    return Path(text[:marker]) if marker > 0 else cwd


def cache_root(cwd: Path | None = None) -> Path:
    """The caches' folder (responses, embeddings, fitted units): $SYNTHCLF_CACHE_DIR, else .synthclf_cache
    in the original repository, so queued experiments and the workspace share one set of caches."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return original_repo_root(cwd or Path.cwd()) / CACHE_DIR


def cards_dir() -> Path:
    """The task card folder; SYNTHCLF_CARDS_DIR points elsewhere (tests, or a card store outside the repo)."""
    return Path(os.environ.get("SYNTHCLF_CARDS_DIR", CARDS_DIR))


def available_tasks() -> list[str]:
    """The tasks that have a card (params.yaml `tasks` may only name these)."""
    return sorted(path.stem for path in cards_dir().glob("*.yaml"))

SETTINGS = ("zero_shot", "few_shot")


def raw_dir(task: str) -> Path:
    return Path("data/raw") / task


def prepared_dir(task: str) -> Path:
    return Path("data/prepared") / task


def prepared_split(task: str, split: str) -> Path:
    """split is one of train, test, pool (the few-shot pool, drawn from train)."""
    return prepared_dir(task) / f"{split}.jsonl"


def synthetic_file(task: str, setting: str) -> Path:
    return Path("data/synthetic") / task / f"{setting}.jsonl"


def dataset_to_validate(task: str, source: str) -> Path:
    """The dataset the validate stage checks: prepared train for real, generator output otherwise."""
    return prepared_split(task, "train") if source == REAL else synthetic_file(task, source)


def validated_file(task: str, source: str) -> Path:
    """Clean rows that passed validation; the only data `train` reads. A real+synthetic mix
    (<setting>+real<N>, built by `mix` from validated rows) lives in data/mixes/<task>/."""
    return (Path("data/mixes") if "+real" in source else Path("data/validated")) / task / f"{source}.jsonl"


def mixes_dir(task: str) -> Path:
    return Path("data/mixes") / task


def quarantine_file(task: str, source: str) -> Path:
    return Path("data/quarantine") / task / f"{source}.jsonl"


def model_dir(task: str, source: str) -> Path:
    """Holds one save_pretrained checkpoint per seed: seed0/, seed1/, ..."""
    return Path("models") / task / source


def predictions_file(task: str, source: str) -> Path:
    return Path("data/predictions") / task / f"{source}.jsonl"


def metrics_file(stage: str, task: str, name: str) -> Path:
    """metrics/<stage>/<task>/<name>.json, e.g. metrics/validate/sms_spam/few_shot.json."""
    return Path("metrics") / stage / task / f"{name}.json"


def live_dir(stage: str, task: str, source: str) -> Path:
    """dvclive/<stage>/<task>/<source>: DVCLive's metrics.json of a source's train or evaluate step
    (its plots go to live_plots_dir, so dvc.yaml can declare each task's folder of metrics whole)."""
    return Path("dvclive") / stage / task / source


def live_plots_dir(stage: str, task: str, source: str) -> Path:
    """plots/<stage>/<task>/<source>: DVCLive's plots of the same step (metrics/curves/<unit>/<name>.tsv
    per training step, sklearn/confusion_matrix.json)."""
    return Path("plots") / stage / task / source


def evaluate_metrics_file(task: str, source: str) -> Path:
    """The evaluate stage's scores, written through DVCLive: dvclive/evaluate/<task>/<source>/metrics.json."""
    return live_dir("evaluate", task, source) / "metrics.json"


def train_metrics_file(task: str, source: str) -> Path:
    """The train stage's metrics, written through DVCLive: dvclive/train/<task>/<source>/metrics.json."""
    return live_dir("train", task, source) / "metrics.json"


def validation_docs_dir(task: str, source: str) -> Path:
    return Path("reports/validation") / task / source


def summary_metrics() -> Path:
    return Path("metrics/summary.json")


def report_dir() -> Path:
    return Path("reports")


def report_md() -> Path:
    return report_dir() / "report.md"


def report_html() -> Path:
    return report_dir() / "report.html"


def figures_dir() -> Path:
    return report_dir() / "figures"


def instance_plots_dir() -> Path:
    """plots/instance/<task>.json: accuracy and Macro-F1 by annotator agreement (tasks with votes)."""
    return Path("plots/instance")


def instance_plot_file(task: str) -> Path:
    return instance_plots_dir() / f"{task}.json"


def curves_plots_dir() -> Path:
    """plots/curves/<task>.json: the learning curves."""
    return Path("plots/curves")


def gap_plot_file() -> Path:
    return Path("plots/gap_vs_subjectivity.json")


JUDGMENTS_DIR = Path("data/judgments")     # a dependency of analyze and report in dvc.yaml


def judgments_file() -> Path:
    """The LLM panel's pairwise judgments (synthclf judge)."""
    return JUDGMENTS_DIR / "llm_panel.csv"


def judge_metrics_file() -> Path:
    """Beside the CSV, so both travel together in data/judgments/."""
    return JUDGMENTS_DIR / "llm_panel.stats.json"
