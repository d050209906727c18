"""Seeded request generators for the routing benchmark.

Each generator returns a function next_request(rng) -> Request. Texts are built from a fixed
seeded vocabulary so runs are reproducible and the simulator's tokenizer (words of up to 6 bytes)
sees about one token per 5-6 characters.
"""
import random
from dataclasses import dataclass, field

BASE_MODEL = "Qwen/Qwen3-0.6B"
# Priority classes travel as model names: the simulators serve them all as the base model, the
# gateway config maps each to the fleet with its priority (when the config supports priorities).
CLASS_MODELS = {"critical": "bench-critical", "standard": "bench-standard",
                "sheddable": "bench-sheddable"}
LORA_ADAPTERS = [f"lora-{i}" for i in range(8)]


@dataclass
class Request:
    model: str
    messages: list
    max_tokens: int
    klass: str = "standard"   # priority class (critical / standard / sheddable)
    session: str = ""         # x-session-id (user id)
    tag: str = ""             # group / adapter, for the raw records


def _vocab(seed):
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 6))) for _ in range(4096)]


VOCAB = _vocab(12345)


def words(rng, chars):
    """Random words totalling about `chars` characters."""
    out, n = [], 0
    while n < chars:
        w = rng.choice(VOCAB)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def shared_prefix(groups=16, users_per_group=8, sys_chars=(2048, 4096), user_chars=(40, 200),
                  max_tokens=(16, 48), seed=7):
    """G groups of users, each group behind its own long system prompt; short user turns."""
    rng = random.Random(seed)
    prompts = [f"You are assistant #{g}. " + words(rng, rng.randint(*sys_chars)) for g in range(groups)]

    def next_request(r):
        g = r.randrange(groups)
        u = r.randrange(users_per_group)
        return Request(BASE_MODEL,
                       [{"role": "system", "content": prompts[g]},
                        {"role": "user", "content": words(r, r.randint(*user_chars))}],
                       r.randint(*max_tokens), session=f"g{g}u{u}", tag=f"g{g}")
    return next_request


def no_reuse(prompt_chars=(200, 4000), max_tokens=(16, 48)):
    """Every prompt unique (a random nonce first, so not even one block is shared)."""
    def next_request(r):
        nonce = f"{r.getrandbits(64):016x} "
        return Request(BASE_MODEL,
                       [{"role": "user", "content": nonce + words(r, r.randint(*prompt_chars))}],
                       r.randint(*max_tokens), session=f"u{r.randrange(1000)}")
    return next_request


def lora(adapters=LORA_ADAPTERS, prompt_chars=(200, 1500), max_tokens=(16, 48)):
    """Several LoRA adapters on one pool, requested uniformly; prompts unique."""
    def next_request(r):
        a = r.choice(adapters)
        nonce = f"{r.getrandbits(64):016x} "
        return Request(a, [{"role": "user", "content": nonce + words(r, r.randint(*prompt_chars))}],
                       r.randint(*max_tokens), session=f"u{r.randrange(1000)}", tag=a)
    return next_request


def priorities(mix=(("critical", 0.2), ("standard", 0.4), ("sheddable", 0.4)),
               prompt_chars=(200, 2000), max_tokens=(16, 48)):
    """Mixed priorities, unique prompts; the class is carried by the model name."""
    names = [m for m, _ in mix]
    weights = [w for _, w in mix]

    def next_request(r):
        k = r.choices(names, weights)[0]
        nonce = f"{r.getrandbits(64):016x} "
        return Request(CLASS_MODELS[k],
                       [{"role": "user", "content": nonce + words(r, r.randint(*prompt_chars))}],
                       r.randint(*max_tokens), klass=k, session=f"u{r.randrange(1000)}", tag=k)
    return next_request


WORKLOADS = {"shared-prefix": shared_prefix, "no-reuse": no_reuse, "lora": lora,
             "priority": priorities}
