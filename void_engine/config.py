"""Engine settings: one typed dataclass, read from ``config/engine.toml`` (see that file for docs)."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .finish.settings import FinishSettings
from .pipeline.windows import window_frames_problem


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class MonitorSettings:
    """The [monitor] settings: the engine's web page and Prometheus ``/metrics`` (see config/engine.toml).

    ``bind`` is a host name or address; one that is not loopback is refused unless
    ``allow_remote`` is set. ``port`` 0 picks a free port (the engine logs the address).
    """

    enabled: bool = False
    bind: str = "127.0.0.1"
    port: int = 8555
    allow_remote: bool = False
    jobs_shown: int = 200
    refresh_s: float = 1.0
    strip_frames: int = 8
    thumbnail_px: int = 256
    display: str = ""
    view: str = ""


@dataclass
class EngineConfig:
    """Every engine setting; defaults match config/engine.toml."""

    # [server]
    bind: str = "tcp://127.0.0.1:5555"
    state_dir: Path = field(default_factory=lambda: Path("~/.void-engine").expanduser())
    roots: list[Path] = field(default_factory=list)
    heartbeat_s: float = 2.0
    upload_timeout_s: float = 60.0
    events_wait_max_s: float = 10.0
    plugins: list[str] = field(default_factory=list)
    # By-value results (state_dir/jobs/<id>/out) older than this many seconds are deleted; 0 = kept.
    result_retention_s: float = 0.0
    # ...and the oldest go while they hold more than this many bytes in all; 0 = no size limit.
    result_retention_bytes: int = 0
    # [limits]
    chunk_bytes: int = 2 * 1024 * 1024
    credit: int = 8
    max_file_bytes: int = 512 * 1024 * 1024
    max_job_bytes: int = 16 * 1024**3
    max_frames: int = 10000
    max_queued: int = 1000
    # Most bytes the spool may hold: uploads in progress, by-value inputs and by-value results.
    max_spool_bytes: int = 256 * 1024**3
    # [worker]
    backend: str = "void"
    model: Path | None = None
    device: str = "auto"
    memory_mode: str = "full"
    steps: int = 50
    max_attempts: int = 3
    model_size: list[int] = field(default_factory=lambda: [384, 672])
    window_frames: int = 85
    # Overlap job N+1's plate reading and job N-1's writing with job N's model run (false: one
    # job at a time, each stage after the other).
    pipeline: bool = True
    # Threads reading and writing the frames of a job in parallel; 0 = one per core.
    io_threads: int = 0
    # Most bytes of frames prepared and pending jobs may hold (the job on the GPU included).
    pipeline_memory_bytes: int = 8 * 1024**3
    attention_backend: str = ""
    compile_blocks: bool = False
    compile_cache_dir: Path | None = None
    # [masks]
    sam2_checkpoint: Path | None = None
    sam2_config: str = "configs/sam2.1/sam2.1_hiera_l.yaml"
    sam2_random_weights: bool = False
    reasoner_model: str = "gemini-3-pro-preview"
    reasoner_api_key_env: str = "GEMINI_API_KEY"
    reasoner_timeout_s: float = 180.0
    reasoner_base_url: str = ""
    sam3_checkpoint: Path | None = None
    sam3_bpe: Path | None = None
    sam3_random_weights: bool = False
    sam3_score_threshold: float = 0.5
    text_keyframes: str = "first"
    # [security]
    curve: bool = False
    server_secret_key: Path | None = None
    clients_dir: Path | None = None
    admin_keys: list[Path] = field(default_factory=list)
    # The admin token in force: from admin_token_file, else the admin_token_env variable, else the
    # TOML value (kept for compatibility; a token in a config file is readable by whoever reads it).
    admin_token: str = ""
    admin_token_env: str = "VOID_ENGINE_ADMIN_TOKEN"
    admin_token_file: Path | None = None
    allow_insecure: bool = False
    # [cluster] (void_engine.cluster; an empty ray_address = this process is the one engine)
    ray_address: str = ""
    engines: int = 0
    gpus_per_engine: float = 1.0
    cpus_per_engine: float = 1.0
    actor_retries: int = 1
    ray_namespace: str = "void-engine"
    # [monitor] (void_engine.monitor: the web page and /metrics; off by default)
    # (each is MonitorSettings' field of the same name, prefixed monitor_; defaults live there)
    monitor_enabled: bool = MonitorSettings.enabled
    monitor_bind: str = MonitorSettings.bind
    monitor_port: int = MonitorSettings.port
    monitor_allow_remote: bool = MonitorSettings.allow_remote
    monitor_jobs_shown: int = MonitorSettings.jobs_shown
    monitor_refresh_s: float = MonitorSettings.refresh_s
    monitor_strip_frames: int = MonitorSettings.strip_frames
    monitor_thumbnail_px: int = MonitorSettings.thumbnail_px
    monitor_display: str = MonitorSettings.display
    monitor_view: str = MonitorSettings.view
    # [finish] (void_engine.finish: the model's result finished at plate resolution; on by default)
    # (each is FinishSettings' field of the same name, prefixed finish_; defaults live there)
    finish_enabled: bool = FinishSettings.enabled
    finish_reveal: bool = FinishSettings.reveal
    finish_grain: bool = FinishSettings.grain
    finish_highlights: bool = FinishSettings.highlights
    finish_highlight_knee: float = FinishSettings.highlight_knee
    finish_highlight_ceiling: float = FinishSettings.highlight_ceiling
    finish_search_radius: int = FinishSettings.search_radius
    finish_candidates: int = FinishSettings.candidates
    finish_align_long_side: int = FinishSettings.align_long_side
    finish_refine_flow: bool = FinishSettings.refine_flow
    finish_vote_tolerance_stops: float = FinishSettings.vote_tolerance_stops
    finish_agree_tolerance_stops: float = FinishSettings.agree_tolerance_stops
    finish_strong_agreement_stops: float = FinishSettings.strong_agreement_stops
    finish_match_exposure: bool = FinishSettings.match_exposure
    finish_model_votes: bool = FinishSettings.model_votes
    finish_rank_falloff: float = FinishSettings.rank_falloff
    finish_grain_ring_px: int = FinishSettings.grain_ring_px
    finish_warn_upscale: float = FinishSettings.warn_upscale

    @property
    def max_message_bytes(self) -> int:
        """libzmq MAXMSGSIZE: one chunk plus room for its header, or the largest header the
        protocol allows (the `upload` of a job of max_frames frames), whichever is larger."""
        from bridge.protocol import MAX_HEADER_BYTES

        return max(self.chunk_bytes, MAX_HEADER_BYTES) + 64 * 1024

    def shot_settings(self) -> dict[str, Any]:
        """Keyword arguments for plates.ShotSettings (kept as a dict: the loop imports no numpy)."""
        return {
            "model_size": (int(self.model_size[0]), int(self.model_size[1])),
            "finish": dataclasses.asdict(self.finish_settings()),
        }

    def mask_settings(self) -> "MaskSettings":
        """What the worker's mask stage needs (SAM2 and the reasoner), as one typed value."""
        return MaskSettings(
            sam2_checkpoint=self.sam2_checkpoint,
            sam2_config=self.sam2_config,
            sam2_random_weights=self.sam2_random_weights,
            device=self.device,
            reasoner_model=self.reasoner_model,
            reasoner_api_key_env=self.reasoner_api_key_env,
            reasoner_timeout_s=self.reasoner_timeout_s,
            reasoner_base_url=self.reasoner_base_url or None,
            sam3_checkpoint=self.sam3_checkpoint,
            sam3_bpe=self.sam3_bpe,
            sam3_random_weights=self.sam3_random_weights,
            sam3_score_threshold=self.sam3_score_threshold,
            text_keyframes=self.text_keyframes,
        )

    def pipeline_settings(self) -> "PipelineSettings":
        """How the worker overlaps jobs (the [worker] pipeline settings, as one typed value)."""
        return PipelineSettings(
            enabled=self.pipeline,
            io_threads=self.io_threads or (os.cpu_count() or 1),
            memory_bytes=self.pipeline_memory_bytes,
        )

    def monitor_settings(self) -> MonitorSettings:
        """The [monitor] settings as one typed value (what void_engine.monitor is built from)."""
        return MonitorSettings(
            **{f.name: getattr(self, f"monitor_{f.name}") for f in dataclasses.fields(MonitorSettings)}
        )

    def finish_settings(self) -> FinishSettings:
        """The [finish] settings as one typed value (raises ValueError for a value FinishSettings refuses)."""
        return FinishSettings(**{f.name: getattr(self, f"finish_{f.name}") for f in dataclasses.fields(FinishSettings)})

    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite3"


