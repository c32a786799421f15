"""The test report of a finalized study (the sealed test step), when there is one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parzen.service.storage import Storage, StudyRecord


def study_report(storage: Storage, study: StudyRecord) -> Mapping[str, Any] | None:
    """The latest complete finalization's report, with the audit of the test split; None
    until the study has been finalized (the page then leaves the section out)."""
    result = storage.study_report(study_name=study.name)
    if not result.finalizations:
        return None
    return {
        "report": result.latest.report if result.latest else None,
        "test_uses": result.test_uses,
        "finalizations": result.finalizations,
        "accesses": result.accesses,
    }
