"""The command line: a thin shell over the library.

Exit codes: 0 success, 1 an error (one line on standard error; a traceback
only with ``--debug``), 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

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
            _fail(str(exc))
        except KeyboardInterrupt:
            click.echo("linkwise: interrupted; no output was written", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except MemoryError:
            _fail("out of memory; lower --memory-limit, tighten the blocking rules or use a bigger machine")
        except Exception as exc:  # a bug: still one line unless --debug
            if _DEBUG["on"]:
                traceback.print_exc()
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            _fail(f"unexpected {type(exc).__name__}: {first_line} (run with --debug for the traceback)")

    return wrapper


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    _DEBUG["on"] = _DEBUG["on"] or value
    return value


def common_run_options(func):
    """Options shared by dedupe and link, defined once."""
    options = [
        click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False), help="Folder for the outputs (with --engine spark also a URI such as hdfs://... or s3a://...)."),
        click.option("--settings", "settings", type=click.Path(dir_okay=False), help="Settings file (JSON or YAML)."),
        click.option("--model", "model", type=click.Path(), help="A model.json (or run folder) to score with, without training."),
        click.option("--threshold", type=click.FloatRange(0, 1), help="Match threshold: probability at which a pair counts as a match."),
        click.option("--cluster-threshold", type=click.FloatRange(0, 1), help="Probability at which a pair links two records into one cluster."),
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

    quiet = opts["quiet"]
    engine_options = _engine_options(opts)
    if not opts["settings"] and not opts["model"]:
        raise LinkwiseError(
            "no settings given: pass --settings FILE (see examples/people_settings.json) or --model FILE"
        )
    # A URI (hdfs://, s3a://...) is for the Spark engine's writer; pathlib would mangle it.
    output = opts["output"] if "://" in opts["output"] else Path(opts["output"])
    from .outputs import existing_outputs

    if isinstance(output, Path) and output.is_dir() and existing_outputs(output) and not opts["overwrite"]:
        # Fail before the work, not after it.
        from .errors import OutputError

        raise OutputError(
            f"output folder '{output}' already holds results ({', '.join(existing_outputs(output))}); "
            "choose another folder or pass --overwrite"
        )
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
        )
    result.write(output, overwrite=opts["overwrite"], csv=opts["csv"])
    if not quiet:
        for w in caught:
            if issubclass(w.category, UserWarning):
                click.echo(f"linkwise: warning: {w.message}", err=True)
        summary = result.summary()
        if result.records.generated_ids:
            click.echo(f"No id column given: records were numbered 1..n in column '{result.records.id_column}'.")
        click.echo(
            f"{summary['records']:,} records, {summary['candidate_pairs']:,} candidate pairs, "
            f"{summary['pairs_at_or_above_match_threshold']:,} matches at p >= {summary['match_threshold']}, "
            f"{summary['clusters']:,} clusters at p >= {summary['cluster_threshold']}."
        )
        click.echo(f"Outputs written to {output}/ (clusters.parquet, pairs.parquet, model.json, settings.json, summary.json)")


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


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("--truth", required=True, help="Column of the input that holds the true entity id.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Match threshold for scored pairs (default: the run's).")
@click.option("--input", "inputs", multiple=True, help="Input file(s), if they moved since the run.")
@click.option("--encoding", help="Encoding of CSV inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True, help="Show tracebacks.")
@handle_errors
def evaluate(output: str, truth: str, threshold: float | None, inputs: tuple[str, ...], encoding: str | None, as_json: bool) -> None:
    """Precision, recall and F1 of the run in OUTPUT against a truth column."""
    from .evaluate_run import evaluate_output

    result = evaluate_output(output, truth, inputs=list(inputs) or None, threshold=threshold, encoding=encoding)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_evaluation(result)


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
    if not quiet:
        click.echo(f"Data: {data_path}")
        click.echo(f"Outputs: {out / 'output'}/ (clusters.parquet, pairs.parquet, model.json, settings.json, summary.json)")
        click.echo(f"Evaluate again with: linkwise evaluate {out / 'output'} --truth entity_id")


if __name__ == "__main__":  # pragma: no cover
    main()
