"""analysis.model.paired: paired ratios + errors -> the Compare grid, on injected values."""

from __future__ import annotations

import pandas as pd

from analysis.model import paired

REGIME = "cpu-lstm-L2-B64-T128-H128-skewed-float32"
SAFE = {"hn_index", "packed_unpack", "chunk_view", "manual_two_rnn"}


def _frame(points: dict[str, tuple[float, float, float, float]]) -> pd.DataFrame:
    """strategy -> (ratio, low, high, error) as the loader's tidy rows of one regime."""
    rows = []
    base = {"machine": "box", "device_name": "CPU", "commit": "abc", "unit": "x hn_index",
            "date": pd.Timestamp("2026-12-01", tz="UTC"), "regime": REGIME, "device": "cpu",
            "cell": "lstm", "layers": 2, "batch": 64, "max_len": 128, "hidden": 128,
            "lengths": "skewed", "dtype": "float32"}
    for name, (ratio, low, high, error) in points.items():
        for suffix, value in (("", ratio), ("_low", low), ("_high", high)):
            rows.append({**base, "benchmark": f"ratios.PairedForward.track_time_ratio{suffix}",
                         "metric": f"track_time_ratio{suffix}", "kind": "ratio",
                         "strategy": name, "value": value})
        rows.append({**base, "benchmark": "strategies.Error.track_max_abs_error",
                     "metric": "track_max_abs_error", "kind": "error", "unit": "abs error",
                     "strategy": name, "value": error})
    return pd.DataFrame(rows)


def test_a_pitfall_is_the_floor_never_the_recommendation() -> None:
    df = _frame({"hn_index": (1.0, 0.98, 1.02, 1e-7),
                 "hn_padded": (0.3, 0.28, 0.32, 0.5),          # wrong here: the floor
                 "hn_first_layer": (0.99, 0.97, 1.01, 0.6),    # wrong (layers 2)
                 "packed_unpack": (1.1, 1.08, 1.12, 1e-7),
                 "manual_two_rnn": (3.0, 2.9, 3.1, 1e-7)})
    g = paired.grid(df, SAFE)
    row = paired.recommendations(g).iloc[0]
    assert row["recommended"] == "hn_index" and row["floor"] == "hn_padded"
    assert not row["floor_correct"] and row["label"] == "lstm 2L B64 T128 H128 skewed"
    flags = g.set_index("strategy")
    assert flags.loc["hn_index", "verdict"] == "A/A" and flags.loc["hn_index", "fastest_correct"]
    assert not flags.loc["hn_padded", "correct"]
    assert (row["aa_low"], row["aa_high"]) == (0.98, 1.02)


def test_a_safe_strategy_significantly_faster_is_recommended_and_ties_are_shaded() -> None:
    df = _frame({"hn_index": (1.0, 0.98, 1.02, 1e-7),
                 "manual_two_rnn": (0.5, 0.48, 0.52, 1e-7),
                 "chunk_view": (0.56, 0.52, 0.6, 1e-7),
                 "hn_padded": (0.49, 0.47, 0.51, 1e-7)})   # right here but not safe
    g = paired.grid(df, SAFE).set_index("strategy")
    assert g.loc["hn_padded", "fastest_correct"]          # the fastest correct: a dagger
    assert g.loc["manual_two_rnn", "recommended"]         # the recommendation: safe only
    assert g.loc["manual_two_rnn", "tied_with_fastest"]   # intervals overlap the fastest's
    assert not g.loc["chunk_view", "tied_with_fastest"]
    rec = paired.recommendations(g.reset_index()).iloc[0]
    assert rec["fastest_correct"] == "hn_padded" and not rec["fastest_safe"]


def test_a_strategy_without_an_error_measurement_is_never_correct() -> None:
    df = _frame({"hn_index": (1.0, 0.98, 1.02, 1e-7), "manual_two_rnn": (0.5, 0.4, 0.6, 1e-7)})
    df = df[~((df["metric"] == "track_max_abs_error") & (df["strategy"] == "manual_two_rnn"))]
    g = paired.grid(df, SAFE).set_index("strategy")
    assert not g.loc["manual_two_rnn", "correct"] and g.loc["hn_index", "recommended"]


def test_no_ratio_results_give_an_empty_grid() -> None:
    df = _frame({"hn_index": (1.0, 0.98, 1.02, 1e-7)})
    assert paired.grid(df[df["kind"] != "ratio"], SAFE).empty


def test_the_limit_is_the_padded_call_times_the_fill() -> None:
    """Per padded regime: the padded call's ratio (hn_padded, wrong here) times the batch's
    fill is the limit of a correct strategy; the fastest safe one is shown against it."""
    from birnn_bench.workload import fill

    df = _frame({"hn_index": (1.0, 0.99, 1.01, 1e-7),
                 "hn_padded": (3.0, 2.9, 3.1, 0.5),
                 "bucketed": (0.5, 0.48, 0.52, 1e-7),
                 "manual_two_rnn": (3.1, 3.0, 3.2, 1e-7)})
    (row,) = paired.limits(paired.grid(df, SAFE | {"bucketed"})).itertuples()
    share = fill("skewed", 64, 128)
    assert 0 < share < 1 and row.fill == share
    assert row.limit == 3.0 * share and row.best == "bucketed"
    assert row.gap == 0.5 / (3.0 * share)
    # Equal lengths have no padding: no limit row.
    equal = _frame({"hn_index": (1.0, 0.99, 1.01, 1e-7), "hn_padded": (0.9, 0.88, 0.92, 1e-7)})
    equal["lengths"] = "equal"
    assert paired.limits(paired.grid(equal, SAFE)).empty
