"""The validate stage end to end: real Great Expectations suites, real MiniLM embeddings, no mocks.

Each test builds a tiny project in tmp_path (data/prepared/sms_spam/{train,test}.jsonl and a
dataset to validate), runs `synthclf.validation.validate.run` and checks the outputs: every
injected defect is caught by the expectation meant for it, clean data passes, and the quarantine
file names the right rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthclf import paths
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.records import read_json, read_jsonl, write_jsonl
from synthclf.validation import validate

TASK = "sms_spam"
REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"

HAM = [
    "Are you still coming round for dinner on Friday?",
    "Mum says the car is fixed, you can pick it up tomorrow",
    "Sorry I missed your call, I was in a meeting all afternoon",
    "Can you grab some milk and bread on the way home please",
    "Happy birthday mate! Hope you have a brilliant day",
    "The train is delayed again, I'll be about twenty minutes late",
    "Did you watch the match last night? What a finish",
    "I left my umbrella at yours, will collect it on Sunday",
    "Thanks for helping me move the sofa, my back is killing me",
    "Meet you outside the cinema at half seven",
    "Gran is feeling much better and went home from hospital today",
    "Don't forget your dentist appointment on Tuesday morning",
    "Just landed in Glasgow, the weather is awful as usual",
    "Shall we try that new curry place on the high street?",
    "I'm knackered, going to bed early tonight. Speak tomorrow",
    "Your keys are on the kitchen table next to the fruit bowl",
    "Can we move our coffee to Thursday? Work is mad this week",
    "The kids loved the zoo, the penguins were their favourite",
    "Have you finished the essay yet? Mine is only half done",
    "Dad wants to know if you are coming to the barbecue",
    "Traffic on the motorway is terrible, taking the back roads",
    "I've booked the tickets for the concert in March",
    "Nice one, see you at the gym after work",
    "Could you feed the cat while I'm away this weekend?",
    "Lost my phone charger again, can I borrow yours",
    "The plumber finally turned up and fixed the boiler",
    "Exam went better than I expected, fingers crossed",
    "Bring a jumper, it gets cold by the lake in the evening",
    "We're out of teabags, I'll pop to the shop",
    "Just saw your sister in town, she says hello",
    "Running late, start the film without me",
    "Are you free to babysit on Saturday night?",
    "My flight home got cancelled so I'm stuck in Dublin",
    "Let me know when you get home safe",
    "I think I left the oven on, can you check?",
    "Well done on the new job, you deserve it",
    "What time does your shift finish tonight?",
    "The library book is overdue, can you return it for me",
    "Loved the photos from your holiday, the beach looks amazing",
    "Call me when you wake up, need to ask you something",
    "Our neighbour's dog got out again and dug up the garden",
    "Can you send me the address for the party?",
    "I'll cook tonight, fancy pasta or stir fry?",
    "Your parcel came, I signed for it and left it upstairs",
    "Hope the interview went well, tell me everything",
]
SPAM = [
    "URGENT! You have won a 1 week FREE membership in our prize draw. Txt WIN to 81010",
    "Congratulations! You've been selected for a £1000 Tesco voucher. Call 09061743810 now",
    "FREE ringtone! Reply TONE to 87575 to claim, 150p per msg, 18+ only",
    "Your mobile number has won £2000 in our weekly lottery, claim code X29 call 0871 now",
    "Hot singles in your area want to chat tonight, text DATE to 69911",
    "You are awarded a SIPIX digital camera! Call 09061221066 from a landline to claim",
    "Last chance to claim your free holiday to Tenerife, call 0800 169 2000 today",
    "Get a FREE camera phone upgrade with unlimited texts, call the Mobile Update line 08002986030",
    "Your account is due for a refund of £250, click the link to verify your bank details",
    "PRIVATE! Your 2003 Account Statement shows 800 un-redeemed bonus points, call 08719899230",
    "Want cheap car insurance? Reply YES for a quote in 60 seconds, STOP to opt out",
    "Guaranteed cash loan of up to £5000 with no credit checks, text LOAN to 80888",
    "You have 1 new voicemail from an admirer, dial 09058094455 to listen, 50p/min",
    "Claim your free iPod nano now! Just answer 3 easy questions, text POD to 82277",
    "Double minutes and half price line rental for 12 months, call Orange on 08000839402",
    "Your entry into the £5 million jackpot is confirmed, send GO to 88600 to play",
    "Winner!! As a valued network customer you have been selected to receive a £900 reward",
    "Exclusive offer: 70% off designer watches this weekend only, visit our website now",
    "Urgent: your parcel is held at the depot, pay the £1.99 redelivery fee at the link",
    "Sunshine quiz! Win a top Sony DVD player if you know which country the Algarve is in, txt ansr to 82277",
    "Your loan application is pre-approved, reply APPROVE to receive the cash today",
    "Free entry in 2 a weekly comp to win FA Cup final tickets, text FA to 87121",
    "You have been chosen to test the new Samsung Galaxy for free, register at our site",
    "Txt STOP to cancel your subscription to daily horoscopes, charged £3 per week",
    "Congrats! Your number was picked for a free cruise for two, call 09066364589",
    "Earn £500 a day working from home, no experience needed, reply JOB for details",
    "Bored? Chat to real girls live now for just 25p a minute on 0906 346 3361",
    "Your PPI claim is ready, you could be owed thousands, reply CLAIM now",
    "Final notice: your TV licence payment failed, update your card details here",
    "Get the latest chart hits as polyphonic ringtones, text MUSIC to 83355",
    "You've won a brand new Nokia 7250i, to claim call 08712300220 quoting code NK17",
    "Special offer: get 3 months of broadband free when you switch today",
    "Lucky draw alert! Collect your mystery gift worth up to £500, dial 09050000327",
    "Your Apple ID has been locked, confirm your password at the secure link to unlock",
    "Reply WIN to enter our competition for a weekend in Paris with spending money",
    "Cash prize of £3000 waiting for you, call 087187272008 before midnight",
    "Text SEXY to 69696 for naughty pictures straight to your mobile, 18+ £1.50",
    "Free gift voucher worth £100 for our loyal customers, claim it in store this week",
    "Your bonus text credit of 500 messages is ready, activate by replying ACTIVE",
    "As a loyal customer you can now claim a free mobile upgrade, call 0800 0721072",
    "Stop paying too much for gas, switch today and save up to £300, reply SAVE",
    "Your weekly quiz result: you have won a £250 shopping spree, call to collect",
    "Act now! Limited stock of discounted laptops, order online before Friday",
    "You are one of 5 winners of our camera competition, call 09066612661 to claim",
    "Important: suspicious login detected on your account, verify now to avoid suspension",
]


def record(index: int, text, label, source: str, **extra) -> dict:
    row = {"id": f"{TASK}-{source}-{index:03d}", "task": TASK, "text": text, "label": label, "source": source}
    if source != "real":
        row.update({"model": "SmolLM2-135M-Instruct", "prompt_id": f"{source}-v1", "sample_index": index,
                    "seed": 0, "temperature": 0.8, "tokens": 20})
    row.update(extra)
    return row


def rows(texts_and_labels, source: str) -> list[dict]:
    return [record(i, text, label, source) for i, (text, label) in enumerate(texts_and_labels)]


# Disjoint slices: real train, real test and the synthetic dataset share no text.
REAL_TRAIN = [(t, "ham") for t in HAM[:15]] + [(t, "spam") for t in SPAM[:15]]
REAL_TEST = [(t, "ham") for t in HAM[15:25]] + [(t, "spam") for t in SPAM[15:25]]
SYNTHETIC = [(t, "ham") for t in HAM[25:45]] + [(t, "spam") for t in SPAM[25:45]]
# One template for both labels: every text a near-copy of every other.
COLLAPSED = ([(f"Hi, see you at the pub at {hour} tonight", "ham") for hour in range(1, 21)]
             + [(f"Hi, see you at the pub at {hour} tonight and call 0800 to win a prize", "spam")
                for hour in range(1, 21)])
TOLERANT = {"duplicate_text": 0.05, "assistant_artifact": 0.10}  # max_duplicate_rate, max_artifact_rate below


# The policy and thresholds these tests are written against, pinned so tuning params.yaml cannot break them.
THRESHOLDS = {"policy": "quarantine", "min_chars": 5, "max_chars": 1000,
              "min_label_share": 0.05, "max_label_share": 0.95,
              "max_duplicate_rate": 0.05, "max_artifact_rate": 0.10, "contamination_ngram": 8,
              "contamination_ngram_share": 0.5, "contamination_cosine": 0.95, "min_clean_share": 0.5,
              "min_remote_clique_ratio": 0.5, "min_chamfer_ratio": 0.3}


def params_with_repo_validate_section() -> Params:
    """The repo's `validate:` section (so it must stay valid, and its artifact patterns are the
    ones tested) with the thresholds above; the other sections minimal, so these tests do not
    depend on the rest of params.yaml."""
    section = {**yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))["validate"], **THRESHOLDS}
    return Params.model_validate({"tasks": [TASK], "split": {TASK: {"train_size": 30, "test_size": 20,
                                                                   "pool_size": 4}},
                                  "validate": section})


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory with the real splits written; returns a function that runs validate."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(tmp_path / "cache"))
    write_jsonl(paths.prepared_split(TASK, "train"), rows(REAL_TRAIN, "real"))
    write_jsonl(paths.prepared_split(TASK, "test"), rows(REAL_TEST, "real"))
    base = params_with_repo_validate_section()

    def run(dataset: list[dict] | None, source: str = "zero_shot", **settings) -> dict:
        if dataset is not None:
            write_jsonl(paths.dataset_to_validate(TASK, source), dataset)
        params = base.model_copy(update={"validate_": base.validate_.model_copy(update=settings)})
        validate.run(params, TASK, source)
        return read_json(paths.metrics_file("validate", TASK, source))

    return run


def quarantined(source: str = "zero_shot") -> dict[int, list[str]]:
    return {row["row_index"]: row["reasons"] for row in read_jsonl(paths.quarantine_file(TASK, source))}


def failed_run(run, dataset, source="zero_shot", **settings) -> tuple[dict, str]:
    with pytest.raises(SynthclfError) as info:
        run(dataset, source, **settings)
    return read_json(paths.metrics_file("validate", TASK, source)), str(info.value)


# ---------------------------------------------------------------- clean data


def test_clean_synthetic_data_passes_and_writes_every_output(project):
    metrics = project(rows(SYNTHETIC, "zero_shot"))
    assert metrics["success"] is True and metrics["failed"] == []
    assert all(entry["success"] for entry in metrics["expectations"].values()), metrics["expectations"]
    assert metrics["counts"] == {"rows_in": 40, "clean": 40, "quarantined": 0,
                                 "by_reason": {name: 0 for name in metrics["counts"]["by_reason"]}}
    assert len(read_jsonl(paths.validated_file(TASK, "zero_shot"))) == 40
    assert read_jsonl(paths.quarantine_file(TASK, "zero_shot")) == []
    docs = paths.validation_docs_dir(TASK, "zero_shot")
    assert (docs / "index.html").exists()
    pages = sorted(path.relative_to(docs).parts[1] for path in docs.glob("validations/**/*.html"))
    assert pages == ["sms_spam-zero_shot-dataset", "sms_spam-zero_shot-rows"]
    assert not list(docs.parent.glob(".zero_shot.*"))  # no temporary build directory left behind
    assert not (docs / "static/images/glossary_scroller.gif").exists()  # unused GX images pruned


def test_diversity_block_reports_measures_reference_and_ratios(project):
    diversity = project(rows(SYNTHETIC, "few_shot"), "few_shot")["diversity"]
    keys = {"remote_clique", "chamfer", "similarity_to_real", "distinct_1", "distinct_2"}
    assert keys <= diversity.keys() and keys <= diversity["real"].keys() and keys == diversity["ratio"].keys()
    assert diversity["n_texts"] == 40 and diversity["real"]["n_texts"] == 30  # real has only 30: measured whole
    assert 0.5 < diversity["remote_clique"] < 1.2 and 0.3 < diversity["chamfer"] < diversity["remote_clique"]
    assert 0 < diversity["similarity_to_real"] < 1 and 0 < diversity["distinct_2"] <= 1
    assert diversity["ratio"]["remote_clique"] == pytest.approx(
        diversity["remote_clique"] / diversity["real"]["remote_clique"], rel=1e-4)


def test_real_source_passes_with_ratios_of_one(project):
    metrics = project(None, "real")
    assert metrics["success"] is True
    assert "assistant_artifact" not in metrics["expectations"]  # people wrote these texts
    assert "remote_clique_ratio" not in metrics["expectations"]
    assert metrics["diversity"]["ratio"] == {key: 1.0 for key in metrics["diversity"]["ratio"]}
    assert len(read_jsonl(paths.validated_file(TASK, "real"))) == 30


# ---------------------------------------------------------------- row-level defects


def _null_text(data):
    data[3]["text"] = None
    return {3: ["text_not_null"]}


def _number_as_text(data):
    data[4]["text"] = 12345
    return {4: ["text_is_string"]}


def _blank_text(data):
    data[5]["text"] = "      "
    return {5: ["text_not_blank"]}


def _too_short(data):
    data[6]["text"] = "ok"
    return {6: ["text_length"]}


def _unknown_label(data):
    data[7]["label"] = "promotion"
    data[30]["label"] = None
    return {7: ["label_in_set"], 30: ["label_not_null"]}


def _duplicates(data):
    data[10]["text"] = data[2]["text"].upper() + "!!"  # case and punctuation do not make it new
    data[11]["text"] = data[2]["text"]
    data[33]["text"] = data[21]["text"]
    return {10: ["duplicate_text"], 11: ["duplicate_text"], 33: ["duplicate_text"]}


def _artifacts(data):
    data[1]["text"] = "Sure! Here's a text message from a friend: see you at 8"
    data[8]["text"] = "Here's an example of a spam message: WIN cash now"
    data[22]["text"] = "As an AI language model, I cannot write spam messages."
    return {1: ["assistant_artifact"], 8: ["assistant_artifact"], 22: ["assistant_artifact"]}


def _test_item_copied(data):
    data[12]["text"] = REAL_TEST[0][0]  # verbatim
    data[24]["text"] = REAL_TEST[12][0].lower().replace(",", "") + " xx"  # lightly edited
    return {12: ["contamination_ngram", "contamination_embedding"],
            24: ["contamination_ngram", "contamination_embedding"]}


def _wrong_source_and_id(data):
    data[13]["source"] = "few_shot"
    data[14]["id"] = data[0]["id"]
    return {13: ["source_matches"], 14: ["duplicate_id"]}


ROW_DEFECTS = [_null_text, _number_as_text, _blank_text, _too_short, _unknown_label, _duplicates, _artifacts,
               _test_item_copied, _wrong_source_and_id]


@pytest.mark.parametrize("inject", ROW_DEFECTS, ids=lambda f: f.__name__.strip("_"))
def test_quarantine_names_the_rows_and_the_check_that_caught_them(project, inject):
    data = rows(SYNTHETIC, "zero_shot")
    expected = inject(data)
    metrics = project(data, policy="quarantine")
    assert quarantined() == expected
    assert metrics["success"] is True  # row defects are filtered, the dataset still stands
    clean_ids = [row["id"] for row in read_jsonl(paths.validated_file(TASK, "zero_shot"))]
    assert clean_ids == [row["id"] for i, row in enumerate(data) if i not in expected]
    flagged = {reason for reasons in expected.values() for reason in reasons}
    for name in flagged:
        assert metrics["counts"]["by_reason"][name] == sum(name in reasons for reasons in expected.values())
    for name, entry in metrics["expectations"].items():
        if name in TOLERANT and name in flagged:  # a few such rows are within the tolerated rate
            assert entry["observed"] == pytest.approx(metrics["counts"]["by_reason"][name] / 40)
            assert entry["success"] is (entry["observed"] <= TOLERANT[name])
        else:
            assert entry["success"] is (name not in flagged), name


def test_contaminated_rows_name_the_test_item_they_copy(project):
    data = rows(SYNTHETIC, "zero_shot")
    _test_item_copied(data)
    project(data)
    evidence = {row["row_index"]: row["contamination"] for row in read_jsonl(paths.quarantine_file(TASK, "zero_shot"))}
    assert evidence[12] == {"nearest_test_id": f"{TASK}-real-000", "nearest_test_cosine": pytest.approx(1.0, abs=1e-4),
                            "test_ngram_share": 1.0}
    assert evidence[24]["nearest_test_id"] == f"{TASK}-real-012" and evidence[24]["test_ngram_share"] > 0.5


def test_fail_policy_stops_on_row_defects_and_prints_examples(project, capsys):
    data = rows(SYNTHETIC, "zero_shot")
    _unknown_label(data)
    _test_item_copied(data)
    write_jsonl(paths.validated_file(TASK, "zero_shot"), [{"stale": True}])
    metrics, message = failed_run(project, data, policy="fail")
    assert set(metrics["failed"]) == {"label_in_set", "label_not_null", "contamination_ngram",
                                      "contamination_embedding"}
    assert "label_in_set" in message and "index.html" in message and "\n" not in message
    printed = capsys.readouterr().err
    assert "FAILED label_in_set [row]: 1 rows" in printed and "'promotion'" in printed
    assert f"id='{data[12]['id']}'" in printed
    assert not paths.validated_file(TASK, "zero_shot").exists()  # stale output removed, nothing to train on
    assert set(quarantined()) == {7, 12, 24, 30}  # the report outputs are still there to inspect
    assert (paths.validation_docs_dir(TASK, "zero_shot") / "index.html").exists()


def test_rates_within_tolerance_pass_under_fail_policy_but_rows_are_still_held_back(project):
    data = rows(SYNTHETIC, "zero_shot")
    data[11]["text"] = data[2]["text"]  # 1 of 40 = 2.5% <= max_duplicate_rate 5%
    metrics = project(data, policy="fail")
    assert metrics["success"] is True
    assert metrics["expectations"]["duplicate_text"]["success"] is True
    assert metrics["expectations"]["duplicate_text"]["observed"] == pytest.approx(0.025)
    assert quarantined() == {11: ["duplicate_text"]}


def test_rates_above_tolerance_fail_under_fail_policy(project):
    data = rows(SYNTHETIC, "zero_shot")
    for i in range(6):  # 6 of 40 = 15% > max_artifact_rate 10%
        data[i]["text"] = f"Here's a message for you number {i}: see you later"
    metrics, _ = failed_run(project, data, policy="fail")
    assert metrics["failed"] == ["assistant_artifact"]
    assert metrics["expectations"]["assistant_artifact"]["observed"] == pytest.approx(0.15)


def test_shared_boilerplate_alone_is_not_contamination(project):
    data = rows(SYNTHETIC, "zero_shot")
    boilerplate = " ".join(REAL_TEST[10][0].split()[:8])  # "Your entry into the £5 million jackpot is"
    data[26]["text"] = f"Good news for our loyal customers this spring season: {boilerplate}, reply STOP to opt out"
    metrics = project(data)
    assert metrics["expectations"]["contamination_ngram"]["success"] is True
    assert quarantined() == {}


def test_real_source_train_test_leakage_is_quarantined(project):
    real = rows(REAL_TRAIN, "real")
    real[4]["text"] = REAL_TEST[3][0]
    write_jsonl(paths.prepared_split(TASK, "train"), real)
    metrics = project(None, "real")
    assert quarantined("real") == {4: ["contamination_ngram", "contamination_embedding"]}
    assert metrics["counts"]["clean"] == 29


# ---------------------------------------------------------------- dataset-level defects


def test_missing_label_fails_even_under_quarantine(project):
    data = rows([item for item in SYNTHETIC if item[1] == "ham"], "zero_shot")
    write_jsonl(paths.validated_file(TASK, "zero_shot"), [{"stale": True}])
    metrics, message = failed_run(project, data, policy="quarantine")
    assert metrics["failed"] == ["every_label_present", "label_shares"]
    assert metrics["expectations"]["label_shares"]["observed"] == {"ham": 1.0}
    assert metrics["expectations"]["every_label_present"]["observed"] == {"missing": ["spam"]}
    assert "every_label_present" in message
    assert not paths.validated_file(TASK, "zero_shot").exists()


def test_label_share_out_of_bounds_fails(project):
    data = rows([item for item in SYNTHETIC if item[1] == "ham"] + [SYNTHETIC[-1]], "zero_shot")  # 20 ham, 1 spam
    metrics, _ = failed_run(project, data, policy="quarantine")
    assert metrics["failed"] == ["label_shares"]
    assert metrics["expectations"]["label_shares"]["observed"]["spam"] == pytest.approx(1 / 21, abs=1e-6)


def test_collapsed_diversity_fails_both_diversity_checks(project):
    metrics, message = failed_run(project, rows(COLLAPSED, "zero_shot"), policy="quarantine")
    assert metrics["failed"] == ["remote_clique_ratio", "chamfer_ratio"]
    assert metrics["counts"]["quarantined"] == 0  # no single row is at fault
    ratio = metrics["diversity"]["ratio"]
    assert ratio["remote_clique"] < 0.5 and ratio["chamfer"] < 0.3
    assert metrics["expectations"]["chamfer_ratio"]["observed"] == pytest.approx(ratio["chamfer"], rel=0.05)
    assert "remote_clique_ratio" in message


def test_too_many_quarantined_rows_fail_the_dataset(project):
    data = rows(SYNTHETIC, "zero_shot")
    for row in data[:25]:
        row["label"] = "unknown"
    metrics, _ = failed_run(project, data, policy="quarantine")
    assert "enough_clean_rows" in metrics["failed"]
    assert metrics["counts"]["by_reason"]["label_in_set"] == 25


def test_missing_contract_field_fails_schema(project):
    data = rows(SYNTHETIC, "zero_shot")
    for row in data:
        del row["source"]
    metrics, _ = failed_run(project, data, policy="quarantine")
    assert "schema" in metrics["failed"]
    observed = metrics["expectations"]["schema"]["observed"]
    assert observed and "source" not in observed


def test_empty_dataset_fails_with_a_clear_message(project):
    metrics, message = failed_run(project, [], policy="quarantine")
    assert "every_label_present" in metrics["failed"] and metrics["counts"]["rows_in"] == 0
    assert message.startswith("validation of sms_spam/zero_shot failed")


# ---------------------------------------------------------------- user errors and the CLI


def test_missing_dataset_is_a_one_line_user_error(project):
    with pytest.raises(SynthclfError, match=r"data/synthetic/sms_spam/few_shot.jsonl: file not found"):
        project(None, "few_shot")


def test_non_object_line_is_a_user_error(project):
    path = paths.dataset_to_validate(TASK, "zero_shot")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"id": "a", "text": "hello there", "label": "ham"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(SynthclfError, match="record 2 is a JSON list, not an object"):
        project(None)


def test_params_reject_bad_artifact_regex_and_inverted_bounds():
    with pytest.raises(ValueError, match="not a valid regex"):
        validate.ValidationParams(artifact_patterns=["(unclosed"])
    with pytest.raises(ValueError, match=r"below validate\.min_chars"):
        validate.ValidationParams(min_chars=50, max_chars=10)


def test_params_file_error_names_the_key(tmp_path):
    from synthclf.config import load_params

    params = params_with_repo_validate_section().model_dump(by_alias=True, mode="json")
    params["validate"].update(min_label_share=0.6, max_label_share=0.4)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    with pytest.raises(SynthclfError, match=r"validate\.max_label_share: got 0\.4; .*below validate\.min_label_share"):
        load_params(tmp_path / "params.yaml")


def test_cli_exit_code_and_message_on_failure(project, tmp_path):
    from typer.testing import CliRunner

    from synthclf.cli import app

    params = params_with_repo_validate_section().model_dump(by_alias=True, mode="json")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    write_jsonl(paths.dataset_to_validate(TASK, "zero_shot"), rows(COLLAPSED, "zero_shot"))
    result = CliRunner().invoke(app, ["validate", "--task", TASK, "--source", "zero_shot"])
    assert result.exit_code == 2
    assert "FAILED remote_clique_ratio [dataset]: observed" in result.output
    assert "error: validation of sms_spam/zero_shot failed: remote_clique_ratio, chamfer_ratio" in result.output
    assert json.loads(Path(paths.metrics_file("validate", TASK, "zero_shot")).read_text())["success"] is False
