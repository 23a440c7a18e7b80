"""``torch.nn`` modules a client may ask for: an explicit whitelist with typed arguments.

The reference call::

    torch.manual_seed(seed)
    model = torch.nn.Sequential(*modules)   # each parameterised module built with dtype=
    state = model.state_dict()

Module constructors draw from torch's global generator, so they run under the global
lock (``global_rng.py``). Nothing from a request is imported or looked up by name: a
``type`` is a key of ``MODULES`` and every argument a declared ``Arg``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from app.core.errors import InvalidParameter
from app.core.inits.args import Arg, parse_args, value_of
from app.core.inits.global_rng import seeded_global_rng
from app.core.torch_dtypes import FLOATS, TORCH_DTYPES

Check = Callable[[Mapping[str, Any], str], None]


def _no_check(args: Mapping[str, Any], where: str) -> None:
    pass


@dataclass(frozen=True)
class ModuleSpec:
    name: str
    cls: type[nn.Module]
    args: tuple[Arg, ...]
    factory: bool
    """Takes ``dtype=`` (has parameters or buffers)."""
    check: Check = _no_check
    doc: str = ""
    positional: tuple[str, ...] = field(default=())
    """Arguments shown positionally in the reference code."""

    def arg(self, args: Mapping[str, Any], name: str) -> Any:
        return value_of(args, self.args, name)


def size(name: str, minimum: int = 1, default: Any = ...) -> Arg:
    return Arg(name, "int", min=minimum) if default is ... else Arg(name, "int", default,
                                                                     min=minimum)


def flag(name: str, default: bool) -> Arg:
    return Arg(name, "bool", default)


def prob(name: str, default: float) -> Arg:
    return Arg(name, "float", default, min=0, max=1)


def eps(default: float) -> Arg:
    return Arg("eps", "float", default, min=0, exclusive_min=True)


def _divides(a: str, b: str) -> Check:
    def check(args: Mapping[str, Any], where: str) -> None:
        if args[b] % args[a]:
            raise InvalidParameter(f"{where}.{a}", f"must divide {b} ({args[b]})")
    return check


def _conv_check(transposed: bool) -> Check:
    def check(args: Mapping[str, Any], where: str) -> None:
        groups = args.get("groups", 1)
        for key in ("in_channels", "out_channels"):
            if args[key] % groups:
                raise InvalidParameter(f"{where}.groups", f"must divide {key} ({args[key]})")
        stride = args.get("stride", 1)
        strides = stride if isinstance(stride, tuple) else (stride,)
        if not transposed and args.get("padding") == "same" and set(strides) != {1}:
            raise InvalidParameter(f"{where}.padding", "'same' needs stride 1")
    return check


def _conv(name: str, cls: type[nn.Module], d: int, transposed: bool) -> ModuleSpec:
    def ints(n: str, default: Any = ..., minimum: int = 1) -> Arg:
        if default is ...:
            return Arg(n, "ints", min=minimum, length=d)
        return Arg(n, "ints", default, min=minimum, length=d)

    args = [size("in_channels"), size("out_channels"), ints("kernel_size"),
            ints("stride", 1), ints("dilation", 1), size("groups", 1, 1), flag("bias", True)]
    if transposed:
        args += [ints("padding", 0, 0), ints("output_padding", 0, 0)]
    else:
        args += [Arg("padding", "padding", 0, min=0, length=d),
                 Arg("padding_mode", "choice", "zeros",
                     choices=("zeros", "reflect", "replicate", "circular"))]
    return ModuleSpec(name, cls, tuple(args), True, _conv_check(transposed),
                      positional=("in_channels", "out_channels", "kernel_size"))


def _embedding_check(args: Mapping[str, Any], where: str) -> None:
    pad = args.get("padding_idx")
    n = args["num_embeddings"]
    if pad is not None and not -n <= pad < n:
        raise InvalidParameter(f"{where}.padding_idx", f"must be in [-{n}, {n})")


def _lstm_check(args: Mapping[str, Any], where: str) -> None:
    if args.get("proj_size", 0) >= args["hidden_size"]:
        raise InvalidParameter(f"{where}.proj_size", "must be smaller than hidden_size")


def _rnn(name: str, cls: type[nn.Module], extra: tuple[Arg, ...] = (),
         check: Check = _no_check) -> ModuleSpec:
    return ModuleSpec(name, cls, (
        size("input_size"), size("hidden_size"), size("num_layers", 1, 1), flag("bias", True),
        flag("batch_first", False), prob("dropout", 0.0), flag("bidirectional", False),
        *extra), True, check, positional=("input_size", "hidden_size"))


def _mha_check(args: Mapping[str, Any], where: str) -> None:
    if args["embed_dim"] % args["num_heads"]:
        raise InvalidParameter(f"{where}.num_heads", f"must divide embed_dim ({args['embed_dim']})")


def _transformer_check(args: Mapping[str, Any], where: str) -> None:
    if args["d_model"] % args["nhead"]:
        raise InvalidParameter(f"{where}.nhead", f"must divide d_model ({args['d_model']})")


def _transformer(name: str, cls: type[nn.Module]) -> ModuleSpec:
    return ModuleSpec(name, cls, (
        size("d_model"), size("nhead"), size("dim_feedforward", 1, 2048), prob("dropout", 0.1),
        Arg("activation", "choice", "relu", choices=("relu", "gelu")),
        Arg("layer_norm_eps", "float", 1e-5, min=0, exclusive_min=True),
        flag("batch_first", False), flag("norm_first", False), flag("bias", True),
    ), True, _transformer_check, positional=("d_model", "nhead"))


def _pool(name: str, cls: type[nn.Module], d: int) -> ModuleSpec:
    return ModuleSpec(name, cls, (
        Arg("kernel_size", "ints", min=1, length=d), Arg("stride", "ints", None, min=1, length=d,
                                                         nullable=True),
        Arg("padding", "ints", 0, min=0, length=d)), False, positional=("kernel_size",))


def _adaptive(name: str, cls: type[nn.Module], d: int) -> ModuleSpec:
    return ModuleSpec(name, cls, (Arg("output_size", "ints", min=1, length=d),), False,
                      positional=("output_size",))


def _simple(name: str, cls: type[nn.Module], *args: Arg) -> ModuleSpec:
    return ModuleSpec(name, cls, tuple(args), False)


def _norm(name: str, cls: type[nn.Module]) -> ModuleSpec:
    return ModuleSpec(name, cls, (
        size("num_features"), eps(1e-5), Arg("momentum", "float", 0.1, min=0, max=1,
                                             nullable=True),
        flag("affine", True), flag("track_running_stats", True)), True,
        positional=("num_features",))


MODULES: dict[str, ModuleSpec] = {s.name: s for s in (
    ModuleSpec("Linear", nn.Linear, (size("in_features"), size("out_features"),
                                     flag("bias", True)), True,
               positional=("in_features", "out_features")),
    ModuleSpec("Bilinear", nn.Bilinear, (size("in1_features"), size("in2_features"),
                                         size("out_features"), flag("bias", True)), True,
               positional=("in1_features", "in2_features", "out_features")),
    _conv("Conv1d", nn.Conv1d, 1, False),
    _conv("Conv2d", nn.Conv2d, 2, False),
    _conv("Conv3d", nn.Conv3d, 3, False),
    _conv("ConvTranspose1d", nn.ConvTranspose1d, 1, True),
    _conv("ConvTranspose2d", nn.ConvTranspose2d, 2, True),
    _conv("ConvTranspose3d", nn.ConvTranspose3d, 3, True),
    ModuleSpec("Embedding", nn.Embedding, (size("num_embeddings"), size("embedding_dim"),
                                           Arg("padding_idx", "int", None, nullable=True)),
               True, _embedding_check, positional=("num_embeddings", "embedding_dim")),
    ModuleSpec("LayerNorm", nn.LayerNorm, (
        Arg("normalized_shape", "ints", min=1, length=0), eps(1e-5),
        flag("elementwise_affine", True), flag("bias", True)), True,
        positional=("normalized_shape",)),
    ModuleSpec("GroupNorm", nn.GroupNorm, (size("num_groups"), size("num_channels"), eps(1e-5),
                                           flag("affine", True)), True,
               _divides("num_groups", "num_channels"),
               positional=("num_groups", "num_channels")),
    _norm("BatchNorm1d", nn.BatchNorm1d),
    _norm("BatchNorm2d", nn.BatchNorm2d),
    _norm("BatchNorm3d", nn.BatchNorm3d),
    _rnn("RNN", nn.RNN, (Arg("nonlinearity", "choice", "tanh", choices=("tanh", "relu")),)),
    _rnn("LSTM", nn.LSTM, (size("proj_size", 0, 0),), _lstm_check),
    _rnn("GRU", nn.GRU),
    ModuleSpec("MultiheadAttention", nn.MultiheadAttention, (
        size("embed_dim"), size("num_heads"), prob("dropout", 0.0), flag("bias", True),
        flag("add_bias_kv", False), flag("add_zero_attn", False),
        Arg("kdim", "int", None, min=1, nullable=True),
        Arg("vdim", "int", None, min=1, nullable=True), flag("batch_first", False)), True,
        _mha_check, positional=("embed_dim", "num_heads")),
    _transformer("TransformerEncoderLayer", nn.TransformerEncoderLayer),
    _transformer("TransformerDecoderLayer", nn.TransformerDecoderLayer),
    _simple("Identity", nn.Identity),
    _simple("ReLU", nn.ReLU),
    _simple("ReLU6", nn.ReLU6),
    _simple("GELU", nn.GELU, Arg("approximate", "choice", "none", choices=("none", "tanh"))),
    _simple("SiLU", nn.SiLU),
    _simple("Mish", nn.Mish),
    _simple("Tanh", nn.Tanh),
    _simple("Sigmoid", nn.Sigmoid),
    _simple("Softplus", nn.Softplus, Arg("beta", "float", 1.0, min=0, exclusive_min=True),
            Arg("threshold", "float", 20.0)),
    _simple("LeakyReLU", nn.LeakyReLU, Arg("negative_slope", "float", 0.01)),
    _simple("ELU", nn.ELU, Arg("alpha", "float", 1.0)),
    _simple("Softmax", nn.Softmax, Arg("dim", "int", None, nullable=True)),
    _simple("LogSoftmax", nn.LogSoftmax, Arg("dim", "int", None, nullable=True)),
    _simple("Dropout", nn.Dropout, prob("p", 0.5)),
    _simple("Dropout1d", nn.Dropout1d, prob("p", 0.5)),
    _simple("Dropout2d", nn.Dropout2d, prob("p", 0.5)),
    _simple("Dropout3d", nn.Dropout3d, prob("p", 0.5)),
    _simple("Flatten", nn.Flatten, Arg("start_dim", "int", 1), Arg("end_dim", "int", -1)),
    _pool("MaxPool1d", nn.MaxPool1d, 1),
    _pool("MaxPool2d", nn.MaxPool2d, 2),
    _pool("MaxPool3d", nn.MaxPool3d, 3),
    _pool("AvgPool1d", nn.AvgPool1d, 1),
    _pool("AvgPool2d", nn.AvgPool2d, 2),
    _pool("AvgPool3d", nn.AvgPool3d, 3),
    _adaptive("AdaptiveAvgPool1d", nn.AdaptiveAvgPool1d, 1),
    _adaptive("AdaptiveAvgPool2d", nn.AdaptiveAvgPool2d, 2),
    _adaptive("AdaptiveAvgPool3d", nn.AdaptiveAvgPool3d, 3),
)}

MODULE_DTYPES = FLOATS


@dataclass(frozen=True)
class Layer:
    spec: ModuleSpec
    args: dict[str, Any]


def parse_layers(raw: Sequence[Mapping[str, Any]]) -> list[Layer]:
    layers = []
    for i, item in enumerate(raw):
        where = f"modules[{i}]"
        kind = item.get("type")
        if not isinstance(kind, str) or kind not in MODULES:
            raise InvalidParameter(f"{where}.type", f"unknown module type {kind!r}; known: "
                                                    f"{', '.join(MODULES)}")
        spec = MODULES[kind]
        args = parse_args(spec.args, {k: v for k, v in item.items() if k != "type"}, where)
        full = {a.name: spec.arg(args, a.name) for a in spec.args}
        spec.check(full, where)
        layers.append(Layer(spec, args))
    return layers


def _construct(layer: Layer, dtype: str) -> nn.Module:
    kwargs = dict(layer.args)
    if layer.spec.factory:
        kwargs["dtype"] = TORCH_DTYPES[dtype]
    return layer.spec.cls(**kwargs)


def count_elements(layers: Sequence[Layer], dtype: str) -> int:
    """Elements of the state_dict, counted on the meta device: no memory, no draws."""
    with torch.device("meta"):
        model = nn.Sequential(*(_construct(layer, dtype) for layer in layers))
    return sum(math.prod(t.shape) for t in model.state_dict().values())


def build(layers: Sequence[Layer], seed: int, dtype: str) -> dict[str, torch.Tensor]:
    """The state_dict of nn.Sequential(*modules) built right after torch.manual_seed(seed)."""
    with seeded_global_rng(seed):
        model = nn.Sequential(*(_construct(layer, dtype) for layer in layers))
    return {k: v.detach() for k, v in model.state_dict().items()}


def reference(layers: Sequence[Layer], seed: int, dtype: str) -> str:
    parts = []
    for layer in layers:
        pos = [repr(layer.args[k]) for k in layer.spec.positional if k in layer.args]
        kw = [f"{k}={v!r}" for k, v in layer.args.items() if k not in layer.spec.positional]
        if layer.spec.factory:
            kw.append(f"dtype=torch.{dtype}")
        parts.append(f"    nn.{layer.spec.name}({', '.join(pos + kw)}),")
    body = "\n".join(parts)
    return (f"import torch\nfrom torch import nn\ntorch.manual_seed({seed})\n"
            f"model = nn.Sequential(\n{body}\n)\nstate = model.state_dict()\n")
