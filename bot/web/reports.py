"""Monthly evaluation files, linked from the managers' monthly message: login required, scoped like exports.

`/dashboard/reports/monthly-YYYY-MM.xlsx` answers once the month's report was issued (the scheduled
job wrote the company-wide copy under `schedules.reports_dir`); the file each viewer gets is built
for their groups only (a manager's reps and numbers in the groups they manage, an admin's every
group), so one link in one message serves every recipient without showing anyone another team.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from bot.web.deps import SessionDep, StateDep, ViewerDep
from handlers.monthly import evaluate, month_of_file, xlsx_bytes

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/reports/{name}", include_in_schema=False)
def monthly_report(name: str, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    month = month_of_file(name)
    if month is None:
        raise HTTPException(404, "no such report: expected monthly-YYYY-MM.xlsx")
    if not (Path(state.config.schedules.reports_dir) / name).is_file():
        raise HTTPException(404, f"the {month:%Y-%m} evaluation has not been issued")
    if viewer.scope is not None and not viewer.scope:
        raise HTTPException(403, "you manage no group")
    rows = evaluate(session, state.config, month=month, scope=viewer.scope)
    return Response(
        xlsx_bytes(rows, month=month, config=state.config),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
