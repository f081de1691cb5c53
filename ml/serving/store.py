"""MLflow registry -> BentoML model store -> bento.

`import_alias` resolves each model's alias (champion by default) in the MLflow registry and imports
that exact version with `bentoml.mlflow.import_model`, labelled with the registered name, version,
alias, run id and lake fingerprint; an identical version already in the store is reused. The result
is a *serving manifest* (`bentos/serving_manifest.json`: model -> BentoML tag + labels) that the
service loads at start, so serving needs no MLflow server. `build_bento` does that and then builds
the bento from `bentos/bentofile.yaml`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ml.serving.config import SERVED_MODELS, bentoml_home
from ml.settings import REPO_ROOT

log = logging.getLogger(__name__)

BENTO_DIR = REPO_ROOT / "bentos"
MANIFEST = "serving_manifest.json"


@dataclass
class ModelEntry:
    model: str
    registered_name: str
    version: str
    alias: str
    run_id: str
    fingerprint: str
    tag: str  # BentoML model tag name:version

    def labels(self) -> dict[str, str]:
        return {"registered_name": self.registered_name, "version": self.version, "alias": self.alias,
                "run_id": self.run_id, "fingerprint": self.fingerprint, "model": self.model}


def bento_model_name(model: str) -> str:
    return f"music-{model.replace('_', '-')}"


def lake_fingerprint(run) -> str:
    """One fingerprint of the lake snapshots a run trained on (its `lineage.*` tags), sha256[:16]."""
    lineage = sorted((k, v) for k, v in run.data.tags.items() if k.startswith("lineage."))
    if not lineage:
        return "unknown"
    return hashlib.sha256(json.dumps(lineage).encode()).hexdigest()[:16]


def _existing(name: str, registered_name: str, version: str, run_id: str):
    import bentoml

    try:
        models = bentoml.models.list(name)
    except Exception:  # noqa: BLE001 - an empty store raises NotFound
        return None
    for m in models:
        lab = m.info.labels
        if lab.get("registered_name") == registered_name and lab.get("version") == version and lab.get("run_id") == run_id:
            return m
    return None


def resolve_alias(model: str, alias: str, client=None):
    """The model version behind `alias`, or None when the alias is not set."""
    import mlflow

    from ml.models import get_spec
    from ml.registry.tracking import configure_mlflow, is_complete

    client = client or configure_mlflow()
    registered = get_spec(model).registered_name
    try:
        mv = client.get_model_version_by_alias(registered, alias)
    except mlflow.exceptions.MlflowException:
        return None
    if not is_complete(mv):  # a half-finished registration is never served
        log.warning("%s@%s is v%s, whose registration did not finish: skipped", registered, alias, mv.version)
        return None
    return mv


def import_alias(alias: str = "champion", models: tuple[str, ...] | list[str] | None = None,
                 progress=None) -> tuple[dict[str, ModelEntry], dict[str, str]]:
    """Import the versions behind `alias` into the BentoML model store.

    Returns (entries by model, skipped models with the reason). Idempotent: a version already in the
    store (same registered name, version and run) is reused, not copied again.
    """
    bentoml_home()
    import bentoml

    from ml.registry.tracking import configure_mlflow

    client = configure_mlflow()
    entries: dict[str, ModelEntry] = {}
    skipped: dict[str, str] = {}
    for model in models or SERVED_MODELS:
        mv = resolve_alias(model, alias, client)
        if mv is None:
            skipped[model] = f"no version has the alias {alias!r}"
            continue
        run = client.get_run(mv.run_id)
        entry = ModelEntry(model=model, registered_name=mv.name, version=str(mv.version), alias=alias,
                           run_id=mv.run_id, fingerprint=lake_fingerprint(run), tag="")
        name = bento_model_name(model)
        found = _existing(name, entry.registered_name, entry.version, entry.run_id)
        if found is None:
            found = bentoml.mlflow.import_model(name, f"models:/{mv.name}/{mv.version}", labels=entry.labels(),
                                                metadata={"source": f"models:/{mv.name}@{alias}"})
        entry.tag = str(found.tag)
        entries[model] = entry
        if progress:
            progress(entry)
    return entries, skipped


def manifest_path() -> Path:
    """`MUSICML_SERVING_MANIFEST`, else bentos/serving_manifest.json (inside the bento: `src/bentos/`)."""
    return Path(os.environ.get("MUSICML_SERVING_MANIFEST") or BENTO_DIR / MANIFEST)


def write_manifest(entries: dict[str, ModelEntry], alias: str, path: Path | None = None) -> Path:
    path = Path(path or manifest_path())
    doc = {"alias": alias, "models": {k: asdict(v) for k, v in entries.items()}}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
    os.replace(tmp, path)  # atomic: a starting server never reads half a manifest
    return path


def read_manifest(path: Path | None = None) -> dict:
    path = Path(path or manifest_path())
    if not path.exists():
        raise FileNotFoundError(f"no serving manifest at {path}: run `musicml bento build` first")
    return json.loads(path.read_text())


def build_bento(alias: str = "champion", models: list[str] | None = None, progress=None) -> dict:
    """Import the alias's versions, write the manifest, build the bento; returns a summary."""
    entries, skipped = import_alias(alias, models, progress)
    if not entries:
        raise LookupError(f"no model has a version with alias {alias!r}: train and gate first (`make demo`)")
    write_manifest(entries, alias, BENTO_DIR / MANIFEST)  # the bento carries its own manifest
    import bentoml
    import yaml

    opts = yaml.safe_load((BENTO_DIR / "bentofile.yaml").read_text())
    opts["labels"] = {**opts.get("labels", {}), "alias": alias}
    # the bento carries exactly the model versions of the manifest
    bento = bentoml.bentos.build(**opts, models=[e.tag for e in entries.values()], build_ctx=str(REPO_ROOT))
    return {"bento": str(bento.tag), "path": bento.path, "alias": alias, "bentoml_home": str(bentoml_home()),
            "models": {k: asdict(v) for k, v in entries.items()}, "skipped": skipped}
