import pytest

from kerasbatch.training.precision import choose_policy, cpu_flags, precision_warnings


@pytest.mark.parametrize("gpu, flags, expected", [
    ((8, 0), set(), "mixed_float16"),
    ((7, 0), {"avx512_bf16"}, "mixed_float16"),
    ((6, 1), set(), "float32"),
    (None, {"avx512_bf16", "avx2"}, "mixed_bfloat16"),
    (None, {"amx_bf16"}, "mixed_bfloat16"),
    (None, {"avx2", "avx512f"}, "float32"),
])
def test_auto_policy(gpu, flags, expected):
    assert choose_policy(gpu, flags) == expected


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16\n")
    assert cpu_flags(info) == {"fpu", "sse", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()


def test_float16_warnings():
    assert len(precision_warnings("mixed_float16", 100, on_gpu=False)) == 2
    assert precision_warnings("mixed_float16", 128, on_gpu=True) == []
    assert precision_warnings("mixed_bfloat16", 100, on_gpu=False) == []
