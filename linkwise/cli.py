"""The command line: a thin shell over the library.

Exit codes: 0 success, 1 an error (one line on standard error; a traceback
only with ``--debug``), 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import errno
import functools
import json
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import click

from .errors import LinkwiseError

_DEBUG = {"on": False}


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"linkwise: error: {message}", err=True)
    sys.exit(code)


def handle_errors(func):
    """Turn errors into one-line messages and exit codes; tracebacks only with --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LinkwiseError as exc:
            if _DEBUG["on"]:
                traceback.print_exc()
                if exc.detail:
                    click.echo(f"linkwise: detail: {exc.detail}", err=True)
            _fail(str(exc))
        except KeyboardInterrupt:
            click.echo("linkwise: interrupted; no output was written", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except MemoryError:
            _fail("out of memory; lower --memory-limit, tighten the blocking rules or use a bigger machine")
        except Exception as exc:  # a bug, or the system failing: still one line unless --debug
            if _DEBUG["on"]:
                traceback.print_exc()
            _fail(_unexpected(exc))

    return wrapper


def _unexpected(exc: Exception) -> str:
    """One line for an error linkwise did not foresee, without its message.

    The message of an arbitrary exception may quote data (a value that failed to
    parse, say), so only the kind of error and where it happened are shown; an
    operating-system error gives its reason and file, which hold no data.
    """
    if isinstance(exc, OSError) and exc.errno is not None:
        where = f" '{exc.filename}'" if exc.filename else ""
        if exc.errno == errno.ENOSPC:
            return f"the disk is full{where and ' writing' + where}; free some space or choose another folder"
        return f"{exc.strerror or 'system error'}{where and ':' + where} (errno {exc.errno})"
    package = Path(__file__).parent
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).is_relative_to(package)]
    at = f" in linkwise/{Path(frames[-1].filename).relative_to(package)} line {frames[-1].lineno}" if frames else ""
    return f"unexpected {type(exc).__name__}{at}; run again with --debug to see the details, and please report it"


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    _DEBUG["on"] = value  # per invocation: an earlier --debug in the same process does not stick
    return value


def common_run_options(func):
    """Options shared by dedupe and link, defined once."""
    options = [
        click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False), help="Folder for the outputs (with --engine spark also a URI such as hdfs://... or s3a://...)."),
        click.option("--settings", "settings", type=click.Path(dir_okay=False), help="Settings file (JSON or YAML). Without it, settings are chosen from the data and written to OUTPUT/settings.json."),
        click.option("--exclude", "exclude", multiple=True, metavar="COLUMN", help="Without --settings: a column never to compare (e.g. a truth column). Repeatable."),
        click.option("--max-pairs", "max_pairs", type=click.IntRange(1), help="Without --settings: the budget of candidate pairs for the blocking rules chosen (default: 20 a record, at least 2,000,000)."),
        click.option("--model", "model", type=click.Path(), help="A model.json (or run folder) to score with, without training."),
        click.option("--threshold", type=click.FloatRange(0, 1), help="Match threshold: probability at which a pair counts as a match."),
        click.option("--cluster-threshold", type=click.FloatRange(0, 1), help="Probability at which a pair links two records into one cluster."),
        click.option("--labels", "labels", type=click.Path(dir_okay=False), help="Pairs known to match or not (CSV or Parquet: id_l, id_r, match): they calibrate m and choose the thresholds not given."),
        click.option("--label-column", help="A column holding the true entity id for some records (empty elsewhere), used as labels."),
        click.option("--overwrite", is_flag=True, help="Replace earlier linkwise outputs in the output folder."),
        click.option("--csv", "csv", is_flag=True, help="Also write clusters.csv and pairs.csv."),
        click.option("--encoding", help="Encoding of CSV inputs, e.g. latin-1 (default utf-8)."),
        click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True, help="Where the work runs: embedded DuckDB, or Apache Spark (pip install 'linkwise[spark]')."),
        click.option("--spark-master", help="Spark master URL, e.g. local[4] or yarn (default: as spark-submit sets it, else local[*])."),
        click.option("--spark-conf", "spark_conf", multiple=True, metavar="KEY=VALUE", help="A Spark setting, e.g. spark.driver.memory=8g (repeatable)."),
        click.option("--memory-limit", help="DuckDB memory limit, e.g. 8GB; DuckDB spills to disk beyond it."),
        click.option("--threads", type=click.IntRange(1), help="DuckDB threads (default: all cores)."),
        click.option("--temp-dir", type=click.Path(file_okay=False), help="Where DuckDB spills to disk."),
        click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
        click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True, help="Show tracebacks."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _engine_options(opts: dict[str, Any]) -> dict[str, Any]:
    """The options of the chosen engine; another engine's options are an error, not ignored."""
    duckdb = {"memory_limit": opts["memory_limit"], "threads": opts["threads"], "temp_directory": opts["temp_dir"]}
    if opts["engine"] != "spark":
        if opts["spark_master"] or opts["spark_conf"]:
            raise click.UsageError("--spark-master and --spark-conf need --engine spark")
        return {k: v for k, v in duckdb.items() if v}
    if any(duckdb.values()):
        raise click.UsageError(
            "--memory-limit, --threads and --temp-dir set up DuckDB; for Spark give --spark-conf, "
            "e.g. --spark-conf spark.driver.memory=8g"
        )
    config = {}
    for item in opts["spark_conf"]:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--spark-conf '{item}': give KEY=VALUE, e.g. spark.driver.memory=8g")
        config[key.strip()] = value.strip()
    return {k: v for k, v in {"master": opts["spark_master"], "config": config}.items() if v}