@dataclass(frozen=True)
class PipelineSettings:
    """How the worker overlaps its jobs' plate I/O with the model run."""

    enabled: bool = True  # False: the serial worker (each job read, run, written, then the next)
    io_threads: int = 1  # threads running the frames of a read or a write
    memory_bytes: int = 8 * 1024**3  # cap on the frames held by prepared and pending jobs


@dataclass(frozen=True)
class MaskSettings:
    """The [masks] settings plus the worker's device: how the engine builds quadmasks.

    ``reasoner_api_key_env`` names the environment variable holding the Gemini key (the key
    itself never sits in a config file); without it the reasoning stage is skipped.
    """

    sam2_checkpoint: Path | None = None
    sam2_config: str = "configs/sam2.1/sam2.1_hiera_l.yaml"
    sam2_random_weights: bool = False
    device: str = "auto"
    reasoner_model: str = "gemini-3-pro-preview"
    reasoner_api_key_env: str = "GEMINI_API_KEY"
    reasoner_timeout_s: float = 180.0
    reasoner_base_url: str | None = None
    # SAM3, for text masks (mode "text", and the reasoner's named objects)
    sam3_checkpoint: Path | None = None
    sam3_bpe: Path | None = None
    sam3_random_weights: bool = False
    sam3_score_threshold: float = 0.5
    text_keyframes: str = "first"  # "first": the first frame the text is found on; "all": every one


