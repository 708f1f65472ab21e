"""`voxguard cluster up|down|status`: a local multi-process Ray head on 127.0.0.1."""

from __future__ import annotations

import argparse
import json

from voxguard.settings import Settings

# cluster.head.DEFAULT_DASHBOARD_PORT, written out to keep `voxguard --help` light (tests check they agree).
DEFAULT_DASHBOARD_PORT = 8265


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `cluster` command and its up/down/status actions."""
    parser = subparsers.add_parser("cluster", help="run a local Ray head (try the cluster path)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="start a Ray head with dashboard and Jobs API")
    up.add_argument("--num-cpus", type=int, default=None, help="CPUs to offer (default: all)")
    up.add_argument("--num-gpus", type=int, default=None, help="GPUs to offer (default: detected)")
    up.add_argument("--port", type=int, default=None, help="GCS port (default: a free one)")
    up.add_argument(
        "--dashboard-port",
        type=int,
        default=DEFAULT_DASHBOARD_PORT,
        help="dashboard / Jobs API port; 0 picks a free one (default: 8265)",
    )
    up.add_argument("--object-store-memory", type=int, default=None, help="bytes")
    up.set_defaults(func=_up)

    down = actions.add_parser("down", help="stop the local head started by `cluster up`")
    down.set_defaults(func=_down)

    status = actions.add_parser("status", help="show the local head's addresses and resources")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)


def _up(args: argparse.Namespace) -> int:
    from cluster import head

    try:
        state = head.start_head(
            Settings.from_env().data_dir,
            num_cpus=args.num_cpus,
            num_gpus=args.num_gpus,
            port=args.port,
            dashboard_port=args.dashboard_port,
            object_store_memory=args.object_store_memory,
        )
    except RuntimeError as exc:
        print(f"error: {exc}")
        return 1
    print("\n".join(describe_head(state)))
    return 0


def describe_head(state) -> list[str]:  # noqa: ANN001 - a cluster.head.HeadState (imported lazily)
    """What `cluster up` prints: the addresses, and the lines to use voxguard's and Ray's own CLI with them."""
    from cluster.auth import ray_cli_env_lines

    ray_cli = ray_cli_env_lines(state.dashboard_url)
    return [
        f"Ray head running (pid {state.pid})",
        f"  dashboard / Jobs API: {state.dashboard_url}",
        f"  Ray address:          {state.gcs_address}",
        f"  submit a job:         voxguard submit score --address {state.dashboard_url} -- ...",
        f"  use from ray.init:    export VOXGUARD_RAY_ADDRESS={state.gcs_address}",
        f"  Ray's own CLI:        {ray_cli[0]}",
        *(f"                        {line}" for line in ray_cli[1:]),
    ]


def _down(args: argparse.Namespace) -> int:
    from cluster import head

    stopped = head.stop_head(Settings.from_env().data_dir)
    print("local head stopped" if stopped else "no local head running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from cluster import head

    status = head.head_status(Settings.from_env().data_dir)
    if args.json:
        print(json.dumps(status, indent=2, default=str))
    elif not status["running"]:
        print("no local head running")
    else:
        print(f"running: pid {status['pid']}, dashboard {status['dashboard_url']}, "
              f"address {status['gcs_address']}")
        for name, amount in sorted(dict(status.get("resources", {})).items()):  # type: ignore[arg-type]
            shown = f"{amount / 1024**3:.1f} GiB" if "memory" in name else f"{amount:g}"
            print(f"  {name}: {shown}")
    return 0 if status["running"] else 1
