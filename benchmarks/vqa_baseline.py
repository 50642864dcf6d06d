"""How `vqa`'s CNN+MLP baseline learns with more epochs and more images, on validation only.

    python benchmarks/vqa_baseline.py                      # seeds 0-2: 2,000 images x 105 epochs, 10,000 x 35
    python benchmarks/vqa_baseline.py --seeds 0 --runs 2000x35
    python benchmarks/vqa_baseline.py --quick --json /tmp/vqa_baseline.json

The lesson gives its CNN+MLP the relation network's budget (2,000 images, 35 epochs) and its bar
asks 0.90 on the non-relational questions; it reaches about 0.70. This script says why, with the
lesson's own code: each run builds the lesson's baseline (``build_baseline``) and trains it with the
lesson's ``fit`` (Adam at ``mlp_learning_rate``, a tenth of it for the last 20% of the steps,
precise batch-norm statistics before each validation), for IMAGESxEPOCHS of a ``--runs`` entry.
Every ``--every`` epochs it records the training loss and the validation accuracy over all
questions, non-relational, relational, and two question kinds (shape; left/right). The test images
are never scored: this is evidence about the budget, not a choice, and a baseline in a lesson never
gets more data or epochs than the model it is compared with.

Results go to ``docs/vqa_baseline.json`` (written to a temporary name, then renamed), with the
machine's load; ``docs/evidence/vqa.md`` quotes them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def parse_run(text: str) -> tuple[int, int]:
    """``"2000x105"`` -> (2000 images, 105 epochs)."""
    images, sep, epochs = text.lower().partition("x")
    if not sep or not images.isdigit() or not epochs.isdigit() or int(images) < 1 or int(epochs) < 1:
        raise argparse.ArgumentTypeError(f"a run is IMAGESxEPOCHS with positive whole numbers, e.g. 2000x105; "
                                         f"got {text!r}")
    return int(images), int(epochs)


def arguments(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Validation only: the test images are "
                                "never scored.", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to run (default 0 1 2)")
    p.add_argument("--runs", type=parse_run, nargs="+", default=[(2000, 105), (10000, 35)], metavar="IMAGESxEPOCHS",
                   help="training images x epochs for each run (default 2000x105 10000x35; the lesson: 2000x35)")
    p.add_argument("--every", type=int, default=5, help="record validation every N epochs, and the last (default 5)")
    p.add_argument("--quick", action="store_true", help="smoke size: the lesson's --quick Config, runs as given")
    p.add_argument("--json", type=pathlib.Path, default=ROOT / "docs" / "vqa_baseline.json",
                   help="where to write the results (default docs/vqa_baseline.json)")
    args = p.parse_args(argv)
    if args.every < 1:
        p.error(f"--every must be a positive number of epochs, got {args.every}")
    return args


def one_run(seed: int, images: int, epochs: int, every: int, quick: bool) -> dict:
    import dataclasses

    import keras

    from dlbootcamp import training
    from dlbootcamp.lessons import day17_vqa as vqa

    base = vqa.Config.quick() if quick else vqa.Config()
    cfg = dataclasses.replace(base, seed=seed, n_train=images, mlp_epochs=epochs)
    training.seed_everything(seed)
    data = vqa.load_data(cfg)
    val = dataclasses.replace(data, test=data.val)  # evaluate() scores its ``test``: hand it validation
    curve, start = [], time.time()

    class Curve(keras.callbacks.Callback):  # after the precise statistics were set for this epoch's validation
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % every and epoch + 1 != epochs:
                return
            m = vqa.evaluate(training.predict_fn(self.model, batch_size=64), val)
            curve.append({"epoch": epoch + 1, "loss": round(float(logs["loss"]), 4),
                          "val_accuracy": round(float(logs["val_accuracy"]), 4),
                          **{k: round(m[f"{k}_accuracy"], 4) for k in ("non_relational", "relational", "shape",
                                                                       "horizontal")}})
            print(f"  seed {seed}, {images} images, epoch {epoch + 1}/{epochs}: loss {curve[-1]['loss']:.3f}, "
                  f"validation non-relational {curve[-1]['non_relational']:.3f}, relational "
                  f"{curve[-1]['relational']:.3f} [{time.time() - start:.0f} s]", flush=True)

    class Run:  # what the lesson's fit() asks of a run: its callbacks (here, the curve) and a log
        def callbacks(self):
            return [Curve()]

        def log(self, message):
            print(message, flush=True)

    training.seed_everything(seed)  # as the lesson does before building each model
    vqa.fit(vqa.build_baseline(cfg), cfg, data, Run())  # the lesson's schedule, precise BN, best epoch kept
    peak = max(curve, key=lambda r: r["non_relational"])
    return {"seed": seed, "images": images, "epochs": epochs, "curve": curve,
            "peak_non_relational": peak["non_relational"], "peak_epoch": peak["epoch"],
            "final_non_relational": curve[-1]["non_relational"], "final_loss": curve[-1]["loss"],
            "seconds": round(time.time() - start, 1)}


def main(argv=None) -> int:
    args = arguments(argv)
    from dlbootcamp import atomic, quiet

    results, load_before = [], os.getloadavg()[0]
    for images, epochs in args.runs:
        for seed in args.seeds:
            print(f"vqa CNN+MLP: seed {seed}, {images} training images, {epochs} epochs", flush=True)
            with quiet.native_stderr_captured(quiet.verbose_from_env()):  # TensorFlow's start-up lines
                results.append(one_run(seed, images, epochs, args.every, args.quick))
            r = results[-1]
            print(f"  -> non-relational peaks at {r['peak_non_relational']:.3f} (epoch {r['peak_epoch']}), ends at "
                  f"{r['final_non_relational']:.3f}; training loss {r['final_loss']:.3f}; {r['seconds']:.0f} s",
                  flush=True)
    meta = {"finished": _dt.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
            "cores": os.cpu_count(), "load_1min_before": round(load_before, 2),
            "load_1min_after": round(os.getloadavg()[0], 2),
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") not in ("0", "false", "False"),
            "command": " ".join(["benchmarks/vqa_baseline.py", *(argv or sys.argv[1:])])}
    atomic.write_json(args.json, {"meta": meta, "results": results}, overwrite=True)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
