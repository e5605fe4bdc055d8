"""Deduplicate person records with Splink 5 (DuckDB), for the benchmark in run.py.

Runs inside the Splink virtual environment (benchmarks/.venv-splink), never in
linkwise's. A hand-written model equivalent to linkwise's example settings
(linkwise/data/people_settings.json):

* normalisation in SQL: names and address folded, lower case, punctuation dropped
  (apostrophes, dots) or made a space (other marks), trimmed; dob parsed as a date;
  sex upper case; zip first 5 digits; phone last 10 digits; email lower case. Empty
  strings become null.
* blocking: first+last name, last name+dob, dob+zip, zip+first initial, email.
* comparisons: first and last name (exact with term-frequency adjustment,
  Jaro-Winkler 0.92/0.88/0.7), middle name (exact, initial), dob, sex, address
  (exact with TF, Jaro-Winkler 0.9/0.8), zip (exact with TF, one edit, first 3
  digits), phone (exact, one Damerau-Levenshtein edit), email. City is left out as
  redundant with zip.
* training: prior from deterministic rules, u by random sampling, EM on
  first+last name and on dob+zip.
* predict every candidate pair; cluster at 0.95.

    python splink_run.py --data records.parquet --id record_id --out DIR

Writes DIR/pairs.parquet (id_l, id_r, match_probability), DIR/clusters.parquet
(id, cluster_id) and DIR/model.json (the trained model); prints one JSON line:
Splink's version, seconds per stage and candidate pairs. (run.py measures the
process's wall time, CPU time and peak memory.)
"""

from __future__ import annotations

import argparse
import json
import logging
import time

START = time.perf_counter()

import duckdb  # noqa: E402
import splink  # noqa: E402
import splink.comparison_level_library as cll  # noqa: E402
import splink.comparison_library as cl  # noqa: E402
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: E402

# As linkwise's fold_accents, lower, strip_punctuation, trim: apostrophes and dots join,
# other marks separate words.
CLEAN_TEXT = ("nullif(trim(regexp_replace(regexp_replace(regexp_replace(lower(strip_accents({c})), "
              "'[''’`.]', '', 'g'), '[^\\p{{L}}\\p{{N}}]', ' ', 'g'), '\\s+', ' ', 'g')), '')")
NORMALISE = {
    "first_name": CLEAN_TEXT, "middle_name": CLEAN_TEXT, "last_name": CLEAN_TEXT,
    "address": CLEAN_TEXT,
    "dob": "try_strptime({c}, '%Y-%m-%d')::date",
    "sex": "nullif(upper(trim({c})), '')",
    "zip": "nullif(left(regexp_replace({c}, '[^0-9]', '', 'g'), 5), '')",
    "phone": "nullif(right(regexp_replace({c}, '[^0-9]', '', 'g'), 10), '')",
    "email": "nullif(lower(trim({c})), '')",
}


def settings(id_column: str) -> SettingsCreator:
    """The model: blocking rules and comparisons for the person columns."""
    middle = cl.CustomComparison(output_column_name="middle_name", comparison_levels=[
        cll.NullLevel("middle_name"),
        cll.ExactMatchLevel("middle_name"),
        cll.ExactMatchLevel(splink.ColumnExpression("middle_name").substr(1, 1)),
        cll.ElseLevel(),
    ])
    zip_code = cl.CustomComparison(output_column_name="zip", comparison_levels=[
        cll.NullLevel("zip"),
        cll.ExactMatchLevel("zip", term_frequency_adjustments=True),
        cll.LevenshteinLevel("zip", 1),
        cll.ExactMatchLevel(splink.ColumnExpression("zip").substr(1, 3)),
        cll.ElseLevel(),
    ])
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=id_column,
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "last_name"),
            block_on("last_name", "dob"),
            block_on("dob", "zip"),
            block_on("zip", "substr(first_name, 1, 1)"),
            block_on("email"),
        ],
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name"),
            middle,
            cl.DateOfBirthComparison("dob", input_is_string=False),
            cl.ExactMatch("sex"),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.8]).configure(
                term_frequency_adjustments=True),
            zip_code,
            cl.DamerauLevenshteinAtThresholds("phone", 1),
            cl.EmailComparison("email"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Parquet file of person records")
    parser.add_argument("--id", default="record_id", help="unique id column")
    parser.add_argument("--out", required=True, help="folder for pairs.parquet and clusters.parquet")
    parser.add_argument("--u-pairs", type=float, default=1e7, help="max_pairs for u sampling")
    parser.add_argument("--prior-recall", type=float, default=0.7,
                        help="assumed recall of the deterministic rules that estimate the prior")
    parser.add_argument("--cluster-threshold", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # Splink logs every step at INFO; keep stdout to the JSON line

    seconds: dict[str, float] = {"import": round(time.perf_counter() - START, 3)}
    mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        seconds[name] = round(now - mark, 3)
        mark = now

    con = duckdb.connect()
    columns = [r[0] for r in con.execute(f"describe select * from read_parquet('{args.data}')").fetchall()]
    select = ", ".join(f"{NORMALISE[c].format(c=c)} as {c}" if c in NORMALISE else c for c in columns)
    con.execute(f"create table records as select {select} from read_parquet('{args.data}')")
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register("records"), settings(args.id), log_level=None)
    stage("load")

    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "dob"), block_on("email")], recall=args.prior_recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=args.u_pairs, seed=args.seed)
    stage("train_u")
    for rule in (block_on("first_name", "last_name"), block_on("dob", "zip")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    stage("train_em")

    pairs = linker.inference.predict()
    stage("predict")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pairs, threshold_match_probability=args.cluster_threshold)
    stage("cluster")

    quoted = args.out.replace("'", "''")
    con.execute(f"copy (select {args.id}_l as id_l, {args.id}_r as id_r, match_probability "
                f"from {pairs.physical_name}) to '{quoted}/pairs.parquet' (format parquet)")
    con.execute(f"copy (select {args.id} as id, cluster_id from {clusters.physical_name}) "
                f"to '{quoted}/clusters.parquet' (format parquet)")
    linker.misc.save_model_to_json(f"{args.out}/model.json", overwrite=True)
    candidates = con.execute(f"select count(*) from {pairs.physical_name}").fetchone()[0]
    stage("write")

    print(json.dumps({
        "version": splink.__version__,
        "seconds": seconds,
        "candidate_pairs": candidates,
    }))


if __name__ == "__main__":
    main()
