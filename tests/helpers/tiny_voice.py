"""A tiny sherpa-onnx-compatible VITS model, built in the test with the `onnx` package.

It has a real VITS model's inputs (x, x_length, noise_scale, length_scale, noise_scale_w, and
sid when it has several speakers) and metadata, a real tokens.txt and lexicon.txt, and answers
with a tone whose length follows the number of tokens and the speed (length_scale) and whose
pitch follows the speaker: enough for the real runtime to load it, speak, and be measured.
"""
from __future__ import annotations

import math
from pathlib import Path

# Every character the tiny lexicon knows; text made of others is out of its vocabulary.
CHARACTERS = "学习党章按时交纳费的我们一起听课今天第二三讲要点内容好大家"
SAMPLES_PER_TOKEN = 2400


def build_tiny_vits(folder: Path, *, speakers: int = 1, sample_rate: int = 16000, language: str = "Chinese",
                    voice_toml: str | None = None, characters: str = CHARACTERS) -> Path:
    import onnx
    from onnx import TensorProto, helper

    folder.mkdir(parents=True, exist_ok=True)
    constants = []

    def const(name: str, value: float, dtype=TensorProto.FLOAT) -> str:
        constants.append(helper.make_tensor(name, dtype, [], [value]))
        return name

    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", const("one", 1, TensorProto.INT64)], ["tokens"], axis=0),
        helper.make_node("Cast", ["tokens"], ["tokens_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["tokens_f", const("per_token", float(SAMPLES_PER_TOKEN))], ["base"]),
        helper.make_node("ReduceMax", ["length_scale"], ["scale"], keepdims=0),
        helper.make_node("Mul", ["base", "scale"], ["total"]),
        helper.make_node("Floor", ["total"], ["limit"]),
        helper.make_node("Range", [const("zero", 0.0), "limit", const("step", 1.0)], ["t"]),
    ]
    if speakers > 1:
        nodes += [helper.make_node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
                  helper.make_node("ReduceMax", ["sid_f"], ["speaker"], keepdims=0),
                  helper.make_node("Mul", ["speaker", const("hz_per_speaker", 40.0)], ["raise"]),
                  helper.make_node("Add", ["raise", const("base_hz", 220.0)], ["hz"])]
    else:
        const("hz", 220.0)
    nodes += [
        helper.make_node("Mul", ["hz", const("radians", 2 * math.pi / sample_rate)], ["omega"]),
        helper.make_node("Mul", ["t", "omega"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["wave", const("amplitude", 0.3)], ["quiet"]),
        helper.make_node("Reshape", ["quiet", "out_shape"], ["y"]),
    ]
    constants.append(helper.make_tensor("out_shape", TensorProto.INT64, [3], [1, 1, -1]))
    inputs = [helper.make_tensor_value_info("x", TensorProto.INT64, [1, "N"]),
              helper.make_tensor_value_info("x_length", TensorProto.INT64, [1])]
    inputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1])
               for name in ("noise_scale", "length_scale", "noise_scale_w")]
    if speakers > 1:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
    graph = helper.make_graph(nodes, "tiny_vits", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "T"])], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    metadata = {"model_type": "vits", "comment": "xiangyin tiny test voice", "language": language,
                "sample_rate": str(sample_rate), "n_speakers": str(speakers), "add_blank": "0",
                "punctuation": "， 。 ！ ？ ； ： 、"}
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, folder / "model.onnx")
    tokens = ["sil", "a", "o", "e", "i", "u", "n", "eos"]
    (folder / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(tokens)), encoding="utf-8")
    (folder / "lexicon.txt").write_text(
        "".join(f"{ch} {tokens[1 + i % 6]} {tokens[1 + (i + 2) % 6]}\n" for i, ch in enumerate(characters)),
        encoding="utf-8")
    if voice_toml is not None:
        (folder / "voice.toml").write_text(voice_toml, encoding="utf-8")
    return folder


def onnx_file(path: Path, metadata: dict[str, str]) -> Path:
    """A valid ONNX file carrying a model family's metadata (an identity graph): enough for
    listing a folder, which never loads the model."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "stand_in",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path
