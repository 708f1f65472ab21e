"""Checks for the shipped cluster configs, usable on edited copies too.

`launcher_errors` validates a Ray cluster launcher YAML against the JSON schema
inside the installed Ray (the one `ray up` itself applies). `kuberay_errors`
checks a KubeRay RayCluster/RayJob for the fields the operator needs and the
mistakes that only show up at deploy time (non-string rayStartParams, GPU
groups without an `nvidia.com/gpu` limit, a Ray version unlike ours).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
KUBERAY_API = "ray.io/v1"


def ray_schema() -> dict[str, Any]:
    """The cluster-config JSON schema shipped inside the installed `ray` package."""
    text = resources.files("ray.autoscaler").joinpath("ray-schema.json").read_text()
    return json.loads(text)


def launcher_errors(config: Mapping[str, Any]) -> list[str]:
    """Schema violations of a cluster launcher config (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft7Validator(ray_schema())
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.path))
    problems = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors]
    node_types = config.get("available_node_types", {})
    if config.get("head_node_type") not in node_types:
        problems.append("head_node_type: not one of available_node_types")
    return problems


def load_yaml(path: Path) -> dict[str, Any]:
    """One YAML document as a dict."""
    return yaml.safe_load(Path(path).read_text())


def _containers(pod_template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(((pod_template or {}).get("spec") or {}).get("containers") or [])


def _cluster_spec_errors(spec: Mapping[str, Any], where: str, ray_version: str | None) -> list[str]:
    problems: list[str] = []
    if ray_version and spec.get("rayVersion") != ray_version:
        problems.append(f"{where}.rayVersion: {spec.get('rayVersion')!r} != installed {ray_version}")
    groups = [("headGroupSpec", spec.get("headGroupSpec"))]
    workers = spec.get("workerGroupSpecs")
    if not isinstance(workers, list) or not workers:
        problems.append(f"{where}.workerGroupSpecs: missing or empty")
        workers = []
    groups += [(f"workerGroupSpecs[{i}]", g) for i, g in enumerate(workers)]
    for name, group in groups:
        path = f"{where}.{name}"
        if not isinstance(group, Mapping):
            problems.append(f"{path}: missing")
            continue
        params = group.get("rayStartParams")
        if not isinstance(params, Mapping):
            problems.append(f"{path}.rayStartParams: missing")
        else:
            # KubeRay's CRD types this as map[string]string; numbers are rejected.
            problems += [
                f"{path}.rayStartParams.{k}: must be a string"
                for k, v in params.items()
                if not isinstance(v, str)
            ]
        containers = _containers(group.get("template", {}))
        if not containers:
            problems.append(f"{path}.template.spec.containers: missing")
        for c in containers:
            if not c.get("image"):
                problems.append(f"{path}: container {c.get('name')!r} has no image")
        if name != "headGroupSpec":
            if not group.get("groupName"):
                problems.append(f"{path}.groupName: missing")
            lo, n, hi = group.get("minReplicas", 0), group.get("replicas", 0), group.get("maxReplicas", 0)
            if not (0 <= lo <= n <= hi):
                problems.append(f"{path}: needs minReplicas <= replicas <= maxReplicas")
    return problems


def gpu_limits(spec: Mapping[str, Any]) -> dict[str, int]:
    """`nvidia.com/gpu` limit per worker group of a RayCluster spec (0 when none)."""
    out: dict[str, int] = {}
    for group in spec.get("workerGroupSpecs") or []:
        total = 0
        for c in _containers(group.get("template", {})):
            limits = (c.get("resources") or {}).get("limits") or {}
            total += int(limits.get("nvidia.com/gpu", 0))
        out[group.get("groupName", "?")] = total
    return out


def kuberay_errors(doc: Mapping[str, Any], ray_version: str | None = None) -> list[str]:
    """Missing or wrong fields in a KubeRay RayCluster or RayJob manifest."""
    problems: list[str] = []
    if doc.get("apiVersion") != KUBERAY_API:
        problems.append(f"apiVersion: expected {KUBERAY_API}, got {doc.get('apiVersion')!r}")
    if not (doc.get("metadata") or {}).get("name"):
        problems.append("metadata.name: missing")
    spec = doc.get("spec") or {}
    kind = doc.get("kind")
    if kind == "RayCluster":
        problems += _cluster_spec_errors(spec, "spec", ray_version)
    elif kind == "RayJob":
        if not str(spec.get("entrypoint", "")).strip():
            problems.append("spec.entrypoint: missing")
        runtime_env = spec.get("runtimeEnvYAML")
        if runtime_env is not None:
            # A string holding YAML, not a nested mapping: KubeRay passes it through.
            if not isinstance(runtime_env, str) or not isinstance(yaml.safe_load(runtime_env), dict):
                problems.append("spec.runtimeEnvYAML: must be a string holding a YAML mapping")
        if spec.get("shutdownAfterJobFinishes") and not isinstance(
            spec.get("ttlSecondsAfterFinished"), int
        ):
            problems.append("spec.ttlSecondsAfterFinished: needed with shutdownAfterJobFinishes")
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None and (not isinstance(deadline, int) or deadline <= 0):
            problems.append("spec.activeDeadlineSeconds: must be a positive integer")
        if "rayClusterSpec" not in spec and "clusterSelector" not in spec:
            problems.append("spec.rayClusterSpec: missing (or clusterSelector)")
        if "rayClusterSpec" in spec:
            problems += _cluster_spec_errors(spec["rayClusterSpec"], "spec.rayClusterSpec", ray_version)
    else:
        problems.append(f"kind: expected RayCluster or RayJob, got {kind!r}")
    return problems
