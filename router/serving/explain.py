"""The dry run behind `router route`: where a request would go, and why.

It starts the service without serving (backends asked for their models, the profile chosen),
routes one request, and reports the classification's scores, every candidate with why it was
kept or filtered, and the choice; as text for people or JSON for scripts.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from router.config import LoadedConfig
from router.errors import InvalidRequest
from router.profiles import ActiveProfile, TaskScore, load_profile
from router.routing.decide import Explanation, Hints
from router.serving.service import Service
from router.wire import decode_chat


class CandidateReport(msgspec.Struct):
    """One model weighed: kept or not and why; with the profile's score on the task, the
    quality the policy used, and how far to trust it (the mean grade measured, its 95%
    interval and sample count, and the prior that quality was shrunk toward)."""

    model: str
    kept: bool
    why: str
    score: float | None = None
    expected_seconds: float | None = None
    quality: float | None = None
    measured: float | None = None
    samples: int | None = None
    interval: list[float] | None = None
    prior: float | None = None
    prior_from: str | None = None
    confidence: str = ""  # the five above in words, for the text output


class RouteReport(msgspec.Struct):
    task: str
    model: str
    reason: str
    candidates: list[CandidateReport]
    fallbacks: list[str]
    confidence: float | None = None
    scores: dict[str, float] | None = None
    profile: str = ""

    def text(self) -> str:
        lines = [f"task:    {self.task}" + (f" ({self.confidence:.2f})" if self.confidence else "")]
        if self.scores:
            top = sorted(self.scores.items(), key=lambda kv: -kv[1])[:4]
            lines.append("scores:  " + ", ".join(f"{t} {p:.2f}" for t, p in top))
        lines += [f"model:   {self.model}", f"reason:  {self.reason}", f"{self.profile}", ""]
        for c in self.candidates:
            mark = "+" if c.kept else "-"
            score = f"{c.score:.3f}  " if c.score is not None else ""
            lines.append(f"  {mark} {c.model:40} {score}{c.why}")
            if c.measured is not None:
                lines.append(f"      {c.confidence}")
        return "\n".join(lines)


async def explain_request(
    loaded: LoadedConfig,
    profile_path: str | None,
    messages: list[dict[str, object]],
    model: str = "auto",
    task: str | None = None,
    policy: str | None = None,
) -> RouteReport:
    body = msgspec.json.encode({"model": model, "messages": messages})
    try:
        parsed = decode_chat(body)
    except msgspec.ValidationError as err:
        raise InvalidRequest(f"not a valid chat request: {err}") from None
    service = Service(loaded)
    await service.start()
    try:
        if profile_path:
            path = Path(profile_path).expanduser()
            service.use_profile(ActiveProfile(load_profile(path), str(path), "given"))
        hints = Hints(task, policy)
        explained = service.explain(parsed.model, hints, parsed)
        # a whole conversation: where its last turn goes (kept, switched, a tool loop), as
        # a router that never saw it would place it
        route, _ = service.sessions.follow(parsed.model, hints, parsed, explained)
        explained = msgspec.structs.replace(explained, route=route)
        return _report(explained, service.active)
    finally:
        await service.stop()


def _report(explained: Explanation, active: ActiveProfile) -> RouteReport:
    route, decision, found = explained.route, explained.decision, explained.classification
    rows: list[CandidateReport] = []
    if decision is not None:
        rows += [
            CandidateReport(r.model, True, r.why, r.score, r.expected_seconds)
            for r in decision.ranked
        ]
        rows += [CandidateReport(r.model, False, r.why) for r in decision.rejected]
    else:
        rows = [CandidateReport(m, True, route.reason) for m in route.candidates]
    scores = active.profile.tasks.get(route.task, []) if active.profile else []
    rows = [_with_score(row, scores) for row in rows]
    return RouteReport(
        task=route.task,
        model=route.candidates[0],
        reason=route.reason,
        candidates=rows,
        fallbacks=route.candidates[1:],
        confidence=found.confidence if found else None,
        scores=found.scores if found else None,
        profile=active.describe(),
    )


def _with_score(row: CandidateReport, scores: list[TaskScore]) -> CandidateReport:
    """The row with the profile's score of its model on the task, if the profile has one."""
    score = next((s for s in scores if s.model == row.model), None)
    if score is None:
        return row
    return msgspec.structs.replace(
        row,
        quality=score.quality,
        measured=score.measured,
        samples=score.samples,
        interval=score.interval or None,
        prior=score.prior,
        prior_from=score.prior_from or None,
        confidence=score.confidence(),
    )
