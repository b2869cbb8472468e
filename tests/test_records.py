"""Records as typed objects: `Record` / `ScoreSettings` round trips of the JSON ganeval writes, the sweep key, the
comparable key, and a family registered later (a plugin) read, tabled and ranked like a built-in one."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ganeval.compare import compare
from ganeval.errors import InputError
from ganeval.gate import metric_key
from ganeval.metrics.registry import Metric, MetricKey, MetricResult, register_metric, unregister_metric
from ganeval.records import SCHEMA_VERSION, Record, ScoreSettings, number_fields, read_record_file
from ganeval.report import curve_metrics
from ganeval.tables import load_records

from .conftest import GRID, write_scored_run

# Lines of metrics.jsonl files and `ganeval score --json` as ganeval writes them (ring8-gan, 40 steps): a
# checkpoint's record; one scored with --ci 0.9 --latents sobol --metrics kid,fid; a sample source's with --ci;
# and one without.
CHECKPOINT = (
    '{"schema": 1, "created": "2026-12-01T13:02:35+00:00", "run": "rec-run", "checkpoint": "step-0000040.pt", "st'
    'ep": 40, "ema": false, "reference_argument": "ring8", "requested_num_samples": 2500, "requested_reference_sa'
    'mples": null, "metrics": "fid,kid,prdc,modes", "input": "/tmp/rec-run/checkpoints/step-0000040.pt", "referen'
    'ce": "ring8", "extractor": "identity", "num_samples": 2500, "num_reference": 2500, "seed": 2020, "fid": 0.63'
    '49056339181288, "kid_mean": 2.3112928040312903, "kid_std": 0.24001506074848827, "precision": 0.0048, "recall'
    '": 1.0, "density": 0.00304, "coverage": 0.0124, "modes": 2, "high_quality": 0.0032, "reverse_kl": 1.51710639'
    '70610277, "diagnostics": {"fid": {"mean_term": 0.09664819703850594, "trace_term": 0.5382574368796229, "dim":'
    ' 2, "num_real": 2500, "num_fake": 2500, "rank": 2, "negative_eigenvalue_mass": 0.0, "factor_method": "choles'
    'ky"}, "kid": {"subsets": 100, "subset_size": 1000}, "prdc": {"k": 5}, "modes": {"source": "mixture ring8", "'
    'num_modes": 8, "mode_counts": [2, 0, 0, 0, 0, 0, 0, 6]}, "timing": {"input": 0.034, "reference": 0.001, "ext'
    'ractor": 0.0, "extract_input": 0.001, "fid": 0.0, "kid": 0.69, "prdc": 0.151, "modes": 0.003}}, "provenance"'
    ': {"ganeval": "0.1.0", "torch": "2.14.1+cu130", "torch_fidelity": "0.4.0", "extractor_weights_sha256": null,'
    ' "preprocessing": "none", "reference_key": "1838c22349351be46e39abb9", "reference_content_sha256": "c1567661'
    '3301d047a235a42b319c111d9b2fab5ffbb99f9e7eb664e7cc4e50da", "reference_from_cache": true, "device": "cpu"}}'
)

CHECKPOINT_CI_SOBOL = (
    '{"schema": 1, "created": "2026-12-01T13:02:43+00:00", "run": "rec-run", "checkpoint": "step-0000040.pt", "st'
    'ep": 40, "ema": false, "latents": "sobol", "reference_argument": "ring8", "requested_num_samples": 500, "req'
    'uested_reference_samples": null, "metrics": "kid,fid", "ci_level": 0.9, "input": "/tmp/rec-run/checkpoints/s'
    'tep-0000040.pt", "reference": "ring8", "extractor": "identity", "num_samples": 500, "num_reference": 2500, "'
    'seed": 2020, "kid_mean": 2.4739698683903453, "kid_std": 0.03947069037357835, "fid": 0.6406797420428754, "kid'
    '_mean_ci_low": 1.5007439430380614, "kid_mean_ci_high": 3.155343643184337, "fid_ci_low": 0.518400208796875, "'
    'fid_ci_high": 0.7222834317143672, "diagnostics": {"kid": {"subsets": 100, "subset_size": 500}, "fid": {"mean'
    '_term": 0.08569513735567452, "trace_term": 0.5549846046872009, "dim": 2, "num_real": 2500, "num_fake": 500, '
    '"rank": 2, "negative_eigenvalue_mass": 0.0, "factor_method": "cholesky", "bootstrap_method": "exact"}, "ci":'
    ' {"level": 0.9, "replicates": 20, "resampled": "generated samples", "standard_errors": {"kid_mean": 0.564764'
    '9329950624, "fid": 0.06275448271262644}}, "timing": {"input": 0.027, "reference": 0.001, "extractor": 0.0, "'
    'extract_input": 0.001, "bootstrap": 0.0, "kid": 0.184, "fid": 0.002}}, "provenance": {"ganeval": "0.1.0", "t'
    'orch": "2.14.1+cu130", "torch_fidelity": "0.4.0", "extractor_weights_sha256": null, "preprocessing": "none",'
    ' "reference_key": "1838c22349351be46e39abb9", "reference_content_sha256": "c15676613301d047a235a42b319c111d9'
    'b2fab5ffbb99f9e7eb664e7cc4e50da", "reference_from_cache": true, "device": "cpu"}}'
)

PLAIN_CI = (
    '{"schema": 1, "created": "2026-12-01T13:02:47+00:00", "ci_level": 0.95, "input": "ring8", "reference": "ring'
    '8", "extractor": "identity", "num_samples": 300, "num_reference": 2500, "seed": 2020, "fid": 0.0034127961941'
    '213896, "precision": 0.9833333333333333, "recall": 0.9556, "density": 0.9640000000000001, "coverage": 0.4076'
    ', "fid_ci_low": 0.0, "fid_ci_high": 0.005987716596168707, "precision_ci_low": 0.9615, "precision_ci_high": 0'
    '.9866666666666667, "recall_ci_low": 0.9084299999999998, "recall_ci_high": 0.9848000000000001, "density_ci_lo'
    'w": 0.9356333333333333, "density_ci_high": 0.9728, "coverage_ci_low": 0.39396000000000014, "coverage_ci_high'
    '": 0.42516000000000004, "diagnostics": {"fid": {"mean_term": 0.0022247357727379707, "trace_term": 0.00118806'
    '0421383419, "dim": 2, "num_real": 2500, "num_fake": 300, "rank": 2, "negative_eigenvalue_mass": 0.0, "factor'
    '_method": "cholesky", "bootstrap_method": "exact"}, "prdc": {"k": 5}, "ci": {"level": 0.95, "replicates": 10'
    ', "resampled": "generated samples", "standard_errors": {"fid": 0.005281229776854932, "precision": 0.00905402'
    '1683317046, "recall": 0.024664720643957114, "density": 0.014107873644367257, "coverage": 0.01231649300734588'
    '2}}, "timing": {"input": 0.006, "reference": 0.003, "extractor": 0.0, "extract_input": 0.009, "bootstrap": 0'
    '.005, "fid": 0.001, "prdc": 0.137}}, "provenance": {"ganeval": "0.1.0", "torch": "2.14.1+cu130", "torch_fide'
    'lity": "0.4.0", "extractor_weights_sha256": null, "preprocessing": "none", "reference_key": "1838c22349351be'
    '46e39abb9", "reference_content_sha256": "c15676613301d047a235a42b319c111d9b2fab5ffbb99f9e7eb664e7cc4e50da", '
    '"reference_from_cache": true, "device": "cpu"}}'
)

PLAIN = (
    '{"schema": 1, "created": "2026-12-01T13:02:50+00:00", "input": "ring8", "reference": "ring8", "extractor": "'
    'identity", "num_samples": 300, "num_reference": 2500, "seed": 2020, "fid": 0.0034127961941213896, "modes": 8'
    ', "high_quality": 0.98, "reverse_kl": 0.017793474788891768, "diagnostics": {"fid": {"mean_term": 0.002224735'
    '7727379707, "trace_term": 0.001188060421383419, "dim": 2, "num_real": 2500, "num_fake": 300, "rank": 2, "neg'
    'ative_eigenvalue_mass": 0.0, "factor_method": "cholesky"}, "modes": {"source": "mixture ring8", "num_modes":'
    ' 8, "mode_counts": [25, 46, 36, 47, 31, 33, 38, 38]}, "timing": {"input": 0.001, "reference": 0.002, "extrac'
    'tor": 0.0, "extract_input": 0.006, "fid": 0.001, "modes": 0.0}}, "provenance": {"ganeval": "0.1.0", "torch":'
    ' "2.14.1+cu130", "torch_fidelity": "0.4.0", "extractor_weights_sha256": null, "preprocessing": "none", "refe'
    'rence_key": "1838c22349351be46e39abb9", "reference_content_sha256": "c15676613301d047a235a42b319c111d9b2fab5'
    'ffbb99f9e7eb664e7cc4e50da", "reference_from_cache": true, "device": "cpu"}}'
)


LINES = {"checkpoint": CHECKPOINT, "checkpoint --ci --latents sobol": CHECKPOINT_CI_SOBOL, "plain --ci": PLAIN_CI,
         "plain": PLAIN}


@pytest.mark.parametrize("case", list(LINES))
def test_records_round_trip_key_for_key(case):
    data = json.loads(LINES[case])
    record = Record.from_json(data)
    assert list(record.to_json().items()) == list(data.items())  # the same keys, values and order
    assert json.dumps(record.to_json()) == LINES[case]
    assert Record.from_json(record.to_json()) == record
    assert record.schema == SCHEMA_VERSION and not record.extra


def test_a_checkpoint_record_reads_its_fields_and_settings():
    record = Record.from_json(json.loads(CHECKPOINT_CI_SOBOL))
    assert (record.run, record.checkpoint, record.step, record.ema, record.latents) == (
        "rec-run", "step-0000040.pt", 40, False, "sobol")
    assert record.settings == ScoreSettings("ring8", 2020, False, 500, None, ("kid", "fid"), 0.9, "sobol")
    assert record.ci_level == 0.9 and record.settings.metrics_text == "kid,fid"
    assert list(record.values) == ["kid_mean", "kid_std", "fid", "kid_mean_ci_low", "kid_mean_ci_high",
                                   "fid_ci_low", "fid_ci_high"]  # the order computed
    assert list(record.metric_values()) == ["fid", "kid_mean", "kid_std"]  # the registry's order
    assert record.interval("fid") == (record["fid_ci_low"], record["fid_ci_high"])
    assert record.standard_errors["fid"] == record.diagnostics["ci"]["standard_errors"]["fid"]


def test_a_plain_record_has_no_checkpoint_fields():
    record = Record.from_json(json.loads(PLAIN_CI))
    assert record.settings is None and record.sweep_key() is None
    fields = (record.run, record.checkpoint, record.step, record.ema, record.latents)
    assert fields == (None, None, None, None, "normal")
    assert record.ci_level == 0.95 and "ci_level" in record and record["input"] == "ring8"
    plain = Record.from_json(json.loads(PLAIN))
    assert plain.ci_level is None and "ci_level" not in plain


def test_unknown_fields_are_kept_for_the_round_trip():
    data = json.loads(CHECKPOINT)
    data = {**data, "written_by_a_newer_ganeval": {"x": [1, 2]}, "unregistered_metric": 0.5}
    record = Record.from_json(data)
    assert record.extra == {"written_by_a_newer_ganeval": {"x": [1, 2]}, "unregistered_metric": 0.5}
    assert record.to_json() == data and Record.from_json(record.to_json()) == record
    assert record["written_by_a_newer_ganeval"] == {"x": [1, 2]} and record.get("nothing", 7) == 7


def test_records_written_before_a_field_existed_read_its_default():
    data = json.loads(CHECKPOINT_CI_SOBOL)
    for name in ("latents", "ci_level"):
        data.pop(name)
    settings = Record.from_json(data).settings
    assert settings.latents == "normal" and settings.ci_level is None
    assert Record.from_json(data).sweep_key() == Record.from_json(json.loads(CHECKPOINT_CI_SOBOL)).sweep_key()[:-4] + (
        None, "normal", None, None)  # ci_level, latents, the generator asked (none: a ganeval checkpoint), --train


def test_constructed_records_write_null_for_non_finite_values_and_refuse_disagreeing_settings():
    record = Record("ring8", "ring8", "identity", 300, 2500, 1, values={"fid": 0.5, "reverse_kl": float("nan")})
    assert record.to_json()["reverse_kl"] is None and record.values == {"fid": 0.5, "reverse_kl": None}
    settings = ScoreSettings("ring8", seed=2, metrics="fid")
    with pytest.raises(ValueError, match="seed"):
        Record("a.pt", "ring8", "identity", 300, 2500, 1, checkpoint="a.pt", ema=False, settings=settings)


def _sweep_key(**changes) -> tuple:
    """The sweep key of CHECKPOINT with some JSON fields changed."""
    return Record.from_json({**json.loads(CHECKPOINT), **changes}).sweep_key()


def test_the_sweep_key_ignores_the_order_of_metrics_but_nothing_else():
    assert _sweep_key(metrics="fid,kid") == _sweep_key(metrics="kid,fid") == _sweep_key(metrics="kid, FID,kid")
    asked = ScoreSettings("ring8", 2020, requested_num_samples=2500, metrics=("fid", "kid", "prdc", "modes"))
    assert asked.key("step-0000040.pt") == _sweep_key(metrics="modes,prdc,kid,fid")
    baseline = _sweep_key()
    for changes in ({"seed": 1}, {"requested_num_samples": 500}, {"requested_reference_samples": 100},
                    {"ci_level": 0.95}, {"latents": "sobol"}, {"ema": True}, {"reference_argument": "grid25"},
                    {"checkpoint": "step-0000020.pt"}, {"metrics": "fid,kid"}):
        assert _sweep_key(**changes) != baseline, changes
    defaults = dict(json.loads(CHECKPOINT), metrics=None)  # --metrics left out: not the same ask as naming them
    assert Record.from_json(defaults).sweep_key() != baseline and Record.from_json(defaults).settings.metrics is None
    assert Record.from_json(defaults).to_json() == defaults


def test_the_comparable_key_is_reference_extractor_and_n():
    record = Record.from_json(json.loads(CHECKPOINT_CI_SOBOL))
    assert record.comparable_key() == ("ring8", "identity", 500)
    assert record.setting_label == "ring8, identity, N=500"
    assert replace(record, num_samples=2500).comparable_key() != record.comparable_key()


def test_a_bad_field_is_one_line_naming_where():
    with pytest.raises(InputError, match=r"^runs/a/metrics.jsonl:3: field 'fid' must be a finite number or null, "
                                         r"got 'abc' \(a string\)$"):
        Record.from_json({**json.loads(PLAIN), "fid": "abc"}, "runs/a/metrics.jsonl:3")
    with pytest.raises(InputError, match=r"^record: field 'metrics' must be a string or null, got \['fid'\]"):
        Record.from_json({**json.loads(CHECKPOINT), "metrics": ["fid"]})
    with pytest.raises(InputError, match="must be a JSON object"):
        Record.from_json([1, 2])


def test_read_record_file_numbers_lines_and_names_them_in_errors(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(PLAIN + "\n\n" + CHECKPOINT + "\n")
    numbered = [(line, record.checkpoint) for line, record in read_record_file(path)]
    assert numbered == [(1, None), (3, "step-0000040.pt")]
    path.write_text(PLAIN + "\n" + CHECKPOINT.replace('"step": 40', '"step": "40"') + "\n")
    with pytest.raises(InputError, match=rf"^{path}:2: field 'step' must be an integer"):
        read_record_file(path)


# --- a family registered later ------------------------------------------------------------------------------------


@pytest.fixture
def toy():
    """A family 'toy' with one key, lower is better, registered for the test only."""
    family = register_metric(Metric("toy", (MetricKey("toy", higher_is_better=False),),
                                    compute=lambda context, weights=None: MetricResult({"toy": 1.0})))
    try:
        yield family
    finally:
        unregister_metric("toy")


def test_a_family_registered_later_is_read_tabled_and_ranked(toy, tmp_path):
    write_scored_run(tmp_path, "worse", {100: {"fid": 1.0, "toy": 3.0}, 200: {"fid": 1.0, "toy": 2.0}})
    write_scored_run(tmp_path, "better", {100: {"fid": 2.0, "toy": 0.5, "toy_ci_low": 0.25, "toy_ci_high": 1.0}})
    [(_, record)] = read_record_file(tmp_path / "better" / "metrics.jsonl")
    assert record.values == {"fid": 2.0, "toy": 0.5, "toy_ci_low": 0.25, "toy_ci_high": 1.0} and not record.extra
    assert "toy" in number_fields()
    frame = load_records(str(tmp_path / "*"))
    toy_rows = frame[frame["metric"] == "toy"]
    assert len(toy_rows) == 3 and not toy_rows["higher_is_better"].any()
    assert toy_rows[toy_rows["run"] == "better"][["ci_low", "ci_high"]].values.tolist() == [[0.25, 1.0]]
    table = compare(str(tmp_path / "*"), metrics="toy")
    assert list(zip(table["run"], table["toy"])) == [("better", 0.5), ("worse", 2.0)]  # lower first, best step
    assert table.attrs["rank_metric"] == "toy" and list(compare(str(tmp_path / "*"))["run"]) == ["worse", "better"]
    assert metric_key("toy") == "toy" and "toy" in curve_metrics()  # gated and plotted like the built-in ones
    with pytest.raises(InputError, match="field 'toy' must be a finite number"):
        Record.from_json({**record.to_json(), "toy": "abc"})


def test_a_family_unregistered_again_is_an_extra_field(toy):
    data = {"schema": 1, "created": "2026-11-30T00:00:00+00:00", "input": "x", **GRID, "num_reference": 2500,
            "seed": 2020, "toy": 1.5}
    assert Record.from_json(data).values == {"toy": 1.5}
    unregister_metric("toy")
    record = Record.from_json(data)
    assert record.values == {} and record.extra == {"toy": 1.5} and record.to_json() == data
