"""Two bodies under Newtonian gravity in the plane (the standard HNN task ``two_body``).

H = (|p_1|² + |p_2|²) / (2m) − G m² / |q_1 − q_2|, G = m = 1 by default; state
(x_1, x_2, y_1, y_2, p_x1, p_x2, p_y1, p_y2). The default domain is the box of the published
initial states (body 1 in [0.5, 1.5]², body 2 = −body 1, speeds below 0.75); their orbits
leave it (they circle the origin), which is why the standard task's own protocol
(``data=published``) is what this system is for. Gravity and the r → 0 guard: ``gravity.py``.
"""

from hnnbench.systems.gravity import Gravity


class TwoBody(Gravity):
    name = "two_body"
    bodies = 2
    dof = 4

    def default_domain(self) -> list[list[float]]:
        body1, body2, speed = [0.5, 1.5], [-1.5, -0.5], [-0.75, 0.75]
        return [body1, body2, body1, body2] + [speed] * 4
