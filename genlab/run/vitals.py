"""The machine's vital signs, as the screens show them: the fields of a ``system`` event, in a line.

The trainer (and genlab.init) sample them with genlab.train.vitals.Vitals and write them as
``system`` events; ``genlab show``, the dashboard's status bar and the compare screen format them
here, without loading anything that samples a GPU. ``load`` is the machine's load average per
core (1.0: as many runnable threads as cores; a run trained above :data:`OVERLOADED` is marked,
genlab.run.summary), ``steal`` the % of CPU time a hypervisor gave to other guests.
"""

from __future__ import annotations

# what a system event holds, for the screens: (field, label, unit)
FIELDS = (
    ("cpu_percent", "cpu", "%"),  # this process, 100 = one core
    ("rss_mb", "rss", "MB"),
    ("mem_percent", "mem", "%"),  # the system's memory in use
    ("load", "load", "×"),  # the machine's 1-minute load average per core it is shared by
    ("steal", "steal", "%"),  # CPU time stolen by the hypervisor (where the kernel says)
    ("gpu_util", "gpu", "%"),
    ("gpu_mem_mb", "gpu mem", "MB"),
    ("gpu_temp_c", "gpu temp", "°C"),
    ("torch_peak_mb", "torch peak", "MB"),
)
SPEC = {"load": ".1f"}  # how a field's value is printed where not as a whole number
FROM = {"steal": 0.5}  # a field shown only from this value on (no steal: nothing to say)
OVERLOADED = 1.5  # load per core above which the machine is oversubscribed: a run's speed is not its own


def line(system: dict) -> str:
    """The vital signs in one short line: ``cpu 187% · rss 812 MB · mem 41% · load 0.9× · gpu 93% ...``."""
    parts = []
    for key, label, unit in FIELDS:
        if isinstance(system.get(key), (int, float)) and system[key] >= FROM.get(key, float("-inf")):
            value = system[key]
            parts.append(f"{label} {value:{SPEC.get(key, ',.0f')}}{'' if unit in ('%', '°C', '×') else ' '}{unit}")
    return " · ".join(parts)
