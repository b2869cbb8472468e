"""dinov2-vit-*-14 and clip-vit-l-14-336 against timm's own loaders, with random weights under the official names.

No pretrained weights can be downloaded here, so each test saves a seeded, randomly initialised timm network under
the file's official key names (DINOv2: timm's names at 518 px plus mask_token; CLIP: OpenAI's `visual.*` names plus a
few text-tower keys) and compares the extractor with a reference computed here independently: timm's network loaded
through timm's checkpoint_filter_fn, with, for DINOv2, the position embedding resampled by a transcription of
facebookresearch/dinov2's interpolate_pos_encoding and EDM2's preprocessing, and for CLIP, CMMD's PIL preprocessing.
Random DINOv2 blocks start with LayerScale 1e-5, which would make the CLS token the same for every image; the
weights set it to 1 and enlarge the position embedding, and the tests assert the features vary across images.
Tolerances are absolute (1e-5) on features of size ~1 (DINOv2, after LayerNorm) or unit norm (CLIP).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import safetensors.torch
import timm
import torch
import torch.nn.functional as F
from PIL import Image
from timm.models.vision_transformer import checkpoint_filter_fn

import ganeval.features.clip  # noqa: F401  (registers the extractors)
import ganeval.features.dinov2  # noqa: F401
from ganeval import features
from ganeval.errors import InputError, WeightsNotFoundError
from ganeval.features.clip import center_crop, resize_like_pil, to_timm_state
from ganeval.features.weights import file_sha256

ARCHITECTURES = {"dinov2-vit-s-14": "vit_small_patch14_dinov2", "dinov2-vit-l-14": "vit_large_patch14_dinov2"}
CLIP_ARCHITECTURE = "vit_large_patch14_clip_quickgelu_336"
TOLERANCE = 1e-5


def images(count: int, channels: int = 3, height: int = 32, width: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth colour gradients with noise: uint8 N x C x H x W, different per image."""
    rng = np.random.default_rng(seed)
    rows, columns = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    out = np.empty((count, channels, height, width))
    for index in range(count):
        low, high = np.sort(rng.uniform(0, 255, 2))
        for channel in range(channels):
            out[index, channel] = low + (high - low) * [columns, rows, columns * rows][channel]
    return torch.from_numpy(np.clip(out + rng.normal(0, 20, out.shape), 0, 255).astype(np.uint8))


# --- DINOv2 -----------------------------------------------------------------------------------------------------

def dinov2_official_state(architecture: str) -> dict[str, torch.Tensor]:
    """A random DINOv2 at 518 px under the official file's names (timm's + mask_token), with weights that make the
    CLS token depend on the image and on the position embedding."""
    torch.manual_seed(0)
    state = timm.create_model(architecture, pretrained=False, num_classes=0).state_dict()
    for key in state:
        if key.endswith(("ls1.gamma", "ls2.gamma")):
            state[key] = torch.ones_like(state[key])
    state["pos_embed"] = state["pos_embed"] * 25
    state["mask_token"] = torch.randn(1, state["cls_token"].shape[-1])
    return state


@pytest.fixture(scope="module")
def dinov2_s_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dinov2") / "dinov2_vits14_pretrain.pth"
    torch.save(dinov2_official_state(ARCHITECTURES["dinov2-vit-s-14"]), path)
    return path


def official_interpolation(pos_embed: torch.Tensor, width: int, height: int, patch: int = 14) -> torch.Tensor:
    """facebookresearch/dinov2 interpolate_pos_encoding, transcribed for the test (square checkpoint grid)."""
    count = pos_embed.shape[1] - 1
    side = math.sqrt(count)
    grid = pos_embed[:, 1:].reshape(1, int(side), int(side), -1).permute(0, 3, 1, 2)
    w0, h0 = width // patch + 0.1, height // patch + 0.1
    grid = F.interpolate(grid, scale_factor=(float(w0 / side), float(h0 / side)), mode="bicubic")
    return torch.cat([pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, pos_embed.shape[-1])], dim=1)


