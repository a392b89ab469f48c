#!/usr/bin/env python3
"""The bench's LoRA-DPO step in PyTorch eager mode, for tokens/s on the same card as our WebGPU step.

Reads what `export-step DIR` wrote (scripts/bench/step-export.ts): config.json and model.safetensors
(a random Llama-family checkpoint), batch.json (rows, completion masks, LoRA shape, beta) and
logps.json (our engine's reference log-probs of every row). Builds the model from the Hugging Face
Llama definition with plain torch (no transformers or peft needed), LoRA on the batch's target modules
(A as PEFT initialises it, B zero), and times what the bench's step times: the reference forward
(adapter off, no gradient), then the policy forward and backward to the LoRA gradients, read back.

Before timing, float32 must reproduce logps.json to 1e-3 relative (the same checkpoint, batch and
log-prob definition); bfloat16 reports its difference. Prints one JSON object per dtype:

    python3 torch_dpo_step.py DIR [--dtype float32,bfloat16] [--runs 5] [--device cuda]
"""

import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """The tensors of a safetensors file, by name (float32 on the CPU)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        flat = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[entry["dtype"]])
        tensors[name] = flat.reshape(entry["shape"]).float()
    return tensors


class Lora(torch.nn.Module):
    """y = x·Wᵀ + (alpha / r)·(x·Aᵀ)·Bᵀ with W frozen; A and B kept in float32, as PEFT does."""

    def __init__(self, weight, r, alpha):
        super().__init__()
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        out_features, in_features = weight.shape
        self.A = torch.nn.Parameter(torch.empty(r, in_features, device=weight.device))
        self.B = torch.nn.Parameter(torch.zeros(out_features, r, device=weight.device))
        torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.scale = alpha / r
        self.enabled = True

    def forward(self, x):
        y = x @ self.weight.t()
        if not self.enabled:
            return y
        lora = (x.float() @ self.A.t()) @ self.B.t()
        return y + (self.scale * lora).to(y.dtype)


class Frozen(torch.nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.weight = torch.nn.Parameter(weight, requires_grad=False)

    def forward(self, x):
        return x @ self.weight.t()


def rms_norm(x, weight, eps):
    """Llama's RMSNorm: computed in float32, scaled by the weight in the input's dtype."""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Llama(torch.nn.Module):
    def __init__(self, config, tensors, lora, dtype, device):
        super().__init__()
        self.c = config
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", self.heads)
        self.head_dim = config.get("head_dim") or config["hidden_size"] // self.heads
        self.eps = config["rms_norm_eps"]
        w = lambda name: tensors[name].to(device=device, dtype=dtype)  # noqa: E731
        self.embed = w("model.embed_tokens.weight")
        self.norm = w("model.norm.weight")
        self.head = self.embed if config.get("tie_word_embeddings", False) else w("lm_head.weight")
        self.adapters = []
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"model.layers.{i}."
            layer = {"input_norm": w(p + "input_layernorm.weight"), "post_norm": w(p + "post_attention_layernorm.weight")}
            for module, prefix in (
                ("q_proj", "self_attn."),
                ("k_proj", "self_attn."),
                ("v_proj", "self_attn."),
                ("o_proj", "self_attn."),
                ("gate_proj", "mlp."),
                ("up_proj", "mlp."),
                ("down_proj", "mlp."),
            ):
                weight = w(p + prefix + module + ".weight")
                if module in lora["target_modules"]:
                    layer[module] = Lora(weight, lora["r"], lora["lora_alpha"])
                    self.adapters.append(layer[module])
                else:
                    layer[module] = Frozen(weight)
            self.layers.append(layer)
        self.lora_params = [p for a in self.adapters for p in (a.A, a.B)]
        theta = config.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, device=device).float() / self.head_dim))
        self.dtype = dtype

    def set_adapter(self, enabled):
        for a in self.adapters:
            a.enabled = enabled

    def forward(self, ids):
        B, T = ids.shape
        x = self.embed[ids]
        pos = torch.arange(T, device=ids.device).float()
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(self.dtype), emb.sin().to(self.dtype)
        mask = torch.full((T, T), torch.finfo(self.dtype).min, device=ids.device, dtype=self.dtype).triu(1)
        group = self.heads // self.kv_heads
        for layer in self.layers:
            h = rms_norm(x, layer["input_norm"], self.eps)
            q = layer["q_proj"](h).view(B, T, self.heads, self.head_dim).transpose(1, 2)
            k = layer["k_proj"](h).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
            v = layer["v_proj"](h).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
            # Eager attention as transformers runs it: scores, mask, softmax in float32.
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask
            probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
            attn = (probs @ v).transpose(1, 2).reshape(B, T, self.heads * self.head_dim)
            x = x + layer["o_proj"](attn)
            h = rms_norm(x, layer["post_norm"], self.eps)
            x = x + layer["down_proj"](F.silu(layer["gate_proj"](h)) * layer["up_proj"](h))
        x = rms_norm(x, self.norm, self.eps)
        return x @ self.head.t()


def completion_logps(logits, ids, mask):
    """Summed log-probs of each row's completion tokens: token t is predicted at position t - 1."""
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (picked * mask[:, 1:]).sum(-1)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run(directory, dtype_name, runs, device):
    config = json.load(open(os.path.join(directory, "config.json")))
    batch = json.load(open(os.path.join(directory, "batch.json")))
    expected = json.load(open(os.path.join(directory, "logps.json")))["logps"]
    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    model = Llama(config, read_safetensors(os.path.join(directory, "model.safetensors")), batch["lora"], dtype, device)
    ids = torch.tensor(batch["input_ids"], device=device)
    mask = torch.tensor(batch["completion_mask"], device=device, dtype=torch.float32)
    pairs, beta = batch["pairs"], batch["beta"]

    def step():
        with torch.no_grad():
            model.set_adapter(False)
            ref = completion_logps(model(ids), ids, mask)
        model.set_adapter(True)
        policy = completion_logps(model(ids), ids, mask)
        logits = beta * ((policy[:pairs] - policy[pairs:]) - (ref[:pairs] - ref[pairs:]))
        loss = -F.logsigmoid(logits).mean()
        grads = torch.autograd.grad(loss, model.lora_params)
        # Read back, as the bench's step reads its loss and gradient norm.
        return ref, float(loss + sum((g.float() ** 2).sum() for g in grads))

    ref, _ = step()
    errors = [abs(a - b) / max(abs(b), 1e-6) for a, b in zip(ref.tolist(), expected)]
    worst = max(errors)
    if dtype == torch.float32 and worst > 1e-3:
        raise SystemExit(f"float32 log-probs differ from logps.json by {worst:.3g} (relative): not the same step")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(runs):
        sync(device)
        started = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    tokens = 2 * pairs * batch["seq_len"]
    return {
        "implementation": "pytorch eager",
        "dtype": dtype_name,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "layers": config["num_hidden_layers"],
        "pairs": pairs,
        "seq_len": batch["seq_len"],
        "runs": runs,
        "step_ms": seconds * 1000,
        "tokens_per_s": tokens / seconds,
        "peak_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        "logps_max_rel_error": worst,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--dtype", default="float32,bfloat16")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    for name in args.dtype.split(","):
        if name not in ("float32", "bfloat16"):
            sys.exit(f"--dtype: float32 or bfloat16, got {name!r}")
        print(json.dumps(run(args.directory, name, args.runs, device)), flush=True)


if __name__ == "__main__":
    main()
