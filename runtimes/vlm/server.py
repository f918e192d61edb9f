"""The VLM action runtime: OpenWhisk's `/init` + `/run` contract in front of the Nova engine.

The invoker starts the `tango/action-vlm` image (kind `vlm`) and talks to this server like to
any runtime (docs/design.md §7.3): one `POST /init`, then `POST /run` per
activation, each followed by the log sentinel on stdout and stderr. Unlike the Python proxy,
many `/run` calls are served at once (the action's concurrency limit > 1): each handler thread
submits its request to the engine and waits, and the scheduler batches them.

`/init` carries the runtime configuration instead of code, as a JSON object in `value.main`,
`value.code` or `value.env.NOVA_CONFIG`, or as separate `value.env` entries (init parameters):

    {"preset": "tiny" | "qwen2-vl-7b" | ... , "checkpoint": "/path/to/hf/dir",
     "policy": "nova", "policy_params": {...}, "tables": "/path/to/stage_tables.json",
     "offload": false, "max_batch": 8, "max_len": 4096, "device": "cpu" | "cuda",
     "dtype": "float32" | "bfloat16", "graphs": true, "compile": true, "kernels": false, "fp8": false, "seed": 0}

`/run` `value`: `{"image": "<base64 PNG/JPEG>", "prompt": "...", "max_tokens": 64, "max_pixels": N,
"deadline_ms": 5000}` (deadline also from the activation's `deadline`, epoch ms) →
`{"text", "token_ids", "image_patches", "timings": {...}}`. `GET /metrics` → engine metrics JSON.
Started by `python -m runtimes.vlm` (see `__main__.py`).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import sys
import threading
import time
from dataclasses import dataclass, field, fields

from runtimes.python.proxy import ProxyHandler, ProxyServer, error_body, write_sentinels
from runtimes.python.proxy import serve as proxy_serve

REINIT_REFUSED = "Cannot initialize the action more than once."
NOT_INITIALIZED = "The VLM runtime is not initialized yet: POST /init first."
DEFAULT_MAX_TOKENS = 64


class InputError(ValueError):
    """A request the caller can fix; the message names the field and what is accepted."""


@dataclass(frozen=True)
class RuntimeConfig:
    """What `/init` may set; see the module docstring."""

    preset: str = "tiny"
    checkpoint: str | None = None
    policy: str = "nova"
    policy_params: dict = field(default_factory=dict)
    tables: str | None = None
    offload: bool = False
    max_batch: int = 8
    max_len: int = 4096
    device: str = "cpu"
    dtype: str = "float32"
    graphs: bool = True
    compile: bool = True  # torch.compile the decode step's element-wise work (CUDA only)
    kernels: bool = False  # Triton decode kernels (GEMV, attention in place); CUDA only, opt-in
    fp8: bool = False  # decode projections on e4m3 weights (model/fp8.py); opt-in
    seed: int = 0

    @classmethod
    def from_init(cls, value: dict) -> RuntimeConfig:
        """Collect the config from an /init `value`; unknown keys are an error, with the accepted ones."""
        raw: dict = {}
        env = value.get("env") or {}
        if not isinstance(env, dict):
            raise InputError("/init field 'env' must be an object of name -> value")
        for source in (env.get("NOVA_CONFIG"), value.get("code"), value.get("main")):
            if isinstance(source, str) and source.strip().startswith("{"):
                try:
                    raw.update(json.loads(source))
                except ValueError as exc:
                    raise InputError(f"/init config is not valid JSON: {exc}") from None
            elif isinstance(source, dict):
                raw.update(source)
        known = {f.name for f in fields(cls)}
        raw.update({k: _parse_env(v) for k, v in env.items() if k in known})
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InputError(f"/init config has unknown keys {unknown}; accepted: {sorted(known)}")
        return cls(**raw)


def _parse_env(v):
    """Init parameters arrive as strings (OpenWhisk stringifies them); read JSON where it is JSON."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def build_engine(cfg: RuntimeConfig):
    """Load the model, tables, policy and partitioner that `cfg` names; start the engine."""
    import torch

    from runtimes.vlm.engine import Engine, EngineConfig
    from runtimes.vlm.partition import make_partitioner
    from runtimes.vlm.scheduler.policies import make_policy
    from runtimes.vlm.scheduler.tables import StageTables, default_tables
    from runtimes.vlm.weights import load_vlm

    dtype = getattr(torch, cfg.dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise InputError(
            f"/init dtype {cfg.dtype!r} is not a torch dtype; use float32, bfloat16 or float16"
        )
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            f"/init device {cfg.device!r} asked for but no CUDA device is visible; use 'cpu'"
        )
    model, tokenizer = load_vlm(cfg.checkpoint or cfg.preset, cfg.device, dtype, cfg.seed)
    vision = stream_vision_weights(model) if cfg.offload else None
    partitioner = make_partitioner("green" if cfg.device.startswith("cuda") else "noop")
    tables = StageTables.load(cfg.tables) if cfg.tables else default_tables()
    total = getattr(partitioner, "total_sms", None)
    policy = make_policy(
        cfg.policy,
        tables,
        total if cfg.tables else None,
        **{"max_batch": cfg.max_batch, **cfg.policy_params},
    )
    engine = Engine(
        model,
        policy,
        partitioner,
        EngineConfig(
            max_batch=cfg.max_batch,
            max_len=cfg.max_len,
            use_graphs=cfg.graphs,
            compile=cfg.compile,
            kernels=cfg.kernels,
            fp8=cfg.fp8,
        ),
        vision=vision,
    )
    return engine.start(), tokenizer