_SECTIONS = {
    "server": (
        "bind",
        "state_dir",
        "roots",
        "heartbeat_s",
        "upload_timeout_s",
        "events_wait_max_s",
        "plugins",
        "result_retention_s",
        "result_retention_bytes",
    ),
    "limits": (
        "chunk_bytes",
        "credit",
        "max_file_bytes",
        "max_job_bytes",
        "max_frames",
        "max_queued",
        "max_spool_bytes",
    ),
    "worker": (
        "backend",
        "model",
        "device",
        "memory_mode",
        "steps",
        "max_attempts",
        "model_size",
        "window_frames",
        "pipeline",
        "io_threads",
        "pipeline_memory_bytes",
        "attention_backend",
        "compile_blocks",
        "compile_cache_dir",
    ),
    "masks": (
        "sam2_checkpoint",
        "sam2_config",
        "sam2_random_weights",
        "reasoner_model",
        "reasoner_api_key_env",
        "reasoner_timeout_s",
        "reasoner_base_url",
        "sam3_checkpoint",
        "sam3_bpe",
        "sam3_random_weights",
        "sam3_score_threshold",
        "text_keyframes",
    ),
    "security": (
        "curve",
        "server_secret_key",
        "clients_dir",
        "admin_keys",
        "admin_token",
        "admin_token_env",
        "admin_token_file",
        "allow_insecure",
    ),
    "cluster": ("ray_address", "engines", "gpus_per_engine", "cpus_per_engine", "actor_retries", "ray_namespace"),
    # The same settings as MonitorSettings, each named monitor_<field>.
    "monitor": tuple(f"monitor_{f.name}" for f in dataclasses.fields(MonitorSettings)),
    # The same settings as FinishSettings, each named finish_<field>.
    "finish": tuple(f"finish_{f.name}" for f in dataclasses.fields(FinishSettings)),
}
_PATHS = {
    "state_dir",
    "model",
    "server_secret_key",
    "clients_dir",
    "sam2_checkpoint",
    "sam3_checkpoint",
    "sam3_bpe",
    "admin_token_file",
    "compile_cache_dir",
}
# [worker] attention_backend: "" = PyTorch's own choice; otherwise one torch.nn.attention.SDPBackend.
ATTENTION_BACKENDS = ("", "cudnn", "flash", "efficient", "math")

