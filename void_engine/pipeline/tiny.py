"""A tiny random VOID model directory, in exactly the layout of the real one.

Tests and the demo load it through the same loader as the 5B model. The base transformer is saved
with the real base's 33 input channels (so the loader's widening to 48 runs), the VOID checkpoints
with 48. The tokenizer folder is laid out as the real one: a SentencePiece ``spiece.model`` (trained
here, in code, on a few dozen words), ``tokenizer_config.json`` naming ``T5Tokenizer``,
``special_tokens_map.json`` and ``added_tokens.json`` -- no ``tokenizer.json``, so transformers
converts ``spiece.model`` at load time exactly as it does for the 5B model (which needs protobuf).

The VOID checkpoints come in two layouts (which one the real files use is read from their headers):
``delta`` holds the transformer blocks and the patch embedding only, so the rest comes from the base
transformer; ``complete`` holds every tensor of the 48-channel transformer, so the base transformer
weights are never read (``void-engine download`` then does not fetch them).

    void-engine make-tiny-model DIR [--with-pass2] [--layout complete|delta]
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import sentencepiece
import torch
from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXTransformer3DModel
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from safetensors.torch import save_file
from transformers import AutoTokenizer, PreTrainedTokenizerBase, T5Config, T5EncoderModel

from .model_dir import BASE_FOLDER, PASS1_FILE, PASS2_FILE

TEXT_DIM = 32
BASE_IN_CHANNELS = 33  # as in the real CogVideoX-Fun-V1.5-5b-InP base

TINY_TRANSFORMER = dict(
    num_attention_heads=2,
    attention_head_dim=16,
    out_channels=16,
    time_embed_dim=16,
    text_embed_dim=TEXT_DIM,
    num_layers=2,
    sample_width=90,
    sample_height=60,
    sample_frames=81,
    patch_size=2,
    patch_size_t=2,
    temporal_compression_ratio=4,
    max_text_seq_length=226,
    use_rotary_positional_embeddings=True,
    use_learned_positional_embeddings=False,
    patch_bias=False,
)

TINY_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("CogVideoXDownBlock3D",) * 4,
    up_block_types=("CogVideoXUpBlock3D",) * 4,
    block_out_channels=(8, 8, 16, 16),
    latent_channels=16,
    layers_per_block=1,
    norm_num_groups=4,
    temporal_compression_ratio=4,
    sample_height=480,
    sample_width=720,
    scaling_factor=0.7,
    use_quant_conv=False,
    use_post_quant_conv=False,
)

# The CogVideoX-Fun scheduler config ("DDIM_Origin" reads it with DDIMScheduler).
SCHEDULER_CONFIG = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    num_train_timesteps=1000,
    clip_sample=False,
    set_alpha_to_one=True,
    steps_offset=0,
    prediction_type="v_prediction",
    rescale_betas_zero_snr=True,
    timestep_spacing="trailing",
)

WORDS = (
    "a an the of and in on at with to from is are was empty clean background scene room table floor wall "
    "street road grass sky water tree trees car person people ball box cup chair bed window door light "
    "shadow reflection left right behind front moving still video frame high quality no object"
).split()


LAYOUTS = ("delta", "complete")
# A delta checkpoint holds only the tensors whose names start so (a fine-tune's trainable part).
DELTA_PREFIXES = ("transformer_blocks.", "patch_embed.")
SPIECE_VOCAB = 64  # an upper bound (hard_vocab_limit=False): the words above give about 64 pieces
SPECIAL_TOKENS = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def train_spiece_model() -> bytes:
    """A small SentencePiece unigram model (the format of T5's spiece.model): pad 0, eos 1, unk 2, no bos.

    Trained in code on WORDS, single-threaded, so the bytes are the same on every run.
    """
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter([" ".join(WORDS)]),
        model_writer=model,
        vocab_size=SPIECE_VOCAB,
        hard_vocab_limit=False,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def write_tokenizer(folder: Path) -> Path:
    """Write a T5 tokenizer folder in the hub's layout (spiece.model + JSON configs, no tokenizer.json)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spiece.model").write_bytes(train_spiece_model())
    config = {
        "tokenizer_class": "T5Tokenizer",
        "model_max_length": 226,
        "extra_ids": 0,  # the real one has 100 <extra_id_N> sentinels, which T5's encoder never sees here
        "additional_special_tokens": [],
        **SPECIAL_TOKENS,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    (folder / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS, indent=2))
    (folder / "added_tokens.json").write_text("{}")
    return folder


def make_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """Write the tiny tokenizer folder to `folder` and load it back the way the loader loads the 5B one."""
    return AutoTokenizer.from_pretrained(write_tokenizer(folder))


def make_text_encoder(vocab_size: int) -> T5EncoderModel:
    config = T5Config(
        vocab_size=vocab_size,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_heads=4,
        feed_forward_proj="gated-gelu",
        pad_token_id=0,
        eos_token_id=1,
    )
    return T5EncoderModel(config).eval()


def _transformer(in_channels: int, seed: int) -> CogVideoXTransformer3DModel:
    torch.manual_seed(seed)
    model = CogVideoXTransformer3DModel(in_channels=in_channels, **TINY_TRANSFORMER)
    # Random init leaves the output projections near zero; scale up so every weight matters in tests.
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim >= 2:
                param.mul_(2.0)
    return model.eval()


def _checkpoint(seed: int, layout: str) -> dict[str, torch.Tensor]:
    state = _transformer(48, seed).state_dict()
    if layout == "delta":
        state = {name: t for name, t in state.items() if name.startswith(DELTA_PREFIXES)}
    return state


def make_tiny_model(directory: Path, with_pass2: bool = False, seed: int = 0, layout: str = "complete") -> Path:
    """Write a tiny random model directory to `directory` and return it.

    Layout: <dir>/CogVideoX-Fun-V1.5-5b-InP/{transformer,vae,text_encoder,tokenizer,scheduler}/,
    <dir>/void_pass1.safetensors and (with_pass2) <dir>/void_pass2.safetensors. `layout` is the VOID
    checkpoints' ("delta": blocks and patch embedding only; "complete": every transformer tensor).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    directory = Path(directory)
    base = directory / BASE_FOLDER
    base.mkdir(parents=True, exist_ok=True)
    rng_state = torch.random.get_rng_state()
    try:
        _transformer(BASE_IN_CHANNELS, seed).save_pretrained(base / "transformer")
        config_path = base / "transformer" / "config.json"
        config = json.loads(config_path.read_text())
        config["add_noise_in_inpaint_model"] = True  # as in the real base config
        config_path.write_text(json.dumps(config, indent=2))

        torch.manual_seed(seed + 1)
        AutoencoderKLCogVideoX(**TINY_VAE).save_pretrained(base / "vae")

        tokenizer = make_tokenizer(base / "tokenizer")
        torch.manual_seed(seed + 2)
        make_text_encoder(len(tokenizer)).save_pretrained(base / "text_encoder")

        DDIMScheduler(**SCHEDULER_CONFIG).save_pretrained(base / "scheduler")

        save_file(_checkpoint(seed + 3, layout), str(directory / PASS1_FILE))
        if with_pass2:
            save_file(_checkpoint(seed + 4, layout), str(directory / PASS2_FILE))
    finally:
        torch.random.set_rng_state(rng_state)
    return directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """CLI: void-engine make-tiny-model DIR [--with-pass2] [--layout complete|delta]."""
    parser.add_argument("directory", metavar="DIR", type=Path, help="where to write the model directory")
    parser.add_argument("--with-pass2", action="store_true", help="also write void_pass2.safetensors")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random weights")
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="complete",
        help="VOID checkpoints with every transformer tensor (complete, the default) or the blocks only (delta)",
    )


def run(args: argparse.Namespace) -> int:
    path = make_tiny_model(args.directory, with_pass2=args.with_pass2, seed=args.seed, layout=args.layout)
    print(f"tiny VOID model directory written to {path}")
    return 0
