"""Package the Chalice app for CloudFormation and lint everything that ships.

Run from the repository root:

    .venv/bin/python -m infra.package [--stage dev] [--out dist] [--strict]

1. deletes ``.chalice/deployments`` before and after (Chalice would otherwise reuse a stale zip);
2. writes the merge template from the app's own SQS handlers (Chalice cannot set
   ``ReportBatchItemFailures``; each ``@on_sqs_message`` handler ``timers_due`` becomes function
   ``TimersDue`` / event ``TimersDueSqsEventSource`` in the SAM output), so a product's new
   consumer needs no edit here;
   then runs ``chalice package --stage STAGE --merge-template OUT/chalice-merge.json OUT/chalice``
   (this pip-installs requirements.txt for Lambda, so it needs the package index -- once: the
   dependency zip Chalice builds is kept under ``.cache/package/`` and reused while
   requirements.txt is unchanged, with the app's current code put into it; ``--fresh`` skips it);
3. checks that every SQS event source of the generated SAM functions reports batch item failures;
4. copies ``infra/template.yaml`` to ``OUT/template.yaml``;
5. runs cfn-lint on ``OUT/chalice/sam.json`` and ``OUT/template.yaml``.

Exits 0 when all is well, 1 when packaging or a check fails or cfn-lint reports an error
(or, with ``--strict``, a warning).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
DEPLOYMENTS_CACHE = ROOT / ".chalice" / "deployments"
# Dependencies kept between runs: Chalice's zip (its file name is Chalice's hash of
# requirements.txt and the Python version) and the router provisioner's pip target.
PACKAGE_CACHE = ROOT / ".cache" / "package"
LINT_REGIONS = ("us-east-1", "af-south-1")
BATCH_FAILURES = "ReportBatchItemFailures"

# cfn-lint's exit code is a bit mask: 1 it could not run or parse, 2 errors, 4 warnings, 8 infos.
LINT_FATAL, LINT_ERROR, LINT_WARNING = 1, 2, 4


def tool(name: str) -> str:
    """The console script `name` of this interpreter's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install requirements-dev.txt")
    return found


# The console's live feed URL: the WebSocket API Chalice creates in the same stack (its
# ``WebsocketConnectEndpointURL`` output), so a deploy needs no second pass to paste it in. Only the
# API handler serves the console; the WebSocket handlers themselves must not reference their own
# API (a cycle).
LIVE_FEED_URL = {"Fn::Sub": "wss://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}


def merge_template() -> dict:
    """``FunctionResponseTypes: [ReportBatchItemFailures]`` for every SQS handler of the app, and the
    console's live feed URL from the stack's own WebSocket API."""
    from chalice.app import SQSEventConfig
    from chalice.utils import to_cfn_resource_name

    from app import app

    resources = {}
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig):
            function = to_cfn_resource_name(source.name)
            event = {"Properties": {"FunctionResponseTypes": [BATCH_FAILURES]}}
            resources[function] = {"Properties": {"Events": {f"{function}SqsEventSource": event}}}
    variables = {"MUDA_LIVE_WEBSOCKET_URL": LIVE_FEED_URL}
    resources["APIHandler"] = {"Properties": {"Environment": {"Variables": variables}}}
    return {"Resources": resources}


def _packager() -> Any:
    from chalice.deploy.packager import LambdaDeploymentPackager
    from chalice.utils import UI, OSUtils

    return LambdaDeploymentPackager(OSUtils(), None, UI())  # type: ignore[arg-type]


def _dependency_zip() -> Path:
    """The file Chalice looks for in ``.chalice/deployments``: named by Chalice's hash of
    requirements.txt (and vendor/) and the Lambda Python version it packages for."""
    version = "python{}.{}".format(*sys.version_info[:2])
    return Path(_packager().deployment_package_filename(str(ROOT), version))


def _restore_dependency_zip() -> None:
    """Put the cached dependencies where Chalice looks, with the app's current code added.

    Chalice reuses ``.chalice/deployments/<requirements hash>.zip`` as it is, app code
    included, which is why that folder is deleted around every run. The cache holds the
    dependencies only; the current ``app.py``, ``chalicelib/`` and Chalice runtime files are
    appended by Chalice's own file list. A changed requirements.txt changes the name Chalice
    asks for, so it builds (pip) afresh."""
    target = _dependency_zip()
    cached = PACKAGE_CACHE / "deployments" / target.name
    if not cached.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, target)
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as archive:
        _packager()._add_app_files(archive, str(ROOT))


def _keep_dependency_zip() -> None:
    """After a build, keep its dependencies (the zip without the app's files) for next time;
    only the current requirements' zip is kept."""
    built = _dependency_zip()
    keep = PACKAGE_CACHE / "deployments"
    if not built.is_file() or (keep / built.name).is_file():
        return
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    staging = keep / (built.name + ".tmp")
    app_files = ("app.py", "chalicelib/", "chalice/")
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as deps:
        for entry in source.infolist():
            if entry.filename != app_files[0] and not entry.filename.startswith(app_files[1:]):
                deps.writestr(entry, source.read(entry.filename))
    staging.rename(keep / built.name)


