"""A tiny random VOID model directory, in exactly the layout of the real one.

Tests and the demo load it through the same loader as the 5B model. The base transformer is saved
with the real base's 33 input channels (so the loader's widening to 48 runs), the VOID checkpoints
with 48. The tokenizer is a word-level fast tokenizer built in code with the ``tokenizers`` library
(no download) and saved so that ``AutoTokenizer`` loads it.

    void-engine make-tiny-model DIR [--with-pass2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel, DDIMScheduler
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

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


def make_tokenizer() -> PreTrainedTokenizerFast:
    """A small word-level T5-style tokenizer: pad 0, eos 1 appended, unk 2."""
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=226
    )


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


def make_tiny_model(directory: Path, with_pass2: bool = False, seed: int = 0) -> Path:
    """Write a tiny random model directory to `directory` and return it.

    Layout: <dir>/CogVideoX-Fun-V1.5-5b-InP/{transformer,vae,text_encoder,tokenizer,scheduler}/,
    <dir>/void_pass1.safetensors and (with_pass2) <dir>/void_pass2.safetensors.
    """
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

        tokenizer = make_tokenizer()
        tokenizer.save_pretrained(base / "tokenizer")
        torch.manual_seed(seed + 2)
        make_text_encoder(len(tokenizer)).save_pretrained(base / "text_encoder")

        DDIMScheduler(**SCHEDULER_CONFIG).save_pretrained(base / "scheduler")

        save_file(_transformer(48, seed + 3).state_dict(), str(directory / PASS1_FILE))
        if with_pass2:
            save_file(_transformer(48, seed + 4).state_dict(), str(directory / PASS2_FILE))
    finally:
        torch.random.set_rng_state(rng_state)
    return directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """CLI: void-engine make-tiny-model DIR [--with-pass2]."""
    parser.add_argument("directory", metavar="DIR", type=Path, help="where to write the model directory")
    parser.add_argument("--with-pass2", action="store_true", help="also write void_pass2.safetensors")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random weights")


def run(args: argparse.Namespace) -> int:
    path = make_tiny_model(args.directory, with_pass2=args.with_pass2, seed=args.seed)
    print(f"tiny VOID model directory written to {path}")
    return 0
