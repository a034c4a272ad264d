"""Generate and load a synthetic ledger.

    python -m scripts.workload --townships 50 --store sqlite --path /tmp/x/ledger.sqlite      # direct, batched
    python -m scripts.workload --store postgres --dsn postgresql://postgres@127.0.0.1/bench_1  # the province-year
    python -m scripts.workload --nation-every 20 --store postgres --dsn ...                    # nation-year sample
    python -m scripts.workload --townships 20 --loader use-cases --path /tmp/y/ledger.sqlite
    python -m scripts.workload --townships 20 --loader http --url http://127.0.0.1:8000/api/v1 --token SECRET
    python -m scripts.workload --townships 20 --requests-out requests.jsonl                    # the request list

The same seed gives the same postings. PostgreSQL: the tables are created in the database the DSN names (schema
``public`` unless ``--schema``); never point it at a database you care about.
"""

from __future__ import annotations

import argparse
import json
import sys

from scripts.workload.plan import Workload, nation_sample, province_year


def store_env(args: argparse.Namespace) -> dict[str, str]:
    if args.store == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": args.path, "SQLITE_LOCK_TIMEOUT": "10"}
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(args.dsn)
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
            "POSTGRES_HOST": str(params.get("host", "127.0.0.1")), "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")), "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_SCHEMA": args.schema, "POSTGRES_LOCK_TIMEOUT": "30"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.workload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--province", default="130000", help="province code (default 河北省)")
    parser.add_argument("--townships", type=int, default=None, help="only the first N townships (scale knob)")
    parser.add_argument("--nation-every", type=int, default=None,
                        help="a nation-year sample instead: every N-th township of the country")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--loader", choices=("direct", "use-cases", "http"), default="direct")
    parser.add_argument("--batch", type=int, default=5000, help="direct loader: about this many events a save")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--path", default="instance/workload/ledger.sqlite")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--schema", default="public")
    parser.add_argument("--url", help="http loader: the API base, e.g. http://127.0.0.1:8000/api/v1")
    parser.add_argument("--token", help="http loader: an officer token (nationwide or covering the province)")
    parser.add_argument("--requests-out", help="write the request list (JSON lines) to this file and stop")
    args = parser.parse_args(argv)

    workload: Workload = (nation_sample(args.nation_every, seed=args.seed, year=args.year, townships=args.townships)
                          if args.nation_every else
                          province_year(args.province, townships=args.townships, seed=args.seed, year=args.year))
    print(f"{len(workload.townships)} townships, seed {args.seed}; injected by family: {workload.counts_by_family()}",
          file=sys.stderr)
    if args.requests_out:
        from scripts.workload.http import write_requests

        with open(args.requests_out, "w", encoding="utf-8") as out:
            print(json.dumps({"requests": write_requests(workload, out), "file": args.requests_out}))
        return

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} chunks", end="", file=sys.stderr, flush=True)

    if args.loader == "http":
        from scripts.workload.http import load_http

        if not args.url or not args.token:
            parser.error("--loader http needs --url and --token")
        summary = load_http(args.url, args.token, workload, progress=progress)
    else:
        import os

        from ledger.application import LedgerApplication
        from scripts.workload.loaders import load_direct, load_use_cases

        env = store_env(args)
        if args.store == "sqlite":
            os.makedirs(os.path.dirname(os.path.abspath(args.path)), exist_ok=True)
        app = LedgerApplication(env=env)
        try:
            summary = (load_direct(app, workload, batch_events=args.batch, progress=progress)
                       if args.loader == "direct" else load_use_cases(app, workload, progress=progress))
        finally:
            app.close()
    print(file=sys.stderr)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
