"""llama.cpp's CPU code: the variant chosen for this processor, a forced variant that runs a real model, and a variant
this processor cannot run, which is refused with a clear error instead of crashing on an illegal instruction.

Each case runs in a fresh process: the CPU backend is loaded once per process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# what each variant built by scripts/build_llama.sh needs, as /proc/cpuinfo names it; each needs all of the one before
NEEDS = {"x64": set(), "haswell": {"avx2", "fma", "f16c", "bmi2"}}
NEEDS["skylakex"] = NEEDS["haswell"] | {"avx512f"}
NEEDS["icelake"] = NEEDS["skylakex"] | {"avx512vbmi", "avx512_vnni"}
NEEDS["zen4"] = NEEDS["icelake"] | {"avx512_bf16"}
NEEDS["sapphirerapids"] = NEEDS["zen4"] | {"amx_tile", "amx_int8"}

REPORT = "import json; from dallm.llm_backends import llama_cpu_backend as b; print(json.dumps(b()))"
EVAL = "from dallm.llm_backends import llama_cpu_backend as b, _probe_eval; b(); _probe_eval()"


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"): return set(line.split(":", 1)[1].split())
    return set()


def run(code: str, variant: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DALLM_LLAMA_CPU_VARIANT"}
    if variant: env["DALLM_LLAMA_CPU_VARIANT"] = variant
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


pytestmark = pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="reads the processor's flags from Linux")


def test_the_best_variant_this_processor_supports_is_loaded():
    p = run(REPORT)
    assert p.returncode == 0, p.stderr
    cpu = json.loads(p.stdout.strip().splitlines()[-1])
    assert cpu["dynamic"] and {"x64", "haswell"} <= set(cpu["variants"]), cpu  # the build of `make install`
    flags = cpu_flags()
    runnable = [v for v in NEEDS if v in cpu["variants"] and NEEDS[v] <= flags]
    assert cpu["variant"] in runnable, (cpu, sorted(flags & set().union(*NEEDS.values())))
    assert cpu["library"] == f"libggml-cpu-{cpu['variant']}.so"
    # a variant the flags allow is passed over only when it stops on an illegal instruction on this machine (AMX in some
    # virtual machines): each one above the loaded variant crashes on a real prompt, the loaded one runs it
    above = runnable[runnable.index(cpu["variant"]) + 1:]
    for v in above: assert run(EVAL, v).returncode < 0, v
    assert ("probed" in cpu["summary"]) == bool(above), cpu
    assert run(EVAL).returncode == 0


def test_a_forced_variant_runs_the_model():
    code = ("from dallm.llm import LLM, LLMCache, load_registry; import tempfile, json; "
            "llm = LLM(load_registry()['smollm2'], LLMCache(tempfile.mkdtemp() + '/c.sqlite')); "
            "t = llm.complete('The normal adult resting heart rate is', max_tokens=8); "
            "print(json.dumps([llm.backend.cpu['variant'], llm.ledger.completion_tokens, t]))")
    p = run(code, "x64")
    assert p.returncode == 0, p.stderr
    variant, n_tokens, text = json.loads(p.stdout.strip().splitlines()[-1])
    assert variant == "x64" and n_tokens > 0 and text.strip(), (variant, n_tokens, text)


def test_a_variant_this_processor_lacks_is_refused_not_crashed():
    flags = cpu_flags()
    lacking = [v for v in NEEDS if not NEEDS[v] <= flags]
    if not lacking: pytest.skip("this processor runs every variant built")
    p = run(REPORT, lacking[0])
    assert p.returncode == 1, (p.returncode, p.stderr)  # an illegal instruction would be -4 (SIGILL)
    assert f"DALLM_LLAMA_CPU_VARIANT={lacking[0]}" in p.stderr and "lacks" in p.stderr, p.stderr


def test_an_unknown_variant_names_the_ones_built():
    p = run(REPORT, "pentium4")
    assert p.returncode == 1 and "DALLM_LLAMA_CPU_VARIANT=pentium4" in p.stderr and "haswell" in p.stderr, p.stderr
