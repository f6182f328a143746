"""The variant family: a grid of (resolution r, width alpha, head width F).

Variants differ only in r, alpha and F; depth and block structure are those of
MobileNetV2. A family is plain data (no TensorFlow), saved as JSON or TOML so
users can edit it and boards can read it.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from firmware_bridge.files import TEXT_FILE_MAX, read_limited
from vp_edge.errors import FamilyError

#: MobileNetV2 inverted-residual stages: (expansion t, channels c, repeats n, stride s).
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
RESIZE_METHODS = ("nearest", "bilinear")


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round channel counts as MobileNetV2 does (never more than 10 % down)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@dataclass(frozen=True)
class Variant:
    """One member of the family; ``name`` is what boards and votes refer to."""

    name: str
    resolution: int
    alpha: float
    head: int

    def vote_weight(self, max_resolution: int) -> float:
        """The reference VP weight w = (r / max r) * (alpha / 0.35) ** 1.15."""
        return (self.resolution / max_resolution) * (self.alpha / 0.35) ** 1.15


@dataclass(frozen=True)
class Family:
    """A variant family and the raw input every variant shares."""

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    variants: tuple[Variant, ...]
    stem_stride: int = 2
    #: total downsampling of the backbone: 32 (MobileNetV2) or 16 (the last stride-2 stage
    #: keeps its resolution, so inputs of 24-32 px still end on a 2x2 map, not 1x1)
    output_stride: int = 32
    resize: str = "nearest"
    dropout: float = 0.05
    class_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        validate(self)

    @property
    def max_resolution(self) -> int:
        return max(v.resolution for v in self.variants)

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        known = ", ".join(v.name for v in self.variants)
        raise FamilyError(f"no variant named {name!r} in family {self.name!r}; known: {known}")

    def weights(self) -> dict[str, float]:
        return {v.name: v.vote_weight(self.max_resolution) for v in self.variants}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["class_names"] = list(self.class_names)
        d["variants"] = [asdict(v) for v in self.variants]
        return d


def validate(f: Family) -> None:
    """Raise FamilyError naming the first bad field."""
    if len(f.input_shape) != 3 or min(f.input_shape) < 1:
        raise FamilyError(
            f"input_shape must be [height, width, channels], got {list(f.input_shape)}"
        )
    if f.num_classes < 2:
        raise FamilyError(f"num_classes must be >= 2, got {f.num_classes}")
    if not f.variants:
        raise FamilyError("a family needs at least one variant")
    if f.resize not in RESIZE_METHODS:
        raise FamilyError(f"resize must be one of {RESIZE_METHODS}, got {f.resize!r}")
    if f.stem_stride not in (1, 2):
        raise FamilyError(f"stem_stride must be 1 or 2, got {f.stem_stride}")
    if f.output_stride not in (16, 32):
        raise FamilyError(f"output_stride must be 16 or 32, got {f.output_stride}")
    if not 0.0 <= f.dropout < 1.0:
        raise FamilyError(f"dropout must be in [0, 1), got {f.dropout}")
    if f.class_names and len(f.class_names) != f.num_classes:
        raise FamilyError(f"class_names has {len(f.class_names)} names for {f.num_classes} classes")
    names = [v.name for v in f.variants]
    if len(set(names)) != len(names):
        raise FamilyError(f"variant names must be unique, got {names}")
    for v in f.variants:
        if not v.name.replace("_", "").replace("-", "").isalnum():
            raise FamilyError(f"variant name {v.name!r}: use letters, digits, '-' and '_' only")
        if not 8 <= v.resolution <= 1024:
            raise FamilyError(
                f"variant {v.name}: resolution must be in [8, 1024], got {v.resolution}"
            )
        if not 0.1 <= v.alpha <= 2.0:
            raise FamilyError(f"variant {v.name}: alpha must be in [0.1, 2.0], got {v.alpha}")
        if not 8 <= v.head <= 4096:
            raise FamilyError(f"variant {v.name}: head must be in [8, 4096], got {v.head}")


def grid(
    resolutions: list[int], alphas: list[float], head_base: int = 256, head_step: int = 64
) -> tuple[Variant, ...]:
    """The reference grid: for each alpha, the i-th resolution gets F = base + step * i."""
    out = []
    for alpha in alphas:
        for i, r in enumerate(sorted(resolutions)):
            tag = f"{alpha:g}".replace(".", "")
            out.append(Variant(f"a{tag}_r{r}", r, alpha, head_base + head_step * i))
    return tuple(out)


FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

#: the paper's variants have at least this many times fewer parameters / MACs than the
#: MobileNetV2 baseline (5.8-7.1x and 4.3-31x); the shipped families keep to both
PAPER_PARAMS_RATIO, PAPER_MACS_RATIO = 5.8, 4.3


def _fashion(name: str, variants: tuple[Variant, ...]) -> Family:
    """A Fashion-MNIST family (28x28x1, 10 classes) at output stride 16."""
    return Family(
        name=name,
        input_shape=(28, 28, 1),
        num_classes=10,
        variants=variants,
        output_stride=16,
        class_names=FASHION_CLASSES,
    )


PRESETS: dict[str, Family] = {
    # Paper-like grid scaled to 28x28 data: r from 24 to 40 (0.86x to 1.43x the
    # native size) plays the role of the paper's 96..320 on 224-pixel images
    # (0.43x to 1.43x). Output stride 16, so that the 24-32 px variants end on a 2x2 map
    # rather than 1x1 (measured: +3 points each). alpha 0.4 and F = 256: every member
    # 6.09x below the baseline in parameters and 5.42-12.93x in MACs (the paper's bounds
    # are 5.8x and 4.3x); at the demo budget this closed most of the alpha 0.35 family's
    # gap to the baseline (README, recipe study).
    "fashion": _fashion("fashion", grid([24, 28, 32, 40], [0.4], head_step=0)),
    # The paper's own width, alpha 0.35, with F = 256 + 64 i (7.13-7.72x fewer
    # parameters): the family of the README's earlier rows and of `make demo-long`.
    "fashion-a035": _fashion("fashion-a035", grid([24, 28, 32, 40], [0.35])),
    # Two small variants for tests: trains in seconds.
    "tiny": Family(
        name="tiny",
        input_shape=(28, 28, 1),
        num_classes=10,
        variants=(Variant("t16", 16, 0.35, 32), Variant("t24", 24, 0.35, 48)),
        class_names=FASHION_CLASSES,
    ),
}


def from_dict(d: dict, source: str = "family") -> Family:
    """Build a Family from parsed JSON/TOML, with errors that name the key."""
    try:
        variants = tuple(
            Variant(
                name=str(v["name"]),
                resolution=int(v["resolution"]),
                alpha=float(v["alpha"]),
                head=int(v["head"]),
            )
            for v in d["variants"]
        )
        return Family(
            name=str(d["name"]),
            input_shape=tuple(int(s) for s in d["input_shape"]),  # type: ignore[arg-type]
            num_classes=int(d["num_classes"]),
            variants=variants,
            stem_stride=int(d.get("stem_stride", 2)),
            output_stride=int(d.get("output_stride", 32)),
            resize=str(d.get("resize", "nearest")),
            dropout=float(d.get("dropout", 0.05)),
            class_names=tuple(str(c) for c in d.get("class_names", ())),
        )
    except KeyError as e:
        raise FamilyError(f"{source}: missing key {e.args[0]!r}") from None
    except (TypeError, ValueError) as e:
        raise FamilyError(f"{source}: {e}") from None


def load_family(spec: str | Path) -> Family:
    """A preset name ('fashion', 'fashion-a035', 'tiny') or a path to a .json/.toml family file."""
    if str(spec) in PRESETS:
        return PRESETS[str(spec)]
    path = Path(spec)
    if not path.exists():
        raise FamilyError(
            f"family {str(spec)!r} is neither a preset ({', '.join(PRESETS)}) nor an existing file"
        )
    try:
        text = read_limited(path, TEXT_FILE_MAX, f"family file {path}").decode("utf-8")
        d = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as e:
        raise FamilyError(f"cannot read family file {path}: {e}") from None
    return from_dict(d, source=str(path))


def save_family(family: Family, path: Path) -> None:
    path.write_text(json.dumps(family.to_dict(), indent=2) + "\n")
