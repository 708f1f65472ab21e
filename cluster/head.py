"""A local multi-process Ray head (`voxguard cluster up|down|status`).

It is a real cluster (GCS, raylet, dashboard with the Jobs API) bound to
127.0.0.1, so the submit/jobs path can be tried without a cloud. We start
`ray start --head --block` ourselves and remember its pid under
`data_dir/cluster/state.json` (the command passes its settings' data dir); `down`
signals that process only. We never call `ray stop`, which would kill every Ray
on the machine, including other users'.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_DASHBOARD_PORT = 8265
STATE_FILE = "state.json"


@dataclass(frozen=True)
class HeadState:
    """What `up` started; persisted so `down`/`status`/`submit` find it later."""

    pid: int
    gcs_address: str  # for ray.init / VOXGUARD_RAY_ADDRESS
    dashboard_url: str  # for the Jobs API (`voxguard submit --address`)
    temp_dir: str  # Ray session files and logs of this head only
    log_file: str  # stdout/stderr of `ray start`
    num_cpus: int | None
    num_gpus: int | None
    started_at: float


def cluster_dir(data_dir: str | Path) -> Path:
    """Folder holding the local head's state file and log, under the command's data dir."""
    return Path(data_dir) / "cluster"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child not yet reaped) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def _ray_executable() -> str:
    # The `ray` next to this interpreter, so the head runs our venv's Ray and Python.
    candidate = Path(sys.executable).with_name("ray")
    return str(candidate) if candidate.exists() else (shutil.which("ray") or "ray")


def read_state(data_dir: str | Path) -> HeadState | None:
    """The local head recorded under `data_dir`, or None when there is none."""
    path = cluster_dir(data_dir) / STATE_FILE
    if not path.exists():
        return None
    return HeadState(**json.loads(path.read_text()))


def dashboard_ready(url: str, timeout_s: float = 2.0) -> bool:
    """Whether the dashboard's HTTP API answers (the Jobs API lives there)."""
    try:
        with _get(f"{url}/api/version", timeout_s) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _get(url: str, timeout_s: float):  # type: ignore[no-untyped-def]
    # The dashboard of a token-auth cluster answers 401 without the bearer token.
    from cluster.auth import auth_headers

    return urllib.request.urlopen(urllib.request.Request(url, headers=auth_headers()), timeout=timeout_s)