def dinov2_reference(architecture: str, state: dict[str, torch.Tensor], batch: torch.Tensor,
                     official_pos_embed: bool = True) -> torch.Tensor:
    """EDM2's DINOv2Detector (resize_mode='torch') on timm's network loaded by timm's own filter at 224 px."""
    with torch.device("meta"):  # shapes only: the random initialisation would be overwritten (seconds for ViT-L)
        network = timm.create_model(architecture, pretrained=False, img_size=224, num_classes=0).eval()
    loaded = checkpoint_filter_fn(dict(state), network)  # timm resamples pos_embed its own way
    if official_pos_embed:
        loaded["pos_embed"] = official_interpolation(state["pos_embed"], 224, 224)
    network.load_state_dict(loaded, assign=True)
    x = F.interpolate(batch.float(), size=(224, 224), mode="bicubic", antialias=True) / 255
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        return network(x)


@pytest.mark.parametrize("name", ["dinov2-vit-s-14", pytest.param("dinov2-vit-l-14", marks=pytest.mark.slow)])
def test_dinov2_matches_timm_with_official_pos_embed(name, dinov2_s_file, tmp_path):
    if name == "dinov2-vit-s-14":
        path, count = dinov2_s_file, 4
    else:  # ViT-L: ~1.2 GB on disk, ~1.6 s per image on one thread; a colour image and a grey one
        path, count = tmp_path / "dinov2_vitl14_pretrain.pth", 1
        torch.save(dinov2_official_state(ARCHITECTURES[name]), path)
    state = torch.load(path, weights_only=True)
    extractor = features.create(name, device="cpu", weights=path)
    rgb, grey = images(count), images(1, channels=1, seed=1)
    ours = torch.cat([extractor(rgb)["cls_token"], extractor(grey)["cls_token"]])
    expected = dinov2_reference(ARCHITECTURES[name], state, torch.cat([rgb, grey.expand(-1, 3, -1, -1)]))
    assert ours.shape == (count + 1, state["cls_token"].shape[-1])
    assert ours.std(0).mean() > 0.05, "features that do not vary across images would make this test vacuous"
    assert (ours - expected).abs().max() < TOLERANCE
    assert extractor.feature_layer == "cls_token" and extractor.logits_layer is None
    assert extractor.weights_sha256 == file_sha256(path) and extractor.options == {"weights": str(path)}
    assert extractor.takes_any_size  # every image is resized to 224 px


def test_dinov2_pos_embed_is_not_timms_resampling(dinov2_s_file):
    """The comparison above can tell the two resamplings apart: timm's own (size=, antialias) gives other features."""
    state = torch.load(dinov2_s_file, weights_only=True)
    batch = images(4)
    ours = features.create("dinov2-vit-s-14", device="cpu", weights=dinov2_s_file)(batch)["cls_token"]
    timms = dinov2_reference(ARCHITECTURES["dinov2-vit-s-14"], state, batch, official_pos_embed=False)
    assert (ours - timms).abs().max() > 100 * TOLERANCE


@pytest.mark.parametrize("change", ["rename", "drop", "reshape"])
def test_dinov2_key_check_names_the_key(change, dinov2_s_file, tmp_path):
    state = torch.load(dinov2_s_file, weights_only=True)
    key = "blocks.3.attn.qkv.weight"
    if change == "rename":
        state["blocks.3.attn.qkv.weights"] = state.pop(key)
    elif change == "drop":
        del state[key]
    else:
        state[key] = state[key][:-1]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(InputError) as error:
        features.create("dinov2-vit-s-14", device="cpu", weights=tmp_path / "bad.pth")
    message = str(error.value)
    named = {"rename": f"missing: {key}; unexpected: {key}s", "drop": f"missing: {key})",
             "reshape": f"wrong shape: {key} (1151, 384) (expected (1152, 384))"}[change]
    assert "\n" not in message and named in message and "bad.pth" in message