# An admin token must carry at least 32 random bytes: 43 characters as URL-safe base64, which is
# what `void-engine keys --admin-token` writes (secrets.token_urlsafe(32)).
MIN_ADMIN_TOKEN_CHARS = 43
_PATH_LISTS = {"roots", "admin_keys"}
# Where SAM3 looks for a text mask's object when the job names no key frames.
TEXT_KEYFRAMES = ("first", "all")


def _expected_type(name: str) -> Any:
    default = {f.name: f for f in dataclasses.fields(EngineConfig)}[name]
    if name in _PATHS:
        return str
    if name in _PATH_LISTS or name in ("plugins", "model_size"):
        return list
    if default.default is not dataclasses.MISSING:
        return type(default.default)
    if default.default_factory is not dataclasses.MISSING:
        return type(default.default_factory())
    raise TypeError(f"config field {name!r} has no default")


def load_config(path: Path | None = None, **overrides: Any) -> EngineConfig:
    """Read ``path`` (a TOML file; None = defaults) then apply non-None ``overrides``.

    Raises ConfigError naming the file and key for unknown keys or wrong types.
    """
    cfg = EngineConfig()
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read engine config: {exc}") from None
        base = path.resolve().parent
        for section, body in data.items():
            if section not in _SECTIONS or not isinstance(body, dict):
                raise ConfigError(f"{path}: unknown section [{section}] (known: {', '.join(_SECTIONS)})")
            for key, value in body.items():
                if key not in _SECTIONS[section]:
                    raise ConfigError(f"{path}: unknown key '{key}' in [{section}]")
                want = _expected_type(key)
                if want is float and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                    raise ConfigError(f"{path}: [{section}] {key} must be {want.__name__}, got {value!r}")
                setattr(cfg, key, _to_path_value(key, value, base))
    for key, value in overrides.items():
        if value is None:
            continue
        if not hasattr(cfg, key):
            raise ConfigError(f"unknown engine setting {key!r}")
        setattr(cfg, key, _to_path_value(key, value, Path.cwd()))
    cfg.admin_token = _admin_token(cfg)
    _check(cfg)
    return cfg


def _admin_token(cfg: EngineConfig) -> str:
    """The admin token in force: the token file, else the environment variable, else the TOML value.

    Refuses a token file that others may read (as ssh refuses a private key), and a token too short
    to be guessed at no cost.
    """
    token, source = cfg.admin_token, "[security] admin_token"
    env_value = os.environ.get(cfg.admin_token_env, "") if cfg.admin_token_env else ""
    if cfg.admin_token_file is not None:
        path = cfg.admin_token_file
        try:
            st = path.stat()
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"[security] admin_token_file {path}: {exc.strerror or exc}") from None
        if st.st_mode & 0o077:
            raise ConfigError(
                f"[security] admin_token_file {path} may be read by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run: chmod 600 {path}"
            )
        token, source = text.strip(), f"[security] admin_token_file {path}"
    elif env_value:
        token, source = env_value.strip(), f"the environment variable {cfg.admin_token_env}"
    if token and len(token) < MIN_ADMIN_TOKEN_CHARS:
        raise ConfigError(
            f"the admin token from {source} is {len(token)} characters; it must hold at least 32 random bytes "
            f"({MIN_ADMIN_TOKEN_CHARS}+ characters): make one with `void-engine keys --admin-token FILE`"
        )
    return token


def _to_path_value(key: str, value: Any, base: Path) -> Any:
    def p(v: Any) -> Path:
        q = Path(str(v)).expanduser()
        return q if q.is_absolute() else (base / q)

    if key in _PATHS:
        return p(value) if value not in ("", None) else (None if key != "state_dir" else EngineConfig().state_dir)
    if key in _PATH_LISTS:
        return [p(v) for v in value]
    return value


