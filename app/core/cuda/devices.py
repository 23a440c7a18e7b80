"""GPU profiles: what decides torch's CUDA launch grid, hence which element gets which
Philox counter past the first wave.

threads per SM: the CUDA C Programming Guide's "Technical Specifications per Compute
Capability" table (maximum resident threads per SM: 2048 on 7.0, 8.0, 9.0 and 10.0; 1024 on
7.5; 1536 on 8.6, 8.7, 8.9 and 12.0). SM counts: NVIDIA's product datasheets and
architecture whitepapers (V100, A100, H100, H200 and L4/L40S/RTX datasheets).
"""

from __future__ import annotations

from dataclasses import dataclass


def launch_wave(sms: int, threads_per_sm: int) -> int:
    """Threads in torch's largest launch: 256-thread blocks, SMs * (threads per SM // 256) of
    them."""
    return 256 * sms * (threads_per_sm // 256)


@dataclass(frozen=True)
class Device:
    name: str
    sms: int
    threads_per_sm: int
    compute_capability: str

    @property
    def wave(self) -> int:
        return launch_wave(self.sms, self.threads_per_sm)


DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("h200", 132, 2048, "9.0"),
    Device("h100-sxm", 132, 2048, "9.0"),
    Device("h100-pcie", 114, 2048, "9.0"),
    Device("a100", 108, 2048, "8.0"),
    Device("v100", 80, 2048, "7.0"),
    Device("t4", 40, 1024, "7.5"),
    Device("a10", 72, 1536, "8.6"),
    Device("a40", 84, 1536, "8.6"),
    Device("l4", 58, 1536, "8.9"),
    Device("l40s", 142, 1536, "8.9"),
    Device("rtx-3090", 82, 1536, "8.6"),
    Device("rtx-4090", 128, 1536, "8.9"),
)}
DEFAULT_DEVICE = "h100-sxm"
