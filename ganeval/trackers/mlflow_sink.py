"""MLflow: one MLflow run per ganeval run, in the experiment named by $MLFLOW_EXPERIMENT_NAME (default 'ganeval').

The run is made with the ganeval run's name and the tag `ganeval.run`, by which it is found again (a later score,
a resumed training, `ganeval log`). Scalars go in log_batch calls (one per record: a record's values land
together or not at all), parameters only where the run lacks them (MLflow refuses to change a parameter: a
resumed run's new `config/steps` keeps the first value), pictures as artifacts samples/step-XXXXXXX.png.

MLflow's own HTTP client retries a refused connection for minutes (7 tries, backoff factor 2); ganeval retries
each log twice itself, so unless you set them, MLFLOW_HTTP_REQUEST_MAX_RETRIES is 0 and
MLFLOW_HTTP_REQUEST_TIMEOUT 10 s in a process that logs to MLflow.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from .points import Picture, Scalar
from .sinks import Existing

EXPERIMENT = "ganeval"
RUN_TAG = "ganeval.run"
PICTURES_FOLDER = "samples"
BATCH_LIMIT = 1000  # MLflow's limit on metrics per log_batch


class MlflowRun:
    def __init__(self, client, run_id: str) -> None:
        self.client, self.run_id = client, run_id

    def write_scalars(self, scalars: list[Scalar]) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(scalar.name, scalar.value, int(scalar.wall_time * 1000), scalar.step) for scalar in scalars]
        for start in range(0, len(metrics), BATCH_LIMIT):
            self.client.log_batch(self.run_id, metrics=metrics[start:start + BATCH_LIMIT])

    def write_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        held = self.client.get_run(self.run_id).data.params
        new = [Param(name, value[:6000]) for name, value in params.items() if name not in held]
        for start in range(0, len(new), 100):  # MLflow's limit on params per log_batch
            self.client.log_batch(self.run_id, params=new[start:start + 100])

    def write_pictures(self, pictures: list[Picture]) -> None:
        for picture in pictures:
            self.client.log_artifact(self.run_id, str(picture.path), artifact_path=picture.tag)

    def existing(self, names: set[str]) -> Existing:
        data = self.client.get_run(self.run_id).data
        points = {(name, metric.step) for name in sorted(names & set(data.metrics))
                  for metric in self.client.get_metric_history(self.run_id, name)}
        pictures = set()
        for artifact in self.client.list_artifacts(self.run_id, PICTURES_FOLDER):
            file_name = artifact.path.rsplit("/", 1)[-1]
            if file_name.startswith("step-") and file_name.endswith(".png"):
                pictures.add((PICTURES_FOLDER, int(file_name[len("step-"):-len(".png")])))
        return Existing(points, set(data.params), pictures)

    def flush(self) -> None:
        pass  # every call above is sent at once

    def close(self) -> None:
        pass  # the run stays open to later scores (MLflow shows it RUNNING until one marks it finished)


def open_run(uri: str, run_name: str) -> MlflowRun:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        name, artifact_location=_local_artifacts(uri))
    found = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run_name}'", max_results=1)
    if found:
        return MlflowRun(client, found[0].info.run_id)
    run = client.create_run(experiment_id, run_name=run_name, tags={RUN_TAG: run_name})
    return MlflowRun(client, run.info.run_id)


def _local_artifacts(uri: str) -> str | None:
    """Beside a local database its artifacts (MLflow's default is ./mlruns of the current folder); a server or a
    file store decides for itself."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    database = Path(parsed.path[1:])  # sqlite:///relative.db, sqlite:////absolute.db (SQLAlchemy's forms)
    return (database.parent.absolute() / "mlartifacts").as_uri()
