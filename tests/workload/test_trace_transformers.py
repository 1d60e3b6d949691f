"""A tiny HF BERT (random weights, no download) through the hook tracer."""
from __future__ import annotations

import pytest
import torch

from imcnas.workload import OpKind, trace

transformers = pytest.importorskip("transformers")

H, LAYERS, HEADS, FFN, VOCAB, SEQ = 64, 2, 4, 128, 100, 16


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_bert_encoder(impl: str) -> None:
    cfg = transformers.BertConfig(hidden_size=H, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                                  intermediate_size=FFN, vocab_size=VOCAB, attn_implementation=impl)
    torch.manual_seed(0)
    model = transformers.BertModel(cfg)
    w = trace(model, {"input_ids": torch.randint(0, VOCAB, (1, SEQ))})
    assert w.tracer == "hooks" and w.batch == 1
    assert not [o for o in w.ops if "unclassified" in o.meta]

    emb = {o.name.rsplit(".", 1)[-1]: o for o in w.ops if o.kind is OpKind.EMBEDDING}
    assert set(emb) == {"word_embeddings", "position_embeddings", "token_type_embeddings"}
    assert (emb["word_embeddings"].rows, emb["word_embeddings"].cols, emb["word_embeddings"].vectors) == (
        VOCAB, H, SEQ)
    assert all(o.macs == 0 and o.vectors == SEQ for o in emb.values())

    shapes = {o.name: (o.rows, o.cols, o.vectors) for o in w.matrix_ops}
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for proj in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            assert shapes[p + proj] == (H, H, SEQ)
        assert shapes[p + "intermediate.dense"] == (H, FFN, SEQ)
        assert shapes[p + "output.dense"] == (FFN, H, SEQ)
        dyn = [o for o in w.ops if o.kind is OpKind.DYNAMIC_MATMUL and o.name.startswith(p)]
        assert len(dyn) == 2
        assert all(o.macs == HEADS * SEQ * SEQ * (H // HEADS) for o in dyn)
        if impl == "sdpa":  # one scaled_dot_product_attention call, counted as QK^T and AV
            assert [o.name.rsplit(".", 1)[-1] for o in dyn] == ["qk", "av"]
        else:
            assert [o.module for o in dyn] == ["matmul", "matmul"]
        assert sum(o.kind is OpKind.SOFTMAX and o.name.startswith(p) for o in w.ops) == 1
    assert shapes["pooler.dense"] == (H, H, 1)
    assert len(w.matrix_ops) == 6 * LAYERS + 1
    matrix_weights = sum(o.weights for o in w.matrix_ops)
    assert matrix_weights == LAYERS * (4 * H * H + 2 * H * FFN) + H * H


def test_gpt2_conv1d() -> None:
    cfg = transformers.GPT2Config(n_embd=H, n_layer=1, n_head=HEADS, vocab_size=VOCAB, n_positions=32,
                                  bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    w = trace(transformers.GPT2Model(cfg), torch.randint(0, VOCAB, (2, SEQ)))
    shapes = {o.name: (o.module, o.rows, o.cols, o.vectors) for o in w.matrix_ops}
    assert shapes == {"h.0.attn.c_attn": ("Conv1D", H, 3 * H, 2 * SEQ), "h.0.attn.c_proj": ("Conv1D", H, H, 2 * SEQ),
                      "h.0.mlp.c_fc": ("Conv1D", H, 4 * H, 2 * SEQ), "h.0.mlp.c_proj": ("Conv1D", 4 * H, H, 2 * SEQ)}
    assert w.batch == 2 and sum(o.kind is OpKind.DYNAMIC_MATMUL for o in w.ops) == 2
