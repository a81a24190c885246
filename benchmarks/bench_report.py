"""What benchmarks/peers.py and benchmarks/end_to_end.py share: the machine's description and writing a table."""
import os
import platform
import sys


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine(load):
    """One phrase naming the CPU, its count and the load average `load` (os.getloadavg() before the run)."""
    return f"{cpu_model()}, {os.cpu_count()} CPUs, load average before the run {' '.join(f'{x:.2f}' for x in load)}"


def emit(lines, out):
    """Writes the Markdown `lines` to the file `out` (if given) and to stdout."""
    text = "\n".join(lines) + "\n"
    if out:
        with open(out, "w") as f:
            f.write(text)
    sys.stdout.write(text)
