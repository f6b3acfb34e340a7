"""POST /v1/copy, and copy jobs: create, list, progress, results, cancel, resume.

A job is visible only to the API key that created it and to keys with the ops
scope (in open mode, to everyone); another key's job id answers 404.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, request, url_for

from service.api.http import json_response, read_body, request_id
from service.api.openapi import Endpoint
from service.api.principal import caller
from service.bulk.records import csv_lines
from service.errors import InvalidRequest
from service.jobs.service import CopyJobs, Viewer
from service.pipeline.copy import CopyPipeline
from service.respond.copy import CopyJobCreated, CopyJobList, CopyJobStatus, CopyRecord, CopyResponse
from service.validate.copy import CopyJobRequest, CopyRequest

_JOB_ID = ("job_id", "path", "The id POST /v1/copy/jobs returned.")

ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/copy",
        "Marketing copy for one product, checked for banned words, compliance, grounding and length",
        "copy",
        CopyResponse,
        CopyRequest,
        errors=(400, 401, 403, 404, 413, 415, 429, 503, 504),
        description="Writes `variants` variants for the channel, checks each one, regenerates failing variants "
        "once, then drops those with banned words, compliance hits or over-limit fields (and, with strict, "
        "unsupported claims); others are returned with their checks.",
    ),
    Endpoint(
        "POST",
        "/v1/copy/jobs",
        "Start a bulk copy job for catalog products (ids or all)",
        "copy",
        CopyJobCreated,
        CopyJobRequest,
        errors=(400, 401, 403, 404, 413, 415, 429, 503),
        status=202,
        description="Runs on `shopguide worker` processes when REDIS_URL is set, else on threads of this process. "
        "Each API key may have SHOPGUIDE_COPY_JOBS_PER_KEY unfinished jobs and SHOPGUIDE_COPY_JOB_PRODUCTS_PER_KEY "
        "products waiting in them; past either the answer is 429 too_many_jobs.",
    ),
    Endpoint(
        "GET",
        "/v1/copy/jobs",
        "The copy jobs this API key created (every job for ops keys), newest first, paged",
        "copy",
        CopyJobList,
        errors=(400, 401, 403, 503),
        parameters=(
            ("limit", "query", "Jobs per page, 1 to 100 (default 20).", {"type": "integer", "minimum": 1, "maximum": 100}),
            ("offset", "query", "Jobs to skip (default 0); next_offset gives the next page.",
             {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
        ),
    ),
    Endpoint(
        "DELETE",
        "/v1/copy/jobs/{job_id}",
        "Cancel a copy job: queued chunks are dropped, finished results kept",
        "copy",
        CopyJobStatus,
        errors=(401, 403, 404, 409, 503),
        parameters=(_JOB_ID,),
        description="Running chunks stop before their next product. 409 when the job has already completed.",
    ),
    Endpoint(
        "POST",
        "/v1/copy/jobs/{job_id}/resume",
        "Resume a cancelled copy job: the products without a result are written",
        "copy",
        CopyJobStatus,
        errors=(401, 403, 404, 409, 429, 503),
        status=202,
        parameters=(_JOB_ID,),
    ),
    Endpoint(
        "GET",
        "/v1/copy/jobs/{job_id}",
        "Progress of a copy job",
        "copy",
        CopyJobStatus,
        errors=(401, 403, 404, 503),
        parameters=(_JOB_ID,),
        description="With REDIS_URL set, `workers` counts the live `shopguide worker` processes; with none alive an "
        "unfinished job says waiting_for_worker and its message reads \"waiting for a worker\".",
    ),
    Endpoint(
        "GET",
        "/v1/copy/jobs/{job_id}/results",
        "The copy job's results so far, one per product: JSON lines, or CSV with ?format=csv",
        "copy",
        None,
        errors=(400, 401, 403, 404, 503),
        response_media="application/x-ndjson",
        parameters=(
            _JOB_ID,
            ("format", "query", "jsonl (default) or csv (one row per variant)", {"type": "string", "enum": ["jsonl", "csv"]}),
        ),
        description="Streams the results finished so far in the job's product order; the header "
        "X-Shopguide-Job-State tells whether more are coming.",
    ),
]


def _jsonl(lines: Iterator[bytes]) -> Iterator[bytes]:
    for line in lines:
        yield line + b"\n"


def viewer() -> Viewer:
    who = caller()
    return Viewer(who.name, who.ops)


def known_args(*names: str) -> None:
    """Refuse query parameters the route does not read (a typo would otherwise be silently ignored)."""
    for name in request.args:
        if name not in names:
            raise InvalidRequest(f"{name}: unknown query parameter (this route reads {', '.join(names) or 'none'})", field=name)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: give a whole number from {low} to {high}", field=name) from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name}: must be from {low} to {high}", field=name)
    return value


def created_response(spec_id: str, total: int) -> Response:
    status_url = url_for("copy.job_status", job_id=spec_id)
    created = CopyJobCreated(
        job_id=spec_id,
        state="queued",
        total=total,
        status_url=status_url,
        results_url=url_for("copy.job_results", job_id=spec_id),
    )
    return json_response(created, status=202, headers={"Location": status_url})


def copy_blueprint(pipeline: CopyPipeline, jobs: CopyJobs) -> Blueprint:
    bp = Blueprint("copy", __name__)

    @bp.post("/v1/copy")
    def copy() -> Response:
        body = read_body(CopyRequest)
        answer = pipeline.run(body, request_id())
        headers = {
            "X-Shopguide-Provider": answer.provider or "none",
            "X-Shopguide-Cache": "hit" if answer.cached else "miss",
            "X-Shopguide-Prompt-Version": answer.prompt_version,
        }
        return json_response(answer, headers=headers)

    @bp.post("/v1/copy/jobs")
    def create_job() -> Response:
        spec = jobs.create(read_body(CopyJobRequest), caller().name)
        return created_response(spec.job_id, spec.total)

    @bp.get("/v1/copy/jobs")
    def list_jobs() -> Response:
        known_args("limit", "offset")
        limit = _int_arg("limit", 20, 1, 100)
        offset = _int_arg("offset", 0, 0, 10_000_000)
        total, page = jobs.list(viewer(), limit=limit, offset=offset)
        next_offset = offset + len(page) if offset + len(page) < total else None
        return json_response(CopyJobList(jobs=page, total=total, limit=limit, offset=offset, next_offset=next_offset))

    @bp.get("/v1/copy/jobs/<job_id>")
    def job_status(job_id: str) -> Response:
        return json_response(jobs.status(job_id, viewer()))

    @bp.delete("/v1/copy/jobs/<job_id>")
    def cancel_job(job_id: str) -> Response:
        return json_response(jobs.cancel(job_id, viewer()))

    @bp.post("/v1/copy/jobs/<job_id>/resume")
    def resume_job(job_id: str) -> Response:
        return json_response(jobs.resume(job_id, viewer()), status=202)

    @bp.get("/v1/copy/jobs/<job_id>/results")
    def job_results(job_id: str) -> Response:
        fmt = request.args.get("format", "jsonl")
        if fmt not in ("jsonl", "csv"):
            raise InvalidRequest("format: use jsonl or csv", field="format")
        who = viewer()
        state = jobs.status(job_id, who).state
        _, lines = jobs.results(job_id, who)
        headers = {"X-Shopguide-Job-State": state}
        if fmt == "csv":
            records = (CopyRecord.model_validate_json(line) for line in lines)
            headers["Content-Disposition"] = f'attachment; filename="copy-{job_id}.csv"'
            return Response(csv_lines(records), mimetype="text/csv", headers=headers)
        return Response(_jsonl(lines), mimetype="application/x-ndjson", headers=headers)

    return bp
