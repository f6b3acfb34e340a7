"""POST /v1/copy, and copy jobs: POST /v1/copy/jobs, GET /v1/copy/jobs/{id}, GET /v1/copy/jobs/{id}/results."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, request, url_for

from service.api.http import json_response, read_body, request_id
from service.api.openapi import Endpoint
from service.bulk.records import csv_lines
from service.errors import InvalidRequest
from service.jobs.service import CopyJobs
from service.pipeline.copy import CopyPipeline
from service.respond.copy import CopyJobCreated, CopyJobStatus, CopyRecord, CopyResponse
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
        errors=(400, 401, 403, 404, 413, 415, 503),
        status=202,
        description="Runs on `shopguide worker` processes when REDIS_URL is set, else on threads of this process.",
    ),
    Endpoint(
        "GET",
        "/v1/copy/jobs/{job_id}",
        "Progress of a copy job",
        "copy",
        CopyJobStatus,
        errors=(401, 403, 404, 503),
        parameters=(_JOB_ID,),
    ),
    Endpoint(
        "GET",
        "/v1/copy/jobs/{job_id}/results",
        "The copy job's results so far, one per product: JSON lines, or CSV with ?format=csv",
        "copy",
        None,
        errors=(400, 401, 403, 404, 503),
        response_media="application/x-ndjson",
        parameters=(_JOB_ID, ("format", "query", "jsonl (default) or csv (one row per variant)")),
        description="Streams the results finished so far in the job's product order; the header "
        "X-Shopguide-Job-State tells whether more are coming.",
    ),
]


def _jsonl(lines: Iterator[bytes]) -> Iterator[bytes]:
    for line in lines:
        yield line + b"\n"


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
        spec = jobs.create(read_body(CopyJobRequest))
        status_url = url_for("copy.job_status", job_id=spec.job_id)
        created = CopyJobCreated(
            job_id=spec.job_id,
            state="queued",
            total=spec.total,
            status_url=status_url,
            results_url=url_for("copy.job_results", job_id=spec.job_id),
        )
        return json_response(created, status=202, headers={"Location": status_url})

    @bp.get("/v1/copy/jobs/<job_id>")
    def job_status(job_id: str) -> Response:
        return json_response(jobs.status(job_id))

    @bp.get("/v1/copy/jobs/<job_id>/results")
    def job_results(job_id: str) -> Response:
        fmt = request.args.get("format", "jsonl")
        if fmt not in ("jsonl", "csv"):
            raise InvalidRequest("format: use jsonl or csv", field="format")
        state = jobs.status(job_id).state
        _, lines = jobs.results(job_id)
        headers = {"X-Shopguide-Job-State": state}
        if fmt == "csv":
            records = (CopyRecord.model_validate_json(line) for line in lines)
            headers["Content-Disposition"] = f'attachment; filename="copy-{job_id}.csv"'
            return Response(csv_lines(records), mimetype="text/csv", headers=headers)
        return Response(_jsonl(lines), mimetype="application/x-ndjson", headers=headers)

    return bp
