"""Thread settings: TensorFlow's thread counts are fixed when it starts, so each setting runs in
its own process: one model trained alone and a stack of 8, timed after a warm-up, with
(intra-op, inter-op) = (1, cores) (a job's default, `threads=auto`) and (cores, cores)
(TensorFlow's own default)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from varbench.bench.harness import INFO, MODES, Context, Result, Section, Sizes, _trainer_config, make_context, timed
from varbench.bench.render import fmt, table
from varbench.bench.training import stack_members
from varbench.models.mlp import build_mlp
from varbench.models.runtime import start_tensorflow, thread_plan

STACK = 8


def _measure(sizes: Sizes) -> dict[str, float]:
    """In this process (threads already set): seconds to train one model and a stack of 8."""
    # lazy: the trainers load scikit-learn (rank_stats)
    from varbench.models.stacked import train_stacked
    from varbench.models.trainer import train

    data, cfg = make_context(sizes).data, _trainer_config(sizes)
    members = stack_members(data, 0, STACK)

    def one() -> Any:
        return train(build_mlp, data.X_train, data.y_train, data.task, 0, cfg, data.X_test, data.y_test)

    def stack() -> Any:
        return train_stacked(build_mlp, data.task, cfg, members)

    one(), stack()  # warm: imports and first tracing
    return {"one": min(timed(one)[0] for _ in range(2)), "stack": min(timed(stack)[0] for _ in range(2))}


def bench_threads(ctx: Context) -> Section:
    if ctx.sizes.name == "tiny":
        return Section("Threads", [], "Not measured in this mode (two extra TensorFlow processes).")

    cpus = os.cpu_count() or 1
    steps = ctx.sizes.epochs * -(-ctx.sizes.n_train // ctx.sizes.batch_size)
    plan, rows, figures = thread_plan("auto"), [], {}
    for name, (intra, inter) in (("auto", plan), ("tf_default", (cpus, cpus))):
        out = subprocess.run([sys.executable, "-m", "varbench.bench.threads", str(intra), str(inter), ctx.sizes.name],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        t = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append([f"{intra} / {inter}", fmt(t["one"]), fmt(t["stack"]), fmt(t["stack"] / t["one"])])
        figures[f"threads_{name}_one_seconds"] = t["one"]
        figures[f"threads_{name}_stack_{STACK}_seconds"] = t["stack"]
    auto, tf_default = rows[0], rows[1]
    body = "\n".join([
        f"Each setting in its own process (TensorFlow fixes its thread counts at start-up): one model "
        f"(`trainer.train`) and a stack of {STACK} (`train_stacked`) on the Training section's data and settings "
        f"({steps:,} optimizer steps), best of 2 after a warm-up. {plan} is a job's default "
        f"(`threads=auto`), ({cpus}, {cpus}) TensorFlow's own.",
        "",
        table(["intra-op / inter-op threads", "one model (s)", f"stack of {STACK} (s)", "stack / one"], rows),
    ])
    result = Result(f"threads: stack of {STACK}, TensorFlow's default ({tf_default[0]}) vs threads=auto ({auto[0]})",
                    figures[f"threads_auto_stack_{STACK}_seconds"], "TensorFlow default threads",
                    figures[f"threads_tf_default_stack_{STACK}_seconds"], None, "same models, other threads", INFO)
    return Section("Threads", [result], body, figures)


def main(argv: list[str]) -> None:
    """`python -m varbench.bench.threads INTRA INTER MODE`: print the timings as one JSON line."""
    start_tensorflow((int(argv[0]), int(argv[1])))
    print(json.dumps(_measure(MODES[argv[2]])))


if __name__ == "__main__":
    main(sys.argv[1:])