def _check(cfg: EngineConfig) -> None:
    for name in (
        "chunk_bytes",
        "credit",
        "max_file_bytes",
        "max_job_bytes",
        "max_frames",
        "max_queued",
        "max_attempts",
        "steps",
        "max_spool_bytes",
        "pipeline_memory_bytes",
    ):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"engine setting {name} must be >= 1, got {getattr(cfg, name)}")
    if len(cfg.model_size) != 2 or not all(isinstance(v, int) and v > 0 and v % 16 == 0 for v in cfg.model_size):
        raise ConfigError(f"[worker] model_size must be [height, width], multiples of 16, got {cfg.model_size}")
    problem = window_frames_problem(cfg.window_frames)
    if problem:
        raise ConfigError(f"[worker] {problem}")
    if cfg.attention_backend not in ATTENTION_BACKENDS:
        raise ConfigError(
            f"[worker] attention_backend must be one of {', '.join(repr(b) for b in ATTENTION_BACKENDS)}, "
            f"got {cfg.attention_backend!r}"
        )
    if cfg.reasoner_timeout_s <= 0:
        raise ConfigError(f"[masks] reasoner_timeout_s must be > 0, got {cfg.reasoner_timeout_s}")
    if not cfg.reasoner_api_key_env.strip():
        raise ConfigError("[masks] reasoner_api_key_env must name an environment variable (e.g. GEMINI_API_KEY)")
    if not 0.0 <= cfg.sam3_score_threshold < 1.0:
        raise ConfigError(f"[masks] sam3_score_threshold must be in [0, 1), got {cfg.sam3_score_threshold}")
    if cfg.text_keyframes not in TEXT_KEYFRAMES:
        choices = ", ".join(TEXT_KEYFRAMES)
        raise ConfigError(f"[masks] text_keyframes must be one of {choices}, got {cfg.text_keyframes!r}")
    if cfg.chunk_bytes > 64 * 1024 * 1024:
        raise ConfigError("engine setting chunk_bytes must be <= 64 MiB")
    if cfg.curve and cfg.server_secret_key is None:
        raise ConfigError("[security] curve = true needs server_secret_key (make one with `void-engine keys`)")
    from bridge.protocol import MAX_FRAMES

    if cfg.max_frames > MAX_FRAMES:
        raise ConfigError(
            f"[limits] max_frames must be <= {MAX_FRAMES} (the protocol's header cap holds the upload of a job "
            f"that long, no longer), got {cfg.max_frames}"
        )
    if cfg.io_threads < 0:
        raise ConfigError(f"[worker] io_threads must be >= 0 (0 = one per core), got {cfg.io_threads}")
    if cfg.result_retention_s < 0 or cfg.result_retention_bytes < 0:
        raise ConfigError("[server] result_retention_s and result_retention_bytes must be >= 0 (0 = no limit)")
    if cfg.engines < 0 or cfg.actor_retries < 0:
        raise ConfigError("[cluster] engines and actor_retries must be >= 0")
    if cfg.gpus_per_engine < 0 or cfg.cpus_per_engine < 0:
        raise ConfigError("[cluster] gpus_per_engine and cpus_per_engine must be >= 0")
    if not 0 <= cfg.monitor_port <= 65535:
        raise ConfigError(f"[monitor] monitor_port must be 0..65535, got {cfg.monitor_port}")
    if cfg.monitor_refresh_s <= 0 or cfg.monitor_jobs_shown < 1 or cfg.monitor_strip_frames < 1:
        raise ConfigError("[monitor] monitor_refresh_s must be > 0, monitor_jobs_shown and monitor_strip_frames >= 1")
    try:
        cfg.finish_settings()
    except ValueError as exc:
        raise ConfigError(f"[finish] {exc}") from None
    if not 16 <= cfg.monitor_thumbnail_px <= 2048:
        raise ConfigError(f"[monitor] monitor_thumbnail_px must be 16..2048, got {cfg.monitor_thumbnail_px}")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write ``{section: {key: value}}`` as an engine config TOML (what :func:`load_config` reads).

    Values are bools, numbers, strings, paths or lists of those. Returns ``path``.
    """
    lines = []
    for name, body in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in body.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