def _run_and_write(inputs: Any, link_type: str | None, opts: dict[str, Any]) -> None:
    from .pipeline import run

    from .auto import parse_column_map

    quiet = opts["quiet"]
    engine_options = _engine_options(opts)
    zero_config = None
    if not opts["settings"] and not opts["model"]:
        zero_config = {
            "exclude": list(opts["exclude"]),
            "rename": parse_column_map(opts.get("column_map") or ()),
            "max_pairs": opts["max_pairs"],
        }
    elif opts.get("column_map"):
        raise click.UsageError("--map is for runs without --settings; with settings, use the 'rename' setting")
    # A URI (hdfs://, s3a://...) is for the Spark engine's writer; pathlib would mangle it.
    output = opts["output"] if "://" in opts["output"] else Path(opts["output"])
    if isinstance(output, Path):
        from .outputs import check_output_folder

        check_output_folder(output, overwrite=opts["overwrite"])  # before the work, not after it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(
            inputs,
            opts["settings"],
            model=opts["model"],
            link_type=link_type,
            encoding=opts["encoding"],
            match_threshold=opts["threshold"],
            cluster_threshold=opts["cluster_threshold"],
            progress=not quiet and sys.stderr.isatty(),
            engine=opts["engine"],
            engine_options=engine_options,
            labels=opts["labels"],
            label_column=opts["label_column"],
            zero_config=zero_config,
            keep_prepared=False,  # only written here: the encoded values can go early
        )
    result.write(output, overwrite=opts["overwrite"], csv=opts["csv"])
    if not quiet and result.zero_config is not None:
        click.echo(
            f"No settings given: linkwise chose them from the data. They are in {output / 'settings.json'}"
            " (edit and rerun with --settings); the profile and the reasons are in zero_config.json."
        )
        click.echo(result.zero_config.summary())
    if not quiet:
        for w in caught:
            # Only linkwise's own warnings, whose text it controls: others may quote data.
            ours = w.category.__module__.split(".")[0] == "linkwise"
            if issubclass(w.category, UserWarning) and (ours or _DEBUG["on"]):
                click.echo(f"linkwise: warning: {w.message}", err=True)
        summary = result.summary()
        chosen = result.training.get("labels") if isinstance(result.training, dict) else None
        if chosen:
            click.echo(
                f"Labels: {chosen['pairs']:,} pairs ({chosen['matches']:,} matches) calibrated m; thresholds "
                f"{summary['match_threshold']} (pairs) and {summary['cluster_threshold']} (clusters)."
            )
        if result.records.generated_ids:
            click.echo(f"No id column given: records were numbered 1..n in column '{result.records.id_column}'.")
        click.echo(
            f"{summary['records']:,} records, {summary['candidate_pairs']:,} candidate pairs, "
            f"{summary['pairs_at_or_above_match_threshold']:,} matches at p >= {summary['match_threshold']}, "
            f"{summary['clusters']:,} clusters at p >= {summary['cluster_threshold']}."
        )
        written = "clusters.parquet, pairs.parquet, model.json, settings.json, summary.json"
        if result.zero_config is not None:
            written += ", zero_config.json"
        click.echo(f"Outputs written to {output}/ ({written})")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="linkwise")
def main() -> None:
    """linkwise: find the records that refer to the same real-world entity."""


@main.command()
@click.argument("input", nargs=1)
@common_run_options
@handle_errors
def dedupe(input: str, **opts: Any) -> None:
    """Deduplicate one table: INPUT is a CSV or Parquet file, glob or folder."""
    _run_and_write(input, "dedupe", opts)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--dedupe-sources", is_flag=True, help="Also find duplicates within each source (link_and_dedupe).")
@click.option("--map", "column_map", multiple=True, metavar="A_COL=B_COL", help="Without --settings: column A_COL of the first input is B_COL in the others. Repeatable.")
@common_run_options
@handle_errors
def link(inputs: tuple[str, ...], dedupe_sources: bool, **opts: Any) -> None:
    """Link two or more sources: pairs are made only across sources unless --dedupe-sources."""
    if len(inputs) < 2:
        raise click.UsageError("link needs two or more inputs")
    _run_and_write(list(inputs), "link_and_dedupe" if dedupe_sources else "link", opts)


