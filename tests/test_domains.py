"""Exact domain scaling rules shared by every bias method."""
import numpy as np
import pytest

from reluinj import Annulus, Ball, Sphere
from reluinj._cli.domains import parse_domain
from reluinj.frames._domains import scale_to_domain

A = np.array([0.5, -0.25, 0.0, np.inf])


def test_sphere_scales_linearly():
    np.testing.assert_array_equal(scale_to_domain(A, Sphere(2.0)), [1.0, -0.5, 0.0, np.inf])


def test_ball_clips_at_zero():
    np.testing.assert_array_equal(scale_to_domain(A, Ball(2.0)), [0.0, -0.5, 0.0, 0.0])


def test_annulus_inner_for_positive_outer_for_negative():
    np.testing.assert_array_equal(scale_to_domain(A, Annulus(1.0, 3.0)),
                                  [0.5, -0.75, 0.0, np.inf])


@pytest.mark.parametrize("text, expected", [
    ("sphere", Sphere(1.0)), ("ball:2", Ball(2.0)), ("annulus:1:2", Annulus(1.0, 2.0)),
    ("sphere:3:+", Sphere(3.0, nonnegative=True)),
])
def test_parse_domain(text, expected):
    assert parse_domain(text) == expected


@pytest.mark.parametrize("text", ["", "cube:1", "annulus:1", "ball:x"])
def test_parse_domain_errors(text):
    with pytest.raises(ValueError, match="domain spec"):
        parse_domain(text)


def test_scale_rejects_unknown_domain():
    with pytest.raises(TypeError, match="domain must be"):
        scale_to_domain(A, "sphere")