def stream_vision_weights(model, slots: int = 2):
    """Move the vision encoder's weights to pinned host memory, K GPU slots (Nova §5); frees the
    resident encoder so only the slot arena stays on the GPU."""
    import torch

    from runtimes.vlm.offload import StreamedVisionEncoder

    streamed = StreamedVisionEncoder(model.vision, slots=slots)
    model.vision = None
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return streamed


def decode_image(data):
    """A PIL image from base64 PNG/JPEG (data: URLs accepted)."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data, str) or not data:
        raise InputError("'image' must be a base64-encoded PNG or JPEG string")
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(
            f"'image' is not valid base64 ({exc}); send the PNG/JPEG bytes base64-encoded"
        ) from None
    try:
        img = Image.open(io.BytesIO(raw))
        img.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(
            f"'image' decodes to {len(raw)} bytes that are not a PNG or JPEG image: {exc}"
        ) from None
    if img.format not in ("PNG", "JPEG"):
        raise InputError(f"'image' is a {img.format} image; accepted formats: PNG, JPEG")
    return img


class VLMRuntime:
    """The one model this container serves: init once, then many concurrent runs."""

    def __init__(self, builder=build_engine):
        self._builder = builder
        self._init_lock = threading.Lock()
        self.engine = None
        self.tokenizer = None
        self.config: RuntimeConfig | None = None

    def init(self, body: dict) -> tuple[int, bytes]:
        with self._init_lock:
            if self.engine is not None:
                return 403, error_body(REINIT_REFUSED)
            raw = body.get("value")
            value = raw if isinstance(raw, dict) else {}
            try:
                cfg = RuntimeConfig.from_init(value)
                self.engine, self.tokenizer = self._builder(cfg)
            except (InputError, ValueError, TypeError, FileNotFoundError) as exc:
                return _init_failed(f"VLM runtime init failed: {exc}")
            self.config = cfg
            return 200, b'{"ok":true}'

    def run(self, body: dict) -> tuple[int, bytes]:
        try:
            if self.engine is None:
                return 500, error_body(NOT_INITIALIZED)
            try:
                req = self._submit(body)
            except InputError as exc:
                return 200, error_body(str(exc))  # application error: the caller's input
            req.wait()
            if req.error:
                return 200, error_body(req.error)
            out = {
                "text": self.tokenizer.decode(req.output_ids),
                "token_ids": req.output_ids,
                "image_patches": req.patches,  # what the pixel budget left of the image
                "timings": req.timings(),
            }
            return 200, json.dumps(out).encode()
        finally:
            write_sentinels()

    def _submit(self, body: dict):
        from runtimes.vlm.preprocess import preprocess_image

        value = body.get("value")
        if not isinstance(value, dict):
            raise InputError(
                "/run body must have a 'value' object with 'image', 'prompt' and optional "
                "'max_tokens', 'deadline_ms'"
            )
        prompt = value.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError("'prompt' is missing or empty: send the instruction text as a string")
        max_tokens = value.get("max_tokens", DEFAULT_MAX_TOKENS)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise InputError(f"'max_tokens' must be a positive integer, got {max_tokens!r}")
        pixel_values = grid = None
        if value.get("image") is not None:
            mc = self.engine.model.config
            pixel_values, grid = preprocess_image(
                decode_image(value["image"]), mc.min_pixels, _pixel_budget(value, mc), mc.vision
            )
        prompt_ids = self.tokenizer.chat_prompt(prompt)
        if pixel_values is None:  # text only: drop the chat template's empty image placeholder
            mc = self.engine.model.config
            prompt_ids = [t for t in prompt_ids if t not in (mc.vision_start_id, mc.vision_end_id)]
        try:
            return self.engine.submit(
                prompt_ids, max_tokens, pixel_values, grid, deadline=_deadline(value, body)
            )
        except ValueError as exc:
            raise InputError(str(exc)) from None

    def metrics(self) -> tuple[int, bytes]:
        if self.engine is None:
            return 200, json.dumps({"initialized": False}).encode()
        m = self.engine.metrics()
        m["initialized"] = True
        return 200, json.dumps(m).encode()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


def _pixel_budget(value: dict, mc) -> int:
    """The image's pixel budget: the model's, or the request's `max_pixels` when smaller (a hint
    option trades image detail for time)."""
    asked = value.get("max_pixels")
    if asked is None:
        return mc.max_pixels
    if not isinstance(asked, int) or isinstance(asked, bool) or asked < mc.min_pixels:
        raise InputError(
            f"'max_pixels' must be a whole number of pixels of at least {mc.min_pixels}, got {asked!r}"
        )
    return min(asked, mc.max_pixels)


def _deadline(value: dict, body: dict) -> float | None:
    """The request's deadline on the engine's clock: `deadline_ms` from now, or the epoch-ms `deadline`."""
    now_wall, now = time.time(), time.perf_counter()
    if value.get("deadline_ms") is not None:
        ms = value["deadline_ms"]
        if not isinstance(ms, (int, float)) or ms <= 0:
            raise InputError(f"'deadline_ms' must be a positive number of milliseconds, got {ms!r}")
        return now + ms / 1e3
    epoch = value.get("deadline", body.get("deadline"))
    if epoch is None:
        return None
    try:
        return now + (float(epoch) / 1e3 - now_wall)
    except (TypeError, ValueError):
        raise InputError(f"'deadline' must be epoch milliseconds, got {epoch!r}") from None


def _init_failed(message: str) -> tuple[int, bytes]:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    write_sentinels()
    return 502, error_body(message)


class VLMHandler(ProxyHandler):
    """HTTP/1.1 keep-alive, TCP_NODELAY (from `ProxyHandler`); routes /init, /run, /metrics."""

    server_version = "tango-vlm-runtime"
    USAGE = "POST /init or /run, GET /metrics"

    def run_input(self, body: bytes, parsed: dict):
        return parsed

    def bad_request(self, error: str) -> None:
        if self.path == "/run":
            write_sentinels()
        super().bad_request(error)

    def do_GET(self):
        if self.path == "/metrics":
            self.respond(*self.server.action.metrics())
        else:
            super().do_GET()


class VLMServer(ProxyServer):
    request_queue_size = 512

    def __init__(self, address, runtime: VLMRuntime):
        ProxyServer.__init__(self, address, runtime)
        self.RequestHandlerClass = VLMHandler


def serve(host: str | None = None, port: int | None = None) -> None:
    """Serve the VLM runtime until SIGTERM/SIGINT, as the Python proxy serves actions."""
    proxy_serve(host, port, VLMRuntime(), VLMServer)
