"""`POST /studies/{name}/trials/import`: finished trials obtained elsewhere (an export of
another study, an Optuna study) appended to a study's history, as a warm start. Each
trial's parameters are checked against the study's space (422 naming the trial and the
path of each bad value); nothing is stored unless every trial is valid."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import ConfigDict, Field

from parzen.service.api.responses import LOOKUP
from parzen.service.deps import AdminDep, AdminStudyDep, StorageDep
from parzen.service.limits import MAX_LIST_ITEMS, JsonObject, Metrics
from parzen.service.schemas import Strict
from parzen.service.space import SpaceValidationError, parse_space
from parzen.service.space_values import vals_from_params
from parzen.service.storage import FinishedTrial

router = APIRouter(prefix="/studies", tags=["studies"])


class ImportedTrial(Strict):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=True)  # NaN: the trial failed

    params: JsonObject
    state: Literal["complete", "pruned", "failed"] = "complete"
    value: float | None = None
    metrics: Metrics = Field(default_factory=dict)


class TrialsImport(Strict):
    trials: Annotated[list[ImportedTrial], Field(max_length=MAX_LIST_ITEMS)]


class TrialsImported(Strict):
    numbers: list[int] = Field(description="The numbers the imported trials got, in order.")


@router.post("/{name}/trials/import", status_code=status.HTTP_201_CREATED, responses=LOOKUP)
def import_trials(
    body: TrialsImport, study: AdminStudyDep, storage: StorageDep, _: AdminDep
) -> TrialsImported:
    """Append finished trials (complete, pruned or failed) to the study's history; they
    count toward its max_trials and every sampler sees them from the next ask on."""
    space = parse_space(study.space)
    finished, problems = [], []
    for index, trial in enumerate(body.trials):
        try:
            vals = vals_from_params(space, trial.params)
        except SpaceValidationError as exc:
            problems += [
                {
                    "loc": ["body", "trials", index, "params"],
                    "path": f"$.trials[{index}].params" + issue.path[1:],
                    "msg": issue.message,
                }
                for issue in exc.issues
            ]
            continue
        value = None if trial.state == "failed" else trial.value
        params = space.params_from_vals(vals)
        finished.append(FinishedTrial(vals, params, trial.state, value, trial.metrics))
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
    return TrialsImported(numbers=storage.add_trials(study_name=study.name, trials=finished))
