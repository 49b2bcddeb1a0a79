"""Tiny Qwen2 and Llama models built from a config, with a BPE tokenizer trained in a second.

The Qwen2 tokenizer uses Qwen2's pre-tokenizer (Split on the Qwen2 regex, isolated, then ByteLevel without regex)
so llama.cpp tokenizes like transformers does. Used by tests of forks, training, export and eval.
"""
from __future__ import annotations

import json
from pathlib import Path

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                 r"|\s+(?!\S)|\s+")
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>",
                 "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]
LLAMA_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n",
    "import os\nimport sys\n\nfor i in range(10):\n    print(i * 2, file=sys.stderr)\n",
    "export function greet(name: string): string {\n  return `Hello, ${name}!`;\n}\n",
    "async def fetch(session, url):\n    async with session.get(url) as resp:\n        return await resp.json()\n",
    "The quick brown fox jumps over the lazy dog. 0123456789 \t tabs\tand unicode: café, naïve, 東京.\n",
] * 20


def _train_tokenizer(specials: list[str], vocab_size: int, qwen_pretok: bool):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    if qwen_pretok:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def _write_tokenizer(out: Path, tok, specials: list[str], model_max_length: int) -> None:
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   model_max_length=model_max_length,
                                   additional_special_tokens=[s for s in specials if s != "<|endoftext|>"])
    fast.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    fast.save_pretrained(out)


def make_tiny_qwen2(out: Path | str, *, tie: bool = False, seed: int = 0, hidden: int = 64, layers: int = 2,
                    vocab_pad: int = 0, init_std: float = 0.02) -> Path:
    """A random Qwen2 (biases on q/k/v as Qwen2 has them) with its tokenizer, saved as safetensors.
    init_std: the weights' spread (0.02, transformers' default, gives near-uniform attention and flat logits)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = _train_tokenizer(QWEN_SPECIALS, 400, qwen_pretok=True)
    vocab = tok.get_vocab_size() + vocab_pad
    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=tie,
                      bos_token_id=None, eos_token_id=tok.token_to_id("<|endoftext|>"), initializer_range=init_std)
    model = Qwen2ForCausalLM(cfg).to(torch.float32)
    model.save_pretrained(out, safe_serialization=True)
    _write_tokenizer(out, tok, QWEN_SPECIALS, 512)
    (out / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny qwen2 for tests\n")
    return out


def make_tiny_llama(out: Path | str, *, tie: bool = True, seed: int = 0, hidden: int = 64, layers: int = 2,
                    bias: bool = False, init_std: float = 0.02) -> Path:
    """A random Llama (optionally with attention biases) with a byte-level BPE tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = _train_tokenizer(LLAMA_SPECIALS, 400, qwen_pretok=False)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden, intermediate_size=hidden * 2,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, rope_theta=10000.0, rms_norm_eps=1e-5,
                      tie_word_embeddings=tie, attention_bias=bias, initializer_range=init_std,
                      bos_token_id=tok.token_to_id("<|endoftext|>"), eos_token_id=tok.token_to_id("<|endoftext|>"))
    model = LlamaForCausalLM(cfg).to(torch.float32)
    model.save_pretrained(out, safe_serialization=True)
    _write_tokenizer(out, tok, LLAMA_SPECIALS, 512)
    return out


def set_architecture(model_dir: Path, model_type: str, architecture: str) -> None:
    """Rewrite config.json to claim another architecture (for the 'unsupported architecture' tests)."""
    cfg_path = Path(model_dir) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_type"], cfg["architectures"] = model_type, [architecture]
    cfg_path.write_text(json.dumps(cfg))
