"""`voxguard dashboard`: the review dashboard (Streamlit), on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from voxguard.commands._options import add_db_url


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `dashboard` command."""
    parser = subparsers.add_parser("dashboard", help="run the review dashboard (Streamlit)")
    parser.add_argument("--port", type=int, default=8501, help="port to listen on")
    parser.add_argument("--address", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    add_db_url(parser)
    parser.add_argument("--secrets", default=None,
                        help="secrets.toml to use, e.g. with an [auth] section for OIDC sign-in")
    parser.add_argument("--no-upgrade", action="store_true", help="do not migrate the database first")
    parser.set_defaults(func=_run)


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The `streamlit run` command line for these options."""
    import dashboard

    app = Path(dashboard.__file__).resolve().parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app),
           "--server.address", args.address, "--server.port", str(args.port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none",
           # Users get "an error occurred", not a traceback with server paths; the log keeps the details.
           "--client.showErrorDetails", "none"]
    if args.secrets:
        cmd += ["--secrets.files", str(Path(args.secrets).resolve())]
    return cmd


def bootstrap_registry(url: str, model_path: Path) -> str | None:
    """List the bundled model in an empty registry, as production (it is what scoring uses then anyway).

    Why: the Models page was empty until a first retrain, although every score came
    from the bundled model. Its metrics cards and training history are copied so the
    page can show them. Returns the version registered, or None when nothing was done.
    """
    from feedback import registry
    from feedback.db import session_factory, session_scope
    from siamese.calibration import decision_rule
    from siamese.package import ModelPackage

    factory = session_factory(url)
    try:
        with factory() as session:
            if registry.list_versions(session) or not Path(model_path).is_file():
                return None
        package = ModelPackage.load(model_path)  # metadata only is needed; the file is small
        metrics = dict(package.metrics)
        # The review page draws the threshold and abstain band from this (no package load per clip).
        metrics["operating_point"] = decision_rule(package.calibration, package.operating_point)
        if package.training.get("history"):
            metrics["training_history"] = list(package.training["history"])
        with session_scope(factory) as session:
            if registry.list_versions(session):  # another process was quicker
                return None
            registry.register_candidate(session, package.version, str(model_path),
                                        threshold=package.operating_point.threshold, metrics=metrics,
                                        actor="bootstrap")
            registry.promote(session, package.version, actor="bootstrap")
        return package.version
    finally:
        factory.kw["bind"].dispose()


def _run(args: argparse.Namespace) -> int:
    from voxguard.settings import Settings

    settings = Settings.from_env(db_url=args.db_url)
    url = settings.database_url
    if not args.no_upgrade:
        from feedback.db import upgrade

        upgrade(url)  # a fresh install gets its tables (and the policy row) before the first page load
        registered = bootstrap_registry(url, settings.model_path)
        if registered:
            print(f"registered the bundled model {registered} as production (the registry was empty)", flush=True)
    env = {**os.environ, "VOXGUARD_DB_URL": url}
    print(f"voxguard dashboard on http://{args.address}:{args.port} (database {url.split('@')[-1]})", flush=True)
    proc = subprocess.Popen(streamlit_command(args), env=env)

    def _forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)  # stop Streamlit with us instead of leaving it orphaned

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    return proc.wait()
