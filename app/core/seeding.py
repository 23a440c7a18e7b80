"""A worker's seeds and the "seed everything" recipe (``GET /v1/seeds``), built from what the
engines declare (``Engine.seeding``): which process-wide seeding call makes each engine's
stream, under which role (``python``, ``numpy``, ``torch``...), with which recipe steps. The
determinism switches that follow are no engine's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.core.errors import InvalidParameter
from app.core.registry import ENGINES
from app.core.runs import engine_seed
from app.core.spec import Engine, SeedingStep

DETERMINISM: tuple[SeedingStep, ...] = (
    SeedingStep("torch.backends.cudnn.deterministic = True", "cuDNN picks deterministic "
                "convolution algorithms.", "Convolutions can be slower."),
    SeedingStep("torch.backends.cudnn.benchmark = False", "cuDNN stops timing algorithms per "
                "shape and picking the fastest, a choice that can differ between runs.",
                "Lose the autotuned speed-up for fixed shapes."),
    SeedingStep("torch.use_deterministic_algorithms(True)", "torch raises an error on any op "
                "without a deterministic implementation, instead of running a "
                "nondeterministic one.", "Some ops fail (index_add_, scatter_add_ on CUDA...) "
                "and others get slower."),
    SeedingStep('os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"', "cuBLAS (CUDA >= 10.2) "
                "reductions use a fixed workspace and become deterministic; required by "
                "use_deterministic_algorithms on CUDA. Set before the first CUDA call.",
                "About 24 MiB more GPU memory per stream."),
    SeedingStep('os.environ["PYTHONHASHSEED"] = "{hashseed}"', "str/bytes hash order (set "
                "iteration, some dict-based code) in Python processes started after this, "
                "e.g. data-loader workers with spawn; the running interpreter read it at "
                "start-up.", "None; must be in the environment before a process starts to "
                "affect it."),
)
HASHSEED_ROLE = "numpy"
"""PYTHONHASHSEED takes 0..2**32-1: the seed of np.random.seed's role, 32 bits."""
GENERATOR_ROLE = "numpy_generator"
"""The engine whose seed ``np.random.default_rng`` takes (the response's ``numpy_generator``)."""


def derived(seed: int, spawn_key: tuple[int, ...], run: bool = False,
            engines: Mapping[str, Engine] | None = None) -> dict[str, int | str | None]:
    """Per engine, the seed its generator gets (None: out of its range; a SeedSequence
    expression for engines that take one); ``run``: ``seed`` is a run's 128-bit seed, from
    which narrower engines derive theirs even with no spawn key."""
    out: dict[str, int | str | None] = {}
    for engine in (ENGINES if engines is None else engines).values():
        seed_e, key = engine_seed(engine, seed, spawn_key) if run else (seed, spawn_key)
        if key and engine.spawn_rule is not None:  # the engine's own key derivation
            out[engine.name] = engine.seed_expr(seed_e, key) if seed_e <= engine.seed_max \
                else None
            continue
        value = engine.generator_seed(seed_e, key)
        if not isinstance(value, int):
            out[engine.name] = engine.seed_expr(seed_e, key)
        elif value > engine.seed_max:
            out[engine.name] = None
        else:
            out[engine.name] = value
    return out


@dataclass(frozen=True)
class Recipe:
    framework_seeds: dict[str, int | str]
    """Role -> the seed its process-wide seeding call takes."""
    steps: list[SeedingStep]
    """Formatted: the seeds in place."""
    code: str
    numpy_generator: str


def recipe(seeds: Mapping[str, int | str | None],
           engines: Mapping[str, Engine] | None = None) -> Recipe:
    """The recipe that seeds every library's global generator with this worker's seeds;
    refuses (422, ``seed``) a seed that an engine with a seeding step cannot take."""
    roles: dict[str, int | str] = {}
    steps: list[SeedingStep] = []
    imports = ["import os"]
    for engine in (ENGINES if engines is None else engines).values():
        if engine.seeding is None:
            continue
        value = seeds[engine.name]
        if value is None:
            raise InvalidParameter("seed", f"{engine.name} takes seeds up to "
                                           f"{engine.seed_max}; give a spawn_key to derive one")
        roles[engine.seeding.role] = value
        if engine.seeding.steps:
            imports += [i for i in engine.imports.splitlines() if i not in imports]
        steps += [SeedingStep(s.code.format(seed=value), s.fixes, s.costs)
                  for s in engine.seeding.steps]
    hashseed = roles.get(HASHSEED_ROLE)
    steps += [SeedingStep(s.code.format(hashseed=hashseed), s.fixes, s.costs)
              for s in DETERMINISM if hashseed is not None or "{hashseed}" not in s.code]
    code = "\n".join([*imports, *(s.code for s in steps)]) + "\n"
    generator = roles.get(GENERATOR_ROLE)
    return Recipe(roles, steps, code,
                  f"np.random.default_rng({generator})" if generator is not None else "")


def derivation(engines: Mapping[str, Engine] | None = None) -> str:
    """How each engine's seed derives from the seed and spawn key, in words."""
    by_bits: dict[int | None, list[str]] = {}
    own: list[str] = []
    for engine in (ENGINES if engines is None else engines).values():
        if engine.spawn_rule is not None:
            word = 32 if (engine.seed_bits or 64) <= 32 else 64
            shift = word - (engine.seed_bits or word)
            own.append(f"{engine.name}: {engine.spawn_rule}, on the key of the seed (with run=, "
                       f"the seed is SeedSequence(run_seed).generate_state(1, np.uint{word})[0]"
                       + (f" >> {shift}" if shift else "") + ")")
            continue
        by_bits.setdefault(engine.seed_bits, []).append(engine.name)
    parts = []
    for bits, names in by_bits.items():
        how = ("SeedSequence(seed, spawn_key)" if bits is None else
               f"SeedSequence(seed, spawn_key).generate_state(1, np.uint{bits})[0]")
        parts.append(f"{', '.join(names)}: {how}")
    return ("; ".join(parts) + "; with no spawn_key, the seed itself, but with run= derived "
            "the same way (with an empty spawn key) from the run's 128-bit seed."
            + "".join(f" {o}." for o in own))
