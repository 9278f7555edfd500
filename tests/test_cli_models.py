"""``inception-v4 models`` and ``info`` in-process."""

from __future__ import annotations

from inception_v4.cli import main


def test_models_command_lists_golden_counts(capsys) -> None:  # noqa: ANN001
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "42,679,816" in out and "55,843,464" in out and "22,756,328" in out
    assert "12.25" in out and "13.16" in out and "6.21" in out


def test_info_prints_declared_and_actual_shapes(capsys) -> None:  # noqa: ANN001
    assert main(["info", "inception_v4"]) == 0
    out = capsys.readouterr().out
    assert "Fig. 5" in out and "InceptionB" in out
    assert out.count("1024x17x17") == 4  # Reduction-A and Inception-B rows, declared and actual
    assert "multiply-adds 12,253,974,624" in out


def test_unknown_model_is_a_one_line_error(capsys) -> None:  # noqa: ANN001
    assert main(["info", "resnet50"]) == 2
    assert "unknown model 'resnet50'" in capsys.readouterr().err
