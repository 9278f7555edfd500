"""Property-based fuzz (hypothesis) of the public API's arguments: every invalid value is a
ValueError or TypeError whose message names the argument.

NaN inputs are decided as "NaN in, NaN out": the model does not scan its input (that would
cost a pass over every batch); a NaN image gives NaN logits, never an exception or a crash,
and the training loop stops on the resulting non-finite loss (see test_write_faults)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inception_v4 import create_model
from inception_v4.train import TrainConfig
from inception_v4.train.config import parse_overrides, replace

FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
BAD_FLOATS = st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf),
                       st.text(max_size=3), st.booleans(), st.none())
FAULTS = {"create_model": "create_model: bad width, depth, num_classes, drop_rate, "
                          "in_chans, residual_scale (negative, 0, NaN, inf, text, bool)",
          "forward": "forward: empty batch, wrong channels, side < 75, integer dtype",
          "TrainConfig --set": "TrainConfig / --set: out-of-range, NaN, wrong type, unknown "
                               "choice"}


@pytest.fixture(scope="module")
def tried(recorder: type) -> Iterator[dict[tuple[str, str], int]]:
    """Invalid inputs tried, per (kind, test); recorded for docs/RELIABILITY.md, with each
    test's outcome, once the module's tests have run."""
    counts: dict[tuple[str, str], int] = {}
    yield counts
    for (key, nodeid), n in counts.items():
        recorder(nodeid)("API fuzz", FAULTS[key], n,
                         "ValueError/TypeError whose message names the argument")


@pytest.fixture
def count(tried: dict[tuple[str, str], int],
          request: pytest.FixtureRequest) -> Callable[[str], None]:
    def add(key: str) -> None:
        tried[key, request.node.nodeid] = tried.get((key, request.node.nodeid), 0) + 1
    return add


def _names(err: pytest.ExceptionInfo, name: str) -> None:
    assert name in str(err.value), f"{err.value!r} does not name {name}"


@FAST
@given(key=st.sampled_from(["width", "depth", "num_classes", "drop_rate", "in_chans",
                            "residual_scale"]), value=BAD_FLOATS)
def test_create_model_rejects_bad_arguments_by_name(count: Callable[[str], None], key: str,
                                                    value: object) -> None:
    if key == "residual_scale" and value is None:
        return  # None: the default scales
    if key in ("drop_rate",) and isinstance(value, float) and value == 0.0:
        return  # no dropout: valid
    if key == "num_classes" and (value is None or value == 0):
        return  # table default / no classifier: valid
    if key == "residual_scale" and isinstance(value, float) and value == 0.0:
        return  # scale 0: valid (residual branches off)
    with pytest.raises((ValueError, TypeError)) as err:
        create_model("inception_resnet_v2", **{key: value})
    _names(err, key)
    count("create_model")


@FAST
@given(key=st.sampled_from(["num_classes", "in_chans"]),
       value=st.one_of(st.integers(max_value=-1), st.floats(0.5, 3.5).filter(
           lambda v: not float(v).is_integer())))
def test_create_model_rejects_bad_counts(count: Callable[[str], None], key: str,
                                         value: float) -> None:
    if key == "in_chans" and value == 0:
        return
    with pytest.raises((ValueError, TypeError)) as err:
        create_model("inception_v4", **{key: value})
    _names(err, key)
    count("create_model")


@pytest.fixture(scope="module")
def tiny() -> torch.nn.Module:
    return create_model("inception_resnet_v2", num_classes=3, width=0.25, depth=0.2).eval()


@FAST
@given(n=st.integers(0, 2), c=st.integers(1, 4), h=st.integers(1, 90), w=st.integers(1, 90),
       dtype=st.sampled_from([torch.float32, torch.uint8, torch.int64]))
def test_forward_rejects_bad_inputs_naming_x(tiny: torch.nn.Module, count: Callable[[str], None],
                                             n: int, c: int, h: int, w: int,
                                             dtype: torch.dtype) -> None:
    x = torch.zeros(n, c, h, w, dtype=dtype)
    valid = n > 0 and c == 3 and min(h, w) >= 75 and dtype == torch.float32
    if valid:
        with torch.no_grad():
            assert tiny(x).shape == (n, 3)
        return
    with pytest.raises((ValueError, TypeError)) as err:
        tiny(x)
    _names(err, "input x")
    count("forward")


def test_nan_input_gives_nan_output_not_an_error(tiny: torch.nn.Module, reliability) -> None:  # noqa: ANN001
    x = torch.randn(2, 3, 75, 75)
    x[1, :, 10, 10] = math.nan
    with torch.no_grad():
        y = tiny(x)
    assert torch.isfinite(y[0]).all() and torch.isnan(y[1]).all()  # per image, no mixing
    reliability("API fuzz", "NaN pixels in the input", 1,
                "NaN logits for that image only, finite for the others (documented choice)")


_CONFIG_FIELDS = {  # field → invalid values as --set text
    "width": ["0", "-1", "nan", "inf", "x"], "depth": ["0", "-0.5", "nan"],
    "drop_rate": ["1", "-0.1", "nan"], "lr": ["0", "-1", "nan"], "ema_decay": ["1", "-1"],
    "batch_size": ["0", "-8", "1.5", "abc"], "image_size": ["74", "0", "x"],
    "max_steps": ["-1"], "workers": ["-1"], "label_smoothing": ["1", "-0.2"],
    "residual_scale": ["-1", "nan"], "optimizer": ["adam"], "amp": ["fp8"],
    "epochs": ["0", "-2"], "checkpoint_every": ["-5"], "residual": ["maybe"],
}


@FAST
@given(key=st.sampled_from(sorted(_CONFIG_FIELDS)), data=st.data())
def test_train_config_set_rejects_bad_values_by_name(count: Callable[[str], None], key: str,
                                                     data: st.DataObject) -> None:
    value = data.draw(st.sampled_from(_CONFIG_FIELDS[key]))
    with pytest.raises((ValueError, TypeError)) as err:
        replace(TrainConfig(), parse_overrides([f"{key}={value}"]))
    _names(err, key)
    count("TrainConfig --set")


def test_unknown_set_key_and_malformed_set(reliability) -> None:  # noqa: ANN001
    with pytest.raises(KeyError, match="unknown config key 'lrr'"):
        replace(TrainConfig(), parse_overrides(["lrr=0.1"]))
    with pytest.raises(ValueError, match="--set expects key=value"):
        parse_overrides(["lr"])
    with pytest.raises(TypeError, match="width"):
        create_model("inception_v4", width="0.5")
    reliability("API fuzz", "unknown --set key, --set without '='", 2,
                "KeyError listing the valid keys; ValueError naming --set")