def _print_evaluation(evaluation: Any) -> None:
    d = evaluation.to_dict()
    rows = [
        ("scored pairs (p >= %.2f)" % d["threshold"], d["scored_pairs"]),
        ("pairs implied by clusters", d["cluster_pairs"]),
        ("B-cubed (clusters)", d["bcubed"]),
    ]
    click.echo(f"{'':28} {'precision':>9} {'recall':>9} {'F1':>9}")
    for name, m in rows:
        click.echo(f"{name:28} {m['precision']:9.4f} {m['recall']:9.4f} {m['f1']:9.4f}")
    click.echo(f"{'blocking recall':28} {'':9} {d['blocking_recall']:9.4f}")
    counts = d["counts"]
    click.echo(", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in counts.items()))


def _print_estimate(estimate: Any) -> None:
    d = estimate.to_dict()
    click.echo("Estimated from the model's probabilities (no truth given); ranges in brackets:")
    click.echo(f"{'':28} {'precision':>21} {'recall':>21} {'F1':>21}")
    for name, key in (("scored pairs (p >= %.2f)" % d["threshold"], "scored_pairs"), ("pairs implied by clusters", "cluster_pairs")):
        cells = [f"{m['estimate']:.4f} [{m['low']:.3f}, {m['high']:.3f}]" for m in (d[key][k] for k in ("precision", "recall", "f1"))]
        click.echo(f"{name:28} " + " ".join(f"{c:>21}" for c in cells))
    if d["blocking_recall"]:
        b = d["blocking_recall"]
        click.echo(f"{'blocking recall':28} {'':21} {b['estimate']:.4f} [{b['low']:.3f}, {b['high']:.3f}]")
    else:
        click.echo("blocking recall: not estimated; recall counts only the matches among the scored pairs")
    m = d["expected_matches"]
    click.echo(f"expected matching pairs: {m['estimate']:,.0f} [{m['low']:,.0f}, {m['high']:,.0f}]")


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("--truth", help="Column of the input that holds the true entity id; without it, accuracy is estimated from the model's probabilities.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Match threshold for scored pairs (default: the run's).")
@click.option("--input", "inputs", multiple=True, help="Input file(s), if they moved since the run.")
@click.option("--encoding", help="Encoding of CSV inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True, help="Show tracebacks.")
@handle_errors
def evaluate(output: str, truth: str | None, threshold: float | None, inputs: tuple[str, ...], encoding: str | None, as_json: bool) -> None:
    """Precision, recall and F1 of the run in OUTPUT: against a truth column, or estimated without one."""
    from .evaluate_run import estimate_output, evaluate_output

    if truth is None:
        estimate = estimate_output(output, threshold=threshold)
        if as_json:
            click.echo(json.dumps({"estimated": estimate.to_dict()}, indent=2))
        else:
            _print_estimate(estimate)
        return
    result = evaluate_output(output, truth, inputs=list(inputs) or None, threshold=threshold, encoding=encoding)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_evaluation(result)


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.argument("ids", nargs=-1)
@click.option("--cluster", "cluster_id", type=click.IntRange(0), help="Explain this cluster instead of a pair.")
@click.option("--source-a", help="Source of the first record, when its id is in several sources.")
@click.option("--source-b", help="Source of the second record, when its id is in several sources.")
@click.option("--input", "inputs", multiple=True, help="Input file(s), if they moved since the run.")
@click.option("--encoding", help="Encoding of CSV inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True, help="Show tracebacks.")
@handle_errors
def explain(
    output: str,
    ids: tuple[str, ...],
    cluster_id: int | None,
    source_a: str | None,
    source_b: str | None,
    inputs: tuple[str, ...],
    encoding: str | None,
    as_json: bool,
) -> None:
    """Explain a pair (OUTPUT ID_A ID_B) or a cluster (OUTPUT --cluster ID) of the run in OUTPUT.

    A pair: both records, and for each comparison its level, m, u and the weight
    it adds (term-frequency adjustments in words), the prior, the total and the
    probability; which blocking rules hold. A cluster: its records, the links
    that hold it together, the weakest link, and records held by one link only.
    """
    from .explain import load_run

    if cluster_id is None and len(ids) != 2:
        raise click.UsageError("give two record ids (OUTPUT ID_A ID_B) or a cluster (OUTPUT --cluster ID)")
    if cluster_id is not None and ids:
        raise click.UsageError("give either two record ids or --cluster, not both")
    run = load_run(output, inputs=list(inputs) or None, encoding=encoding)
    if cluster_id is not None:
        explanation: Any = run.explain_cluster(cluster_id)
    else:
        explanation = run.explain(ids[0], ids[1], source_a=source_a, source_b=source_b)
        scored = run.scored_weight(explanation) if explanation.candidate else None
        if explanation.candidate and (scored is None or abs(scored - explanation.match_weight) > 1e-9):
            click.echo(
                "linkwise: warning: the run scored this pair differently; the inputs may have changed since the run",
                err=True,
            )
    click.echo(json.dumps(explanation.to_dict(), indent=2, default=str) if as_json else explanation.to_text())


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("-o", "--out", "report_path", type=click.Path(dir_okay=False), help="Report file (default: OUTPUT/report.html).")
@click.option("--truth", help="Column of the input with the true entity id: adds precision and recall against threshold.")
@click.option("--pairs", "borderline", default=8, show_default=True, type=click.IntRange(0), help="Borderline pairs to explain.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the sample of borderline pairs.")
@click.option("--input", "inputs", multiple=True, help="Input file(s), if they moved since the run.")
@click.option("--encoding", help="Encoding of CSV inputs.")
@click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True, help="Show tracebacks.")
@handle_errors
def report(
    output: str,
    report_path: str | None,
    truth: str | None,
    borderline: int,
    seed: int,
    inputs: tuple[str, ...],
    encoding: str | None,
) -> None:
    """Write a self-contained HTML report of the run in OUTPUT (works offline)."""
    from .report import write_report

    path = write_report(
        output, report_path, truth=truth, inputs=list(inputs) or None, encoding=encoding, borderline=borderline, seed=seed
    )
    click.echo(f"Report written to {path}")


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--encoding", help="Encoding of CSV inputs, e.g. latin-1 (default utf-8).")
@click.option("--map", "column_map", multiple=True, metavar="A_COL=B_COL", help="Column A_COL of the first input is B_COL in the others. Repeatable.")
@click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True, help="Show tracebacks.")
@handle_errors
def profile(inputs: tuple[str, ...], as_json: bool, encoding: str | None, column_map: tuple[str, ...]) -> None:
    """Profile INPUTS (pooled): nulls, distinct values, common values, lengths and each column's role."""
    from .auto import parse_column_map
    from .profile import profile as profile_inputs

    result = profile_inputs(list(inputs) if len(inputs) > 1 else inputs[0], encoding=encoding, rename=parse_column_map(column_map))
    if as_json:
        click.echo(result.to_json(), nl=False)
        return
    click.echo(result.to_text())
    click.echo("Roles:")
    for column in result.columns:
        click.echo(f"  {column.name:<18} {column.role:<15} {column.reason}")


@main.command()
@click.option("-o", "--output", default="linkwise-demo", show_default=True, type=click.Path(file_okay=False), help="Folder for the demo's data and outputs.")
@click.option("--records", default=10_000, show_default=True, type=click.IntRange(100), help="Number of synthetic records.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the generator.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the metrics.")
@click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True, help="Show tracebacks.")
@handle_errors
def demo(output: str, records: int, seed: int, quiet: bool) -> None:
    """Generate synthetic people, deduplicate them with the example settings, and score the result."""
    import pyarrow.parquet as pq

    from . import datasets
    from .pipeline import run

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    data_path = out / "people.parquet"
    if not quiet:
        click.echo(f"Generating {records:,} synthetic people (seed {seed})...")
    table = datasets.people(records, seed=seed)
    pq.write_table(table, data_path)
    settings_path = Path(__file__).parent / "data" / "people_settings.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(str(data_path), str(settings_path), progress=not quiet and sys.stderr.isatty())
    result.write(out / "output", overwrite=True)
    evaluation = result.evaluate("entity_id")
    if not quiet:
        summary = result.summary()
        click.echo(
            f"Deduplicated {summary['records']:,} records: {summary['candidate_pairs']:,} candidate pairs, "
            f"{summary['clusters']:,} clusters, in {sum(summary['seconds'].values()):.1f} s."
        )
        click.echo("Accuracy against the generator's truth (entity_id):")
    _print_evaluation(evaluation)
    from .report import write_report

    report_path = write_report(out / "output", truth="entity_id")
    if not quiet:
        click.echo(f"Data: {data_path}")
        click.echo(f"Outputs: {out / 'output'}/ (clusters.parquet, pairs.parquet, model.json, settings.json, summary.json)")
        click.echo(f"Evaluate again with: linkwise evaluate {out / 'output'} --truth entity_id")
        click.echo(f"Explain a pair with: linkwise explain {out / 'output'} ID_A ID_B (or --cluster CLUSTER_ID)")
        click.echo(f"Report: {report_path}")


def entry() -> None:
    """The ``linkwise`` program: :func:`main` in a process of its own, with its memory settings."""
    from .memory import own_process

    own_process()
    main()


if __name__ == "__main__":  # pragma: no cover
    entry()
