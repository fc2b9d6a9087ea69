"""Three bodies under Newtonian gravity in the plane (the standard HNN task ``three_body``, a
stress test: chaotic, with close encounters).

H = Σ_i |p_i|² / (2m) − Σ_{i<j} G m² / r_ij, G = m = 1 by default; state
(x_1, x_2, x_3, y_1, y_2, y_3, p_x1, p_x2, p_x3, p_y1, p_y2, p_y3). The published initial
states put the bodies on a circle of radius 0.9–1.2 at 120° from each other, in any
orientation, so no axis-aligned box holds them all without letting two bodies meet; the default
domain is one orientation's box (body 1 near angle 0°, body 2 near 120°, body 3 near 240°),
which keeps every pair ≥ 0.6 apart. Gravity and the r → 0 guard: ``gravity.py``.
"""

from hnnbench.systems.gravity import Gravity


class ThreeBody(Gravity):
    name = "three_body"
    bodies = 3
    dof = 6

    def default_domain(self) -> list[list[float]]:
        xs = [[0.6, 1.2], [-1.2, -0.3], [-1.2, -0.3]]
        ys = [[-0.6, 0.6], [0.3, 1.2], [-1.2, -0.3]]
        return xs + ys + [[-1.2, 1.2]] * 6
