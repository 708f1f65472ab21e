"""The shipped launcher config and KubeRay manifests, checked as `ray up`/KubeRay would."""

from __future__ import annotations

import copy
import shlex

import pytest
import ray
import yaml

from cluster.manifests import CONFIG_DIR, gpu_limits, kuberay_errors, launcher_errors, load_yaml
from voxguard.cli import build_parser

AWS = CONFIG_DIR / "aws-gpu.yaml"
KUBERAY = CONFIG_DIR / "kuberay"


def test_aws_launcher_config_matches_rays_schema() -> None:
    assert launcher_errors(load_yaml(AWS)) == []


def test_schema_check_catches_mistakes() -> None:
    config = load_yaml(AWS)
    broken = copy.deepcopy(config)
    broken["available_node_types"]["ray.worker.gpu"]["resources"]["GPU"] = 0.5  # must be int
    del broken["cluster_name"]
    broken["head_node_type"] = "nope"
    problems = launcher_errors(broken)
    assert any("cluster_name" in p for p in problems)
    assert any("GPU" in p or "0.5" in p for p in problems)
    assert any(p.startswith("head_node_type") for p in problems)


def test_aws_config_has_cpu_head_autoscaling_gpus_and_roles() -> None:
    config = load_yaml(AWS)
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    gpu_groups = [t for t in types.values() if t["resources"].get("GPU", 0) > 0]
    assert gpu_groups and all(t["min_workers"] == 0 < t["max_workers"] for t in gpu_groups)
    assert all(t["node_config"]["InstanceType"].startswith(("g5.", "g6.")) for t in gpu_groups)
    # S3 through instance roles, never keys.
    assert all("IamInstanceProfile" in t["node_config"] for t in types.values())
    assert "AWS_SECRET_ACCESS_KEY" not in AWS.read_text()
    assert any("pip install" in c and "voxguard" in c for c in config["setup_commands"])
    # Images run the Ray that the client has.
    assert ray.__version__ in config["docker"]["image"]


@pytest.mark.parametrize("name", ["raycluster.yaml", "rayjob-score.yaml", "rayjob-train.yaml"])
def test_kuberay_manifests_have_required_fields(name: str) -> None:
    doc = load_yaml(KUBERAY / name)
    assert kuberay_errors(doc, ray_version=ray.__version__) == []
    spec = doc["spec"] if doc["kind"] == "RayCluster" else doc["spec"]["rayClusterSpec"]
    assert any(n >= 1 for n in gpu_limits(spec).values()), "no GPU worker group"
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"


def test_rayjobs_run_voxguard_and_clean_up() -> None:
    score = load_yaml(KUBERAY / "rayjob-score.yaml")["spec"]
    train = load_yaml(KUBERAY / "rayjob-train.yaml")["spec"]
    # The examples must parse with the real CLI, so they follow its flags.
    parser = build_parser()
    args = _voxguard_args(score["entrypoint"], parser)
    assert args.command == "score" and args.gpus_per_actor == 0.25 and args.num_actors == 0
    args = _voxguard_args(train["entrypoint"], parser)
    assert args.command == "train" and args.use_gpu and args.num_workers == 4
    assert args.gpus_per_worker == 1
    # DDP needs every rank scheduled: the train group is fixed at --num-workers GPUs.
    group = train["rayClusterSpec"]["workerGroupSpecs"][0]
    assert group["minReplicas"] == group["replicas"] == group["maxReplicas"] == 4
    for spec in (score, train):
        assert spec["shutdownAfterJobFinishes"] is True
        assert spec["ttlSecondsAfterFinished"] > 0 and spec["activeDeadlineSeconds"] > 0
        assert isinstance(yaml.safe_load(spec["runtimeEnvYAML"])["env_vars"], dict)


def test_kuberay_check_catches_mistakes() -> None:
    doc = load_yaml(KUBERAY / "rayjob-score.yaml")
    doc["apiVersion"] = "ray.io/v1alpha1"
    doc["spec"]["entrypoint"] = ""
    doc["spec"]["runtimeEnvYAML"] = {"env_vars": {}}
    doc["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0
    doc["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["minReplicas"] = 9
    problems = kuberay_errors(doc, ray_version="0.0.1")
    for fragment in ("apiVersion", "entrypoint", "runtimeEnvYAML", "num-cpus: must be a string",
                     "minReplicas", "rayVersion"):
        assert any(fragment in p for p in problems), fragment
    no_cluster = load_yaml(KUBERAY / "rayjob-train.yaml")
    del no_cluster["spec"]["rayClusterSpec"]
    assert any("rayClusterSpec" in p for p in kuberay_errors(no_cluster))


def test_image_recipe_uses_the_installed_ray() -> None:
    dockerfile = (CONFIG_DIR / "Dockerfile").read_text()
    assert f"FROM rayproject/ray:{ray.__version__}-py311-gpu" in dockerfile
    assert f'"ray[data,train,default]=={ray.__version__}"' in dockerfile


def _voxguard_args(entrypoint: str, parser):  # type: ignore[no-untyped-def]
    argv = shlex.split(entrypoint)
    assert argv[:3] == ["python", "-m", "voxguard"], entrypoint
    return parser.parse_args(argv[3:])