def chalice_package(stage: str, outdir: Path, cache: bool = True) -> Path:
    """Run `chalice package` with the merge template; return the path of sam.json."""
    shutil.rmtree(DEPLOYMENTS_CACHE, ignore_errors=True)
    if cache:
        _restore_dependency_zip()
    shutil.rmtree(outdir, ignore_errors=True)
    merge = outdir.parent / "chalice-merge.json"
    merge.parent.mkdir(parents=True, exist_ok=True)
    merge.write_text(json.dumps(merge_template(), indent=2))
    env = dict(os.environ)
    # Chalice wants a region for its botocore session; the template itself uses ${AWS::Region}.
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
    cmd = [
        tool("chalice"),
        "package",
        "--stage",
        stage,
        "--merge-template",
        str(merge),
        str(outdir),
    ]
    print("+", " ".join(cmd), flush=True)
    try:
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
        if cache:
            _keep_dependency_zip()
    finally:
        shutil.rmtree(DEPLOYMENTS_CACHE, ignore_errors=True)
    return outdir / "sam.json"


def sqs_event_problems(sam: dict) -> list[str]:
    """What keeps the packaged template from reporting batch item failures on every SQS event.

    Also catches a merge entry whose handler no longer exists: the deep merge then leaves a
    resource without a ``Type``.
    """
    problems = []
    for name, resource in sam.get("Resources", {}).items():
        if "Type" not in resource:
            problems.append(
                f"{name}: no such Chalice resource; the merge template names a handler "
                "that chalice did not package"
            )
            continue
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            if event.get("Type") != "SQS":
                continue
            response_types = event.get("Properties", {}).get("FunctionResponseTypes", [])
            if BATCH_FAILURES not in response_types:
                problems.append(
                    f"{name}.{event_name}: no FunctionResponseTypes [{BATCH_FAILURES}] "
                    "(chalice named it other than merge_template() expects)"
                )
    return problems


def sqs_events(sam: dict) -> list[str]:
    """`Function.Event` names of every SQS event source in a packaged template."""
    return [
        f"{name}.{event_name}"
        for name, resource in sam.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items()
        if event.get("Type") == "SQS"
    ]


def cfn_lint(paths: list[Path], regions: list[str]) -> int:
    """Run cfn-lint on `paths`; return its exit code."""
    cmd = [tool("cfn-lint"), "--regions", *regions, "--", *map(str, paths)]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="dev", help="Chalice stage to package (default: dev)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    parser.add_argument("--regions", nargs="+", default=list(LINT_REGIONS), help="cfn-lint regions")
    parser.add_argument("--strict", action="store_true", help="fail on cfn-lint warnings too")
    parser.add_argument(
        "--fresh", action="store_true", help="pip-install the dependencies again (ignore .cache/package)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()

    try:
        sam_path = chalice_package(args.stage, out / "chalice", cache=not args.fresh)
    except subprocess.CalledProcessError as exc:
        print(f"chalice package failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    sam = json.loads(sam_path.read_text())

    shutil.copyfile(TEMPLATE, out / "template.yaml")
    try:
        print("router provisioner:", package_router_provisioner(out, cache=not args.fresh))
    except subprocess.CalledProcessError as exc:
        print(f"router provisioner packaging failed (exit {exc.returncode})", file=sys.stderr)
        return 1

    problems = sqs_event_problems(sam)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print("SQS event sources:", ", ".join(sqs_events(sam)) or "none")

    lint = cfn_lint([sam_path, out / "template.yaml"], args.regions)
    failing = LINT_FATAL | LINT_ERROR | (LINT_WARNING if args.strict else 0)
    if lint & failing:
        print(f"cfn-lint found problems (exit {lint})", file=sys.stderr)
    if problems or lint & failing:
        return 1
    print(f"packaged: {sam_path} and {out / 'template.yaml'}")
    return 0


def package_router_provisioner(outdir: Path, cache: bool = True) -> Path:
    """Zip the VPC Lambda ``functions/router_provisioner`` with its own requirements (librouteros;
    boto3 is in the Lambda runtime) into ``OUT/router_provisioner.zip``: the package at the zip's
    root, so its handlers are ``router_provisioner.handler.handle`` / ``.health_check``. Upload it
    and pass its bucket/key as the template's RouterProvisionerCode* parameters (docs/routers.md).
    The pip-installed requirements are kept under ``.cache/package/`` by the hash of
    requirements.txt and the Python version (``cache=False`` installs afresh)."""
    source = ROOT / "functions" / "router_provisioner"
    requirements = source / "requirements.txt"
    build = outdir / "router_provisioner-build"
    shutil.rmtree(build, ignore_errors=True)
    key = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:16]
    deps = PACKAGE_CACHE / f"router_provisioner-{key}"
    if not cache or not deps.is_dir():
        staging = deps.with_name(deps.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--target",
                str(staging),
                "-r",
                str(requirements),
            ],
            check=True,
        )
        shutil.rmtree(deps, ignore_errors=True)
        staging.rename(deps)  # complete or absent: an interrupted install is never reused
    shutil.copytree(deps, build)
    shutil.copytree(source, build / "router_provisioner", ignore=shutil.ignore_patterns("__pycache__"))
    archive = shutil.make_archive(str(outdir / "router_provisioner"), "zip", build)
    shutil.rmtree(build, ignore_errors=True)
    return Path(archive)


if __name__ == "__main__":
    sys.exit(main())