def test_dinov2_weights_from_environment_torch_hub_and_hf_cache(dinov2_s_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("GANEVAL_DINOV2_VIT_S_14_WEIGHTS", str(dinov2_s_file))
    from_env = features.create("dinov2-vit-s-14", device="cpu", download=False)
    assert from_env.options["weights"] == str(dinov2_s_file)
    monkeypatch.delenv("GANEVAL_DINOV2_VIT_S_14_WEIGHTS")
    # timm's copy: timm's names (no mask_token), pos_embed still at 518 px, in the Hugging Face cache.
    timm_state = torch.load(dinov2_s_file, weights_only=True)
    del timm_state["mask_token"]
    hf_file = tmp_path / "hf/models--timm--vit_small_patch14_dinov2.lvd142m/snapshots/abc/model.safetensors"
    hf_file.parent.mkdir(parents=True)
    safetensors.torch.save_file(timm_state, str(hf_file))
    from_hf = features.create("dinov2-vit-s-14", device="cpu", download=False)
    assert from_hf.options["weights"] == str(hf_file)
    batch = images(2)
    assert torch.allclose(from_hf(batch)["cls_token"], from_env(batch)["cls_token"], rtol=0, atol=TOLERANCE)
    hub_file = tmp_path / "torch/hub/checkpoints/dinov2_vits14_pretrain.pth"  # the official file comes first
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(dinov2_s_file.read_bytes())
    assert features.create("dinov2-vit-s-14", device="cpu", download=False).options["weights"] == str(hub_file)


@pytest.mark.parametrize("name, file, repo", [
    ("dinov2-vit-l-14", "dinov2_vitl14_pretrain.pth", "models--timm--vit_large_patch14_dinov2.lvd142m"),
    ("clip-vit-l-14-336", "open_clip_pytorch_model.bin", "models--timm--vit_large_patch14_clip_336.openai"),
])
def test_missing_weights_name_the_file_and_places(name, file, repo, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    for env in ("GANEVAL_DINOV2_VIT_L_14_WEIGHTS", "GANEVAL_CLIP_VIT_L_14_336_WEIGHTS"):
        monkeypatch.delenv(env, raising=False)
    with pytest.raises(WeightsNotFoundError) as error:
        features.create(name, device="cpu", download=False)
    message = str(error.value)
    assert "\n" not in message and file in message and "model.safetensors" in message
    assert str(tmp_path / "torch/hub/checkpoints") in message and str(tmp_path / "hf" / repo) in message


def test_score_cli_with_dinov2(dinov2_s_file, tmp_path, monkeypatch, run_cli):
    np.save(tmp_path / "real.npy", images(16, seed=2).numpy())
    np.save(tmp_path / "fake.npy", images(16, seed=3).numpy())
    monkeypatch.setenv("GANEVAL_DINOV2_VIT_S_14_WEIGHTS", str(dinov2_s_file))
    args = ("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--extractor", "dinov2-vit-s-14", "--metrics",
            "fid", "--device", "cpu", "--json", "--quiet")
    code, out, err = run_cli(*args)
    assert code == 0, err
    record = json.loads(out)
    assert record["extractor"] == "dinov2-vit-s-14" and record["fid"] > 0
    assert record["provenance"]["extractor_weights_sha256"] == file_sha256(dinov2_s_file)
    monkeypatch.setenv("GANEVAL_DINOV2_VIT_S_14_WEIGHTS", str(tmp_path / "nowhere.pth"))
    code, _, err = run_cli(*args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nowhere.pth" in err


def test_inputs_other_than_uint8_images_are_one_line_errors(dinov2_s_file):
    extractor = features.create("dinov2-vit-s-14", device="cpu", weights=dinov2_s_file)
    for bad in (torch.zeros(2, 3, 32, 32), torch.zeros(2, 2, 32, 32, dtype=torch.uint8), torch.zeros(3, 32, 32)):
        with pytest.raises(InputError, match="dinov2-vit-s-14 takes uint8 images N x 1|3 x H x W"):
            extractor(bad)


# --- CLIP -------------------------------------------------------------------------------------------------------

def timm_to_openai(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's CLIP image tower under OpenAI's names (the inverse of timm's _convert_openai_clip)."""
    assert not state["head.bias"].any(), "OpenAI's projection has no bias"
    swaps = (("patch_embed.proj", "conv1"), ("norm_pre", "ln_pre"), ("blocks.", "transformer.resblocks."),
             ("attn.qkv.", "attn.in_proj_"), ("attn.proj", "attn.out_proj"), ("norm1", "ln_1"), ("norm2", "ln_2"),
             ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"))
    out = {"visual.proj": state["head.weight"].T.contiguous(), "visual.class_embedding": state["cls_token"].reshape(-1),
           "visual.positional_embedding": state["pos_embed"][0]}
    for key, value in state.items():
        if key in ("head.weight", "head.bias", "cls_token", "pos_embed"):
            continue
        for timm_name, openai_name in swaps:
            key = key.replace(timm_name, openai_name)
        out["visual." + ("ln_post." + key[5:] if key.startswith("norm.") else key)] = value
    return out


TEXT_TOWER = {"token_embedding.weight": torch.zeros(8, 4), "positional_embedding": torch.zeros(77, 4),
              "transformer.resblocks.0.attn.in_proj_weight": torch.zeros(12, 4), "logit_scale": torch.zeros(())}


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    """open_clip_pytorch_model.bin's layout: OpenAI's names, visual and (here a few fake) text-tower keys."""
    torch.manual_seed(0)
    state = timm.create_model(CLIP_ARCHITECTURE, pretrained=False, num_classes=768).state_dict()
    path = tmp_path_factory.mktemp("clip") / "open_clip_pytorch_model.bin"
    torch.save({**timm_to_openai(state), **TEXT_TOWER}, path)
    return path


def cmmd_reference(state: dict[str, torch.Tensor], batch: np.ndarray) -> torch.Tensor:
    """CMMD's preprocessing (PIL centre crop + bicubic resize, /255, CLIP mean/std) into timm's CLIP loaded by
    timm's checkpoint_filter_fn from OpenAI's names, L2-normalised."""
    with torch.device("meta"):
        network = timm.create_model(CLIP_ARCHITECTURE, pretrained=False, num_classes=768).eval()
    network.load_state_dict(checkpoint_filter_fn(state, network), assign=True)
    resized = []
    for image in batch.transpose(0, 2, 3, 1):
        picture = Image.fromarray(image, "RGB")
        width, height = picture.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        resized.append(np.asarray(picture.crop((left, top, left + side, top + side)).resize((336, 336), Image.BICUBIC)))
    x = torch.from_numpy(np.stack(resized).transpose(0, 3, 1, 2) / 255.0).float()
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        return F.normalize(network(x), dim=-1)


@pytest.mark.slow
def test_clip_matches_timm_and_cmmd_preprocessing(clip_file):
    """A colour image and a grey one, 32 x 40 (the centre crop matters); ~5 s per image on one thread."""
    extractor = features.create("clip-vit-l-14-336", device="cpu", weights=clip_file)
    rgb, grey = images(1, height=32, width=40), images(1, channels=1, height=32, width=40, seed=1)
    ours = torch.cat([extractor(rgb)["image_embedding"], extractor(grey)["image_embedding"]])
    batch = torch.cat([rgb, grey.expand(-1, 3, -1, -1)]).numpy()
    expected = cmmd_reference(torch.load(clip_file, weights_only=True), batch)
    assert ours.shape == (2, 768) and torch.allclose(ours.norm(dim=1), torch.ones(2))
    assert (ours[0] - ours[1]).abs().max() > 1e-3, "features that do not vary across images would make this vacuous"
    assert (ours - expected).abs().max() < TOLERANCE
    assert extractor.feature_layer == "image_embedding" and extractor.weights_sha256 == file_sha256(clip_file)


@pytest.mark.slow
def test_clip_names_convert_and_the_key_check_is_strict_on_the_visual_tower(clip_file, tmp_path):
    state = torch.load(clip_file, weights_only=True)
    torch.manual_seed(0)
    network = timm.create_model(CLIP_ARCHITECTURE, pretrained=False, num_classes=768)
    original = network.state_dict()  # what clip_file was written from
    for given in (state, original):  # OpenAI's names (text tower and all), timm's names (the safetensors copy)
        converted = to_timm_state(given, network, clip_file)
        assert converted.keys() == original.keys()
        assert all(torch.equal(converted[key], original[key]) for key in original)
    del state["visual.ln_post.bias"]
    torch.save(state, tmp_path / "bad.bin")
    with pytest.raises(InputError) as error:
        features.create("clip-vit-l-14-336", device="cpu", weights=tmp_path / "bad.bin")
    assert "\n" not in str(error.value) and "missing: visual.ln_post.bias" in str(error.value)
    assert "unexpected" not in str(error.value), "the text tower is not part of the check"


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_clip_refuses_torchscript_and_names_the_file_to_use(tmp_path):
    class Tiny(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    torch.jit.script(Tiny()).save(str(tmp_path / "ViT-L-14-336px.pt"))
    with pytest.raises(InputError, match="TorchScript archive.*open_clip_pytorch_model.bin or model.safetensors"):
        features.create("clip-vit-l-14-336", device="cpu", weights=tmp_path / "ViT-L-14-336px.pt")


@pytest.mark.parametrize("height, width", [(28, 28), (32, 32), (64, 64), (375, 500), (500, 375)])
def test_clip_resize_equals_pil(height, width):
    """The torch centre crop and resize give PIL's uint8 pixels exactly, on noise, whose bicubic overshoot PIL clips
    between its two passes (a one-pass float resize is ~20 grey levels off there)."""
    image = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    side = min(height, width)
    left, top = (width - side) // 2, (height - side) // 2
    pil = np.asarray(Image.fromarray(image, "RGB").crop((left, top, left + side, top + side)).resize((336, 336),
                                                                                                  Image.BICUBIC))
    ours = resize_like_pil(center_crop(torch.from_numpy(image).permute(2, 0, 1)[None]), 336)[0].permute(1, 2, 0)
    assert np.array_equal(ours.numpy().astype(np.uint8), pil) and ours.dtype == torch.float32


def test_fd_dinov2_is_fid_on_the_dinov2_rows(dinov2_s_file, tmp_path, run_cli):
    """FD-DINOv2 is FID's code on DINOv2 features: the record's `fid` under the dinov2 extractor equals FID of the
    extractor's rows, by ganeval's kernel and by torch-fidelity's (scipy's sqrtm) on the same rows."""
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    from ganeval.metrics import fid

    fake, real = images(24, seed=4), images(24, seed=5)
    np.save(tmp_path / "fake.npy", fake.numpy())
    np.save(tmp_path / "real.npy", real.numpy())
    code, out, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--extractor", "dinov2-vit-s-14",
                             "--weights", dinov2_s_file, "--metrics", "fid", "--device", "cpu", "--json", "--quiet",
                             "--no-cache")
    assert code == 0, err
    recorded = json.loads(out)["fid"]
    extractor = features.create("dinov2-vit-s-14", device="cpu", weights=dinov2_s_file)
    with pytest.warns(UserWarning, match="rank deficient"):  # N < d, as said below
        rows = [extractor(batch)["cls_token"].double().numpy() for batch in (real, fake)]
        kernel = fid(rows[0], rows[1])
    # N = 24 < d = 384 keeps the test quick; the covariance is then rank deficient, and the streaming moments of a
    # score against a covariance of the rows differ in the last bits, which its square root amplifies to ~1e-7
    assert recorded == pytest.approx(kernel, rel=1e-6)
    stats = [{"mu": side.mean(0), "sigma": np.cov(side, rowvar=False)} for side in rows]
    fidelity = fid_statistics_to_metric(stats[0], stats[1], verbose=False)["frechet_inception_distance"]
    # scipy's sqrtm (torch-fidelity's) of a rank-deficient product is accurate to ~1e-5 here: the project's 1e-4
    assert recorded == pytest.approx(fidelity, rel=1e-4)


def test_networks_are_built_without_initialising_and_take_the_files_dtype_as_declared():
    """unbuilt + load_into, which the ViT extractors use: float32 parameters from a half-precision file, and a
    network whose buffer the file lacks refused rather than left on the meta device."""
    from ganeval.features.weights import load_into, unbuilt

    network = unbuilt(lambda: torch.nn.Linear(3, 2))
    assert network.weight.is_meta
    state = {"weight": torch.ones(2, 3, dtype=torch.float16), "bias": torch.zeros(2, dtype=torch.float16)}
    loaded = load_into(network, state)
    assert loaded.weight.dtype == torch.float32 and torch.equal(loaded(torch.ones(1, 3)), torch.full((1, 2), 3.0))

    def with_buffer():
        module = torch.nn.Linear(3, 2)
        module.register_buffer("scale", torch.ones(2), persistent=False)
        return module

    with pytest.raises(RuntimeError, match="scale"):
        load_into(unbuilt(with_buffer), {"weight": torch.ones(2, 3), "bias": torch.zeros(2)})

    def reads_a_value():  # as a builder that computes a size with .item() does
        return torch.nn.Linear(int(torch.tensor(3).item()), 2)

    built = load_into(unbuilt(reads_a_value), state)
    assert built.weight.dtype == torch.float32 and torch.equal(built(torch.ones(1, 3)), torch.full((1, 2), 3.0))