def start_head(
    data_dir: str | Path,
    *,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    port: int | None = None,
    dashboard_port: int | None = DEFAULT_DASHBOARD_PORT,
    object_store_memory: int | None = None,
    timeout_s: float = 60.0,
) -> HeadState:
    """Start a local Ray head on 127.0.0.1 and wait until its Jobs API answers.

    `port` (GCS) None picks a free port; `dashboard_port` None or 0 picks a free
    one too (tests do this so parallel heads never clash). The head is recorded under
    `data_dir` (`cluster_dir`). Raises RuntimeError if a head recorded there is still
    running or the start fails.
    """
    from cluster.auth import ensure_token, head_auth_env
    from cluster.local import object_store_bytes, shm_free, total_ram

    folder = cluster_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    existing = read_state(data_dir)
    if existing is not None:
        if _pid_alive(existing.pid):
            raise RuntimeError(
                f"a local head is already running (pid {existing.pid}, {existing.dashboard_url})"
            )
        _forget(data_dir, existing)

    dashboard_port = dashboard_port or free_port()
    if _port_in_use(dashboard_port):
        raise RuntimeError(f"dashboard port {dashboard_port} is taken; pass --dashboard-port")
    env = dict(os.environ)
    # Job entrypoints say `python ...`: make that this interpreter, not the system one.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # Shut down at once on SIGTERM (no node-drain wait meant for Serve upgrades).
    env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "0"
    env.pop("RAY_ADDRESS", None)
    # GCS and raylet listen on every interface whatever --node-ip-address says, so
    # keep Ray's token auth on (see cluster.auth).
    env.update(head_auth_env())
    try:
        ensure_token(_ray_executable(), env)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"could not create a Ray auth token: {exc}") from exc

    port = port or free_port()
    # Short path: Ray's unix sockets live below it and must stay under ~107 chars.
    temp_dir = tempfile.mkdtemp(prefix="vg-ray-")
    log_file = folder / "head.log"
    cmd = [
        _ray_executable(),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard_port}",
        # Ray's fixed defaults (10001, 52365) would clash between parallel heads.
        f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
        f"--object-store-memory={object_store_memory or object_store_bytes(total_ram(), shm_free())}",
    ]
    if num_cpus is not None:
        cmd.append(f"--num-cpus={num_cpus}")
    if num_gpus is not None:
        cmd.append(f"--num-gpus={num_gpus}")

    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            # Own session: the head survives the CLI exiting and Ctrl-C in the shell.
            start_new_session=True,
        )
    state = HeadState(
        pid=proc.pid,
        gcs_address=f"127.0.0.1:{port}",
        dashboard_url=f"http://127.0.0.1:{dashboard_port}",
        temp_dir=temp_dir,
        log_file=str(log_file),
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        started_at=time.time(),
    )
    (folder / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _forget(data_dir, state)
            raise RuntimeError(
                f"ray start exited with {proc.returncode}; {log_file}:\n{_tail(log_file)}"
            )
        if dashboard_ready(state.dashboard_url):
            return state
        time.sleep(0.5)
    stop_head(data_dir)
    raise RuntimeError(
        f"local head did not answer within {timeout_s:.0f}s; {log_file}:\n{_tail(log_file)}"
    )


def stop_head(data_dir: str | Path, timeout_s: float = 30.0) -> bool:
    """Stop the local head recorded under `data_dir`; False when none was running."""
    state = read_state(data_dir)
    if state is None:
        return False
    was_alive = _pid_alive(state.pid)
    if was_alive:
        # SIGTERM makes `ray start --block` kill its GCS, raylet, dashboard and
        # workers; its process group is the fallback if any of them linger.
        _signal(state.pid, signal.SIGTERM, group=False)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _pid_alive(state.pid):
            _reap(state.pid)
            time.sleep(0.2)
    _signal(state.pid, signal.SIGKILL, group=True)
    _reap(state.pid)
    # Return once the group is gone (ports free, shm released). Exited orphans
    # linger as zombies until init reaps them; don't wait on those for long.
    deadline = time.monotonic() + 5
    while _group_exists(state.pid) and time.monotonic() < deadline:
        _reap(state.pid)
        time.sleep(0.2)
    _forget(data_dir, state)
    return was_alive


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def head_status(data_dir: str | Path) -> dict[str, object]:
    """State of the local head recorded under `data_dir`: addresses, liveness, and cluster totals."""
    state = read_state(data_dir)
    if state is None:
        return {"running": False}
    alive = _pid_alive(state.pid)
    status: dict[str, object] = {**asdict(state), "running": alive}
    status["dashboard_ready"] = alive and dashboard_ready(state.dashboard_url)
    if status["dashboard_ready"]:
        status["resources"] = cluster_totals(state.dashboard_url)
    return status


def cluster_totals(dashboard_url: str) -> dict[str, float]:
    """Total CPU/GPU/memory of a cluster, from its dashboard's cluster status.

    Uses the HTTP API so `status` needs no Ray driver connection (which would
    start worker processes on the head just to look at it). Empty until the
    autoscaler monitor's first report, a few seconds after start.
    """
    with _get(f"{dashboard_url}/api/cluster_status", 5) as resp:
        payload = json.loads(resp.read())
    usage = (
        ((payload.get("data") or {}).get("clusterStatus") or {}).get("loadMetricsReport") or {}
    ).get("usage") or {}
    names = {"CPU": "CPU", "GPU": "GPU", "memory": "memory", "objectStoreMemory": "object_store_memory"}
    # usage maps a resource to [used, total].
    return {names[k]: float(v[1]) for k, v in usage.items() if k in names}


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        if group:
            # The head was started in its own session, so its pid is also the id
            # of the process group holding every Ray process it spawned.
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    # Only our own child can be reaped; from another CLI process this is a no-op.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _forget(data_dir: str | Path, state: HeadState) -> None:
    (cluster_dir(data_dir) / STATE_FILE).unlink(missing_ok=True)
    shutil.rmtree(state.temp_dir, ignore_errors=True)
