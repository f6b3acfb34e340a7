"""The local model: load time (first GGUF conversion, cached reload) and generation speed.

Run from the repository root: ``python -m bench.local_model [--requests 8] [--skip-xgrammar]``.
``--steps`` (issue 17) measures each CPU speed step end to end through ``shopguide local serve``,
one server per step, requests interleaved round-robin; ``--concurrency 1,8,32`` sends that many
requests at once to one server (``bench/gpu_check.sh`` runs it with ``--device cuda``).
``SHOPGUIDE_LOCAL_DEVICE=cuda`` (or ``--device cuda``) runs it on a GPU. For each mode
(unconstrained, llguidance, xgrammar) it sends the recommendation cases of
tests/support/recommend_cases.py one at a time (batch 1) and all at once (batch 8),
and reports generated tokens per second (all rows together, prefill included), p50
request latency, and how many answers were valid (JSON matching the per-request
schema, ids from that request's candidates). Prints a markdown table and writes
bench/results/local_model.json. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import jsonschema  # noqa: E402
import torch  # noqa: E402

from service.errors import ProviderError  # noqa: E402
from service.provider.local import LocalProvider  # noqa: E402
from service.provider.local.loader import load_model  # noqa: E402
from service.provider.local.model_files import DEFAULT_CACHE_DIR, resolve_model_files  # noqa: E402
from tests.support.recommend_cases import BuiltCase, build_cases  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "local_model.json"


def problem(text: str, built: BuiltCase) -> str | None:
    """Why ``text`` is not a valid answer for ``built``, or None."""
    try:
        data = json.loads(text)
        jsonschema.validate(data, built.grammar_schema)
    except ValueError as exc:
        return f"not JSON: {exc}"
    except jsonschema.ValidationError as exc:
        return f"schema: {exc.message[:200]}"
    if not {item["id"] for item in data["items"]} <= set(built.candidate_ids):
        return "id not among the candidates"
    return None


def measure_load(device: str, dtype: str, fresh_conversion: bool) -> dict[str, Any]:
    """Seconds to convert the default GGUF into an empty cache, and to load the converted directory."""
    result: dict[str, Any] = {}
    if fresh_conversion:
        scratch = Path(tempfile.mkdtemp(prefix="shopguide-bench-"))
        try:
            started = time.monotonic()
            resolve_model_files(None, scratch)
            result["first_conversion_s"] = round(time.monotonic() - started, 2)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    started = time.monotonic()
    files = resolve_model_files(None, DEFAULT_CACHE_DIR)
    result["hash_and_locate_s"] = round(time.monotonic() - started, 2)
    loaded = load_model(files, device=device, dtype=dtype)  # type: ignore[arg-type]
    result["cached_reload_s"] = round(loaded.load_s, 2)
    result["device"], result["dtype"] = str(loaded.device), str(loaded.dtype).removeprefix("torch.")
    del loaded
    return result


def run_mode(
    grammar: str | None, cases: list[BuiltCase], batch: int, *, device: str, dtype: str, max_new_tokens: int
) -> dict[str, Any]:
    """One provider with ``grammar``; the cases one at a time (batch 1) or all at once (batch > 1)."""
    provider = LocalProvider(
        None,
        device=device,  # type: ignore[arg-type]
        dtype=dtype,  # type: ignore[arg-type]
        grammar=grammar,  # type: ignore[arg-type]
        max_batch_size=batch,
        max_queue=64,
        max_new_tokens=max_new_tokens,
        max_string_tokens=48,
        batch_window_s=0.5 if batch > 1 else 0.0,
        num_threads=torch.get_num_threads(),
    )
    provider.warm_up()
    latencies: list[float] = []
    invalid: list[dict[str, str]] = []
    tokens_in = tokens_out = ok = errors = 0
    started = time.monotonic()

    def one(built: BuiltCase) -> None:
        nonlocal tokens_in, tokens_out, ok, errors
        begun = time.monotonic()
        try:
            completion = provider.complete(built.request(deadline_s=3600))
        except ProviderError:
            errors += 1
            return
        finally:
            latencies.append(time.monotonic() - begun)
        tokens_in += completion.tokens_in
        tokens_out += completion.tokens_out
        why = problem(completion.text, built)
        ok += why is None
        if why is not None:
            invalid.append({"query": built.case.query, "problem": why, "text": completion.text[:600]})

    if batch == 1:
        for built in cases:
            one(built)
    else:
        with ThreadPoolExecutor(len(cases)) as pool:
            list(pool.map(one, cases))
    wall = time.monotonic() - started
    info = provider.describe()
    provider.close()
    return {
        "grammar": grammar or "none",
        "batch": batch,
        "requests": len(cases),
        "valid": ok,
        "errors": errors,
        "tokens_in_mean": round(tokens_in / max(1, len(cases) - errors)),
        "tokens_out": tokens_out,
        "wall_s": round(wall, 1),
        "tokens_per_s": round(tokens_out / wall, 1),
        "ms_per_token": round(1000 * wall / max(1, tokens_out), 1),
        "p50_latency_s": round(statistics.median(latencies), 1),
        "max_latency_s": round(max(latencies), 1),
        "batches": info["batches"],
        "grammar_ms_per_step": info["generation"]["grammar_ms_per_step"] if info["generation"] else None,
        "grammar_compile_s": info["grammar_cache"]["compile_s"] if info["grammar_cache"] else None,
        "grammar_cache": info["grammar_cache"],
        "invalid": invalid[:4],
    }


# -- issue 17: each speed step measured end to end through `shopguide local serve`, interleaved ----------------
# Cumulative steps; each runs in a model server process of its own (OMP_WAIT_POLICY and the quantized
# model are per process), and the requests go round-robin over the steps, so the machine's load, which
# drifts, falls on every step alike. "client" knobs change the request (schema caps, what the pipeline
# sends), "env" knobs the server.
STEPS: list[dict[str, Any]] = [
    {"name": "before (main: 120/100-char caps, 64-token strings)", "client": {"reason": 120, "summary": 100},
     "env": {"SHOPGUIDE_LOCAL_MAX_STRING_TOKENS": "64", "SHOPGUIDE_LOCAL_OMP_WAIT_POLICY": "active",
             "SHOPGUIDE_LOCAL_QUANTIZE": "none"}},
    {"name": "+ passive OpenMP wait", "client": {"reason": 120, "summary": 100},
     "env": {"SHOPGUIDE_LOCAL_MAX_STRING_TOKENS": "64", "SHOPGUIDE_LOCAL_QUANTIZE": "none"}},
    {"name": "+ terse (60/60-char caps, 24-token strings)", "client": {"reason": 60, "summary": 60},
     "env": {"SHOPGUIDE_LOCAL_MAX_STRING_TOKENS": "24", "SHOPGUIDE_LOCAL_QUANTIZE": "none"}},
    {"name": "+ int8 dynamic quantization", "client": {"reason": 60, "summary": 60},
     "env": {"SHOPGUIDE_LOCAL_MAX_STRING_TOKENS": "24", "SHOPGUIDE_LOCAL_QUANTIZE": "int8"}},
    {"name": "same, 1 thread", "client": {"reason": 60, "summary": 60},
     "env": {"SHOPGUIDE_LOCAL_MAX_STRING_TOKENS": "24", "SHOPGUIDE_LOCAL_QUANTIZE": "int8",
             "SHOPGUIDE_LOCAL_THREADS": "1"}},
    # the defaults as shipped: quantize auto (int8 on a CPU) and threads unset (1 for a model this small)
    {"name": "defaults, with a summary (quantize auto, threads unset)", "client": {"reason": 60, "summary": 60},
     "env": {"SHOPGUIDE_LOCAL_THREADS": None}},  # None: the variable is not set at all
    # what the pipeline sends a local model now: no summary (the answer's is built from the facts)
    {"name": "no summary asked, one forward pass a token (fast-forward off)", "client": {"reason": 60, "summary": None},
     "env": {"SHOPGUIDE_LOCAL_THREADS": None, "SHOPGUIDE_LOCAL_FAST_FORWARD": "0"}},
    # a lone request decoded by shopguide's loop: the grammar's forced tokens in the same forward pass
    {"name": "defaults (forced tokens fast-forwarded)", "client": {"reason": 60, "summary": None},
     "env": {"SHOPGUIDE_LOCAL_THREADS": None}},
    # tried, not kept (off by default): the keys and values of what a prompt shares with the previous one reused
    {"name": "+ shared prompt prefix reused", "client": {"reason": 60, "summary": None},
     "env": {"SHOPGUIDE_LOCAL_THREADS": None, "SHOPGUIDE_LOCAL_PREFIX_CACHE": "1"}},
]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env_extra: dict[str, str | None], threads: int, device: str) -> tuple[Any, str]:
    """A model server process with ``env_extra``; returns it and its URL once /healthz says ready."""
    import subprocess
    import sys

    import httpx

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPGUIDE_")}
    env.update({"SHOPGUIDE_LOG_LEVEL": "WARNING", "SHOPGUIDE_LOCAL_THREADS": str(threads),
                "SHOPGUIDE_LOCAL_DEVICE": device, "SHOPGUIDE_LOCAL_BATCH_SIZE": "32", "SHOPGUIDE_LOCAL_QUEUE_SIZE": "256",
                "SHOPGUIDE_LOCAL_REQUEST_TIMEOUT_S": "3600", **env_extra})
    env = {k: v for k, v in env.items() if v is not None}
    process = subprocess.Popen([sys.executable, "-m", "service", "local", "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"model server with {env_extra} did not become ready")


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system, all threads) the process has used: what a request costs whatever the load."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ask(url: str, built: BuiltCase, schema: dict[str, Any], max_tokens: int, pid: int | None = None) -> dict[str, Any]:
    """One recommendation through the server's HTTP API, as shopguide's provider sends it."""
    import httpx

    body = {"model": "local", "messages": list(built.messages), "temperature": 0.0, "max_tokens": max_tokens,
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "shopguide_recommendation", "schema": schema, "strict": True}}}
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=3600)
    latency = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu
    if response.status_code != 200:
        return {"latency_s": latency, "error": response.text[:200]}
    answer = response.json()
    text = answer["choices"][0]["message"]["content"]
    why = problem(text, dataclasses_replace(built, schema))
    sample = {"latency_s": latency, "cpu_s": round(cpu, 2), "load1": round(os.getloadavg()[0], 1),
              "tokens_in": answer["usage"]["prompt_tokens"],
              "tokens_out": answer["usage"]["completion_tokens"], "valid": why is None, "problem": why}
    if why is None:
        sample.update(answer_quality(text, built))
    return sample


def answer_quality(text: str, built: BuiltCase) -> dict[str, int]:
    """What the pipeline can use of a valid answer: reasons fit to show (``reconcile`` as the pipeline runs it on
    a small model's answer, grounded in the product's data or the request; the others are replaced by fact
    reasons) and distinct picks (a repeated id is dropped and filled from retrieval)."""
    from service.output.reconcile import reconcile
    from service.output.sanitize import ProseSanitizer
    from service.output.schema import RecommendOutput
    from service.retrieve.base import Candidate
    from service.validate.recommend import Filters

    products = _demo_products()
    output = RecommendOutput.model_validate_json(text)
    candidates = [Candidate(products[pid], 1.0) for pid in built.candidate_ids if pid in products]
    picks = len(output.items)
    fixed = reconcile(output, candidates, picks, Filters(), built.case.language, ProseSanitizer(), [built.case.query])
    from_model = [item for item in fixed.items if item.source == "llm"]
    said = {pick.id: pick.reason for pick in output.items}
    return {"picks": picks, "distinct_ids": len({item.id for item in output.items}),
            "usable_reasons": len(from_model) - fixed.replaced_reasons,
            # the model's reason and whether it was shown (printed per request, for reading what was replaced)
            "reasons": [[said[item.id], item.reason == said[item.id]] for item in from_model]}


@functools.cache
def _demo_products() -> dict[str, Any]:
    from service.catalog.load import load_catalog

    return {p.id: p for p in load_catalog().products}


def dataclasses_replace(built: BuiltCase, schema: dict[str, Any]) -> BuiltCase:
    import dataclasses

    return dataclasses.replace(built, grammar_schema=schema)


def run_steps(args: argparse.Namespace) -> dict[str, Any]:
    from service.output.schema import recommend_grammar_schema

    cases = build_cases()[: args.requests]
    steps = [s for i, s in enumerate(STEPS) if args.only is None or i in args.only]
    servers = []
    try:
        for step in steps:
            servers.append(start_server(step["env"], args.threads or 2, args.device))
        samples: dict[str, list[dict[str, Any]]] = {step["name"]: [] for step in steps}
        for round_ in range(args.rounds):
            for built in cases:
                for step, (process, url) in zip(steps, servers, strict=True):
                    caps = step["client"]
                    schema = recommend_grammar_schema(list(built.candidate_ids), built.case.k,
                                                      reason_max_chars=caps["reason"], summary_max_chars=caps["summary"])
                    sample = ask(url, built, schema, args.max_new_tokens, process.pid)
                    samples[step["name"]].append(sample)
                    print(json.dumps({"round": round_, "step": step["name"], "query": built.case.query, **sample},
                                     ensure_ascii=False), flush=True)
    finally:
        for process, _ in servers:
            process.terminate()
        for process, _ in servers:
            process.wait(30)
    rows = []
    for name, runs in samples.items():
        good = [r for r in runs if "error" not in r]
        out = sum(r["tokens_out"] for r in good)
        seconds = sum(r["latency_s"] for r in good)
        latencies = sorted(r["latency_s"] for r in runs)
        rows.append({
            "step": name, "requests": len(runs), "valid": sum(bool(r.get("valid")) for r in runs),
            "p50_latency_s": round(statistics.median(latencies), 2),
            "max_latency_s": round(max(latencies), 2),
            "p50_cpu_s": round(statistics.median(r.get("cpu_s", 0.0) for r in good), 2) if good else None,
            "cpu_ms_per_token": round(1000 * sum(r["cpu_s"] for r in good) / out, 1) if out else None,
            "out_tokens_mean": round(out / max(1, len(good)), 1),
            "prompt_tokens_mean": round(sum(r["tokens_in"] for r in good) / max(1, len(good))),
            "tokens_per_s": round(out / seconds, 1) if seconds else None,
            "ms_per_token": round(1000 * seconds / out, 1) if out else None,
            "picks": sum(r.get("picks", 0) for r in good),
            "distinct_ids": sum(r.get("distinct_ids", 0) for r in good),
            "usable_reasons": sum(r.get("usable_reasons", 0) for r in good),
        })
    return {"steps": rows}


def steps_markdown(report: dict[str, Any]) -> str:
    lines = ["| step | valid | p50 latency s | max s | p50 CPU s | CPU ms/token | out tokens | prompt tokens | tokens/s "
             "| ms/token (prefill incl.) | distinct picks | usable reasons |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["steps"]:
        lines.append(f"| {r['step']} | {r['valid']}/{r['requests']} | {r['p50_latency_s']} | {r['max_latency_s']} | "
                     f"{r['p50_cpu_s']} | {r['cpu_ms_per_token']} | "
                     f"{r['out_tokens_mean']} | {r['prompt_tokens_mean']} | {r['tokens_per_s']} | {r['ms_per_token']} | "
                     f"{r.get('distinct_ids', 0)}/{r.get('picks', 0)} | {r.get('usable_reasons', 0)}/{r.get('picks', 0)} |")
    return "\n".join(lines)


def run_concurrency(args: argparse.Namespace) -> dict[str, Any]:
    """One model server on ``--device``; for each concurrency, that many recommendations at once."""
    import httpx

    from service.output.schema import recommend_grammar_schema

    cases = build_cases()
    process, url = start_server({}, args.threads or 2, args.device)
    rows = []
    try:
        for concurrency in args.concurrency:
            chosen = [cases[i % len(cases)] for i in range(concurrency)]
            before = httpx.get(f"{url}/healthz", timeout=5).json()["batches"]
            started = time.monotonic()

            def one(built: BuiltCase) -> dict[str, Any]:
                schema = recommend_grammar_schema(list(built.candidate_ids), built.case.k,
                                                  reason_max_chars=60, summary_max_chars=None)
                return ask(url, built, schema, args.max_new_tokens)

            with ThreadPoolExecutor(concurrency) as pool:
                samples = list(pool.map(one, chosen))
            wall = time.monotonic() - started
            batches = httpx.get(f"{url}/healthz", timeout=5).json()["batches"] - before
            latencies = sorted(r["latency_s"] for r in samples)
            out = sum(r.get("tokens_out", 0) for r in samples)
            row = {"concurrency": concurrency, "valid": sum(bool(r.get("valid")) for r in samples),
                   "requests": concurrency, "tokens_per_s": round(out / wall, 1),
                   "p50_latency_s": round(statistics.median(latencies), 2),
                   "p99_latency_s": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
                   "batches": batches, "wall_s": round(wall, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        process.terminate()
        process.wait(30)
    return {"concurrency": rows}


def concurrency_markdown(report: dict[str, Any]) -> str:
    lines = ["| concurrent | valid | tokens/s | p50 s | p99 s | batches | wall s |", "|---|---|---|---|---|---|---|"]
    for r in report["concurrency"]:
        lines.append(f"| {r['concurrency']} | {r['valid']}/{r['requests']} | {r['tokens_per_s']} | {r['p50_latency_s']} | "
                     f"{r['p99_latency_s']} | {r['batches']} | {r['wall_s']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=os.environ.get("SHOPGUIDE_LOCAL_DEVICE", "cpu"))
    parser.add_argument("--dtype", default=os.environ.get("SHOPGUIDE_LOCAL_DTYPE", "auto"))
    parser.add_argument("--requests", type=int, default=8, help="requests of a batched run (max 12)")
    parser.add_argument("--batch1-requests", type=int, default=4, help="requests of a one-at-a-time run")
    parser.add_argument("--max-new-tokens", type=int, default=300)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--skip-conversion", action="store_true", help="do not time a first conversion")
    parser.add_argument("--skip-xgrammar", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--steps", action="store_true",
                        help="issue 17: each CPU speed step end to end through `shopguide local serve`, interleaved")
    parser.add_argument("--only", type=lambda v: [int(x) for x in v.split(",")], default=None,
                        help="with --steps: the step numbers to run (0-based, comma-separated)")
    parser.add_argument("--rounds", type=int, default=1, help="with --steps: rounds over the cases")
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=None,
                        help="through `shopguide local serve` on --device: these many requests at once (e.g. 1,8,32)")
    args = parser.parse_args()
    if args.concurrency:
        report = {"machine": {"cpus": os.cpu_count(), "device": args.device, "torch": torch.__version__,
                              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
                  **run_concurrency(args)}
        out = args.out if args.out != RESULTS else RESULTS.with_name(f"local_model_concurrency_{args.device}.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(concurrency_markdown(report))
        return
    if args.steps:
        report = {"machine": {"cpus": os.cpu_count(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
                              "platform": platform.platform(), "torch": torch.__version__},
                  "model": "SmolLM2-135M-Instruct", **run_steps(args)}
        report["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        out = args.out if args.out != RESULTS else RESULTS.with_name("local_model_steps.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(steps_markdown(report))
        print(f"load average {report['machine']['load_avg_at_start']} -> {report['machine']['load_avg_at_end']}")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = build_cases()[: args.requests]
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "load": measure_load(args.device, args.dtype, not args.skip_conversion),
        "runs": [],
    }
    grammars: list[str | None] = ["llguidance"] + ([] if args.skip_xgrammar else ["xgrammar"]) + [None]
    modes = [(grammar, batch) for batch in (1, 8) for grammar in grammars]
    for grammar, batch in modes:
        chosen = cases if batch > 1 else cases[: args.batch1_requests]
        run = run_mode(
            grammar, chosen, batch, device=args.device, dtype=args.dtype, max_new_tokens=args.max_new_tokens
        )
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
    report["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(report))


def dash(value: object) -> str:
    return "-" if value is None else str(value)


def markdown(report: dict[str, Any]) -> str:
    load = report["load"]
    lines = [
        f"device {load['device']} ({load['dtype']}), {report['machine']['cpus']} CPUs, "
        f"torch threads {report['machine']['torch_threads']}, load avg {report['machine']['load_avg_at_start']}"
        f" -> {report['machine'].get('load_avg_at_end')}",
        "",
        f"load: first GGUF conversion {load.get('first_conversion_s', '-')} s, "
        f"cached reload {load['cached_reload_s']} s (+{load['hash_and_locate_s']} s hashing the GGUF)",
        "",
        "| grammar | batch | valid | tokens/s | ms/token | p50 latency s | max latency s | prompt tokens | out tokens "
        "| mask ms/step | compile s (all schemas) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        lines.append(
            f"| {run['grammar']} | {run['batch']} | {run['valid']}/{run['requests']} | {run['tokens_per_s']} | "
            f"{run['ms_per_token']} | {run['p50_latency_s']} | {run['max_latency_s']} | {run['tokens_in_mean']} | "
            f"{run['tokens_out']} | {dash(run['grammar_ms_per_step'])} | {dash(run['grammar_compile_s'])} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
