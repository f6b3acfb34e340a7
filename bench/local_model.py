"""The local model: load time (first GGUF conversion, cached reload) and generation speed.

Run from the repository root: ``python -m bench.local_model [--requests 8] [--skip-xgrammar]``.
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
    args = parser.parse_args()
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
