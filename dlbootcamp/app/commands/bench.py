"""`dlbootcamp bench ARTIFACT...`: latency, size and memory of exported models, measured one way.

The JSON document printed by ``--json`` (and written by ``--out``) has schema
``dlbootcamp.bench/1``; every field is described in docs/benchmark-schema.md. In short::

    {"schema": "dlbootcamp.bench/1", "tool": "dlbootcamp bench", "created": "...Z",
     "machine": {"cpu", "cores", "cores_available", "device", "platform", "python",
                 "load_1min", "packages": {name: version}},
     "settings": {"threads": [..], "runs", "warmup", "batch", "max_secs", "inputs", "xnnpack"},
     "results": [{"artifact", "name", "format", "variant", "quantization", "lesson", "export",
                  "runtime", "runtime_version", "threads", "xnnpack", "batch", "inputs",
                  "input_shapes", "model_size_bytes", "init_ms", "first_inference_ms",
                  "warmup_runs", "warmup_mean_ms", "runs",
                  "latency_ms": {"min", "p50", "p90", "p99", "max", "mean", "std"},
                  "throughput_per_s", "rss_before_load_mb", "rss_after_init_mb", "rss_end_mb",
                  "peak_rss_mb", "rss_growth_mb", "process_peak_rss_mb",
                  "stopped_by_max_secs", "source", "machine"}]}

A new field may be added within version 1; renaming or removing one makes it version 2.
TensorFlow is imported only when a .keras artifact is benchmarked.
"""

HELP = "time exported models (.tflite, .onnx) and their Keras model: latency percentiles, size, memory"
DESCRIPTION = """\
Benchmark each ARTIFACT at each thread count: init (load + allocate), first inference,
warm-up mean, then latency min/p50/p90/p99/max/mean/std over the timed runs, throughput
(inferences/s), peak resident memory and its growth over the run - the figures TFLite's
benchmark_model and onnxruntime_perf_test report, under the same names.

.tflite runs in the LiteRT interpreter (XNNPACK on unless --no-xnnpack), .onnx in
onnxruntime (CPU, intra-op threads = --threads), .keras in TensorFlow twice: an eager call
and a compiled tf.function. Inputs come from --inputs, else they are drawn from the
artifact's input spec and sidecar hints with a fixed seed. The same measuring code runs on a
phone or a board without TensorFlow: copy export/device_bench.py (see its --help)."""
EPILOG = """\
examples:
  dlbootcamp bench runs/training-*/export/*.tflite runs/training-*/export/*.onnx
  dlbootcamp bench model.fp32.tflite model.int8.tflite --threads 1,2,4 --runs 500
  dlbootcamp bench runs/cnn-features-X/model.keras runs/cnn-features-X/export/model.fp32.tflite
  dlbootcamp bench model.int8.tflite --no-xnnpack --batch 32
  dlbootcamp bench export/*.tflite --json > bench.json
  dlbootcamp bench export/*.tflite --out runs/X/bench.json && dlbootcamp report runs/X

the --json schema (dlbootcamp.bench/1) is documented in docs/benchmark-schema.md."""


def add_arguments(p):
    from dlbootcamp.export import device_bench  # NumPy only: --help stays instant

    device_bench.add_arguments(p, artifacts_help=".tflite, .onnx or .keras files, or a run folder (its export/ "
                                                 "artifacts)")


def run(args) -> int:
    import json

    from dlbootcamp.app import pipeline
    from dlbootcamp.export import bench, serving

    threads = bench.parse_threads(args.threads)
    if args.out:
        bench.check_out(args.out)
    with serving.quiet_libraries():
        results = bench.run_benchmarks(args.artifacts, threads=threads, runs=args.runs, warmup=args.warmup,
                                       batch=args.batch, max_secs=args.max_secs, inputs=args.inputs,
                                       progress=not args.json, xnnpack=not args.no_xnnpack,
                                       prepare_keras=pipeline.register_custom_layers)
    doc = bench.document(results, bench.db.settings_of(args, threads))
    if args.out:
        bench.write(doc, args.out)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(bench.format_table(results))
    if args.out:
        print(f"\nwrote {args.out}; turn it into a Markdown table and plots with `dlbootcamp report {args.out}`.")
    return 0
