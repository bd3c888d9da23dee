"""benchlib.py -- what the Python benchmarks share: installing missing
Debian packages, building gslbd for measuring, reading a process's CPU
and memory from /proc, and stopping what they started."""
import os
import re
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def ensure_packages(pkgs):
    """apt-get install only what is missing (one dpkg-query when not)."""
    missing = []
    for p in pkgs:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
                           capture_output=True, text=True)
        if r.stdout.strip() != "install ok installed":
            missing.append(p)
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("bench: installing " + " ".join(missing), file=sys.stderr)
    subprocess.run(sudo + ["apt-get", "update", "-q"], check=True,
                   stdout=sys.stderr)
    subprocess.run(sudo + ["env", "DEBIAN_FRONTEND=noninteractive",
                           "apt-get", "install", "-y", "-q",
                           "--no-install-recommends"] + missing,
                   check=True, stdout=sys.stderr)


def build_gslbd():
    """$GSLBD, or gslbd built out of tree with -O2 in _build-bench (a fresh
    clone has no configure yet); refuses a sanitizer build."""
    if os.environ.get("GSLBD"):
        return os.environ["GSLBD"]
    if not os.path.exists(os.path.join(TOP, "configure")):
        subprocess.run(["autoreconf", "-fi"], cwd=TOP, check=True,
                       stdout=subprocess.DEVNULL)
    bdir = os.path.join(TOP, "_build-bench")
    os.makedirs(bdir, exist_ok=True)
    mk = os.path.join(bdir, "Makefile")
    if not os.path.exists(mk):
        subprocess.run([os.path.join(TOP, "configure"), "-q",
                        "CFLAGS=-g -O2"], cwd=bdir, check=True)
    with open(mk) as f:
        flags = [ln for ln in f if re.match(r"(SAN_)?CFLAGS = ", ln)]
    if any("-fsanitize" in ln for ln in flags):
        sys.exit(f"bench: {bdir} is configured with sanitizers; "
                 "remove it or pass GSLBD")
    subprocess.run(["make", "-s", f"-j{os.cpu_count() or 2}", "gslbd"],
                   cwd=bdir, check=True, stdout=sys.stderr)
    return os.path.join(bdir, "gslbd")


def proc_status(pid):
    """VmRSS and VmHWM in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024
    return out


def cpu_seconds(pid):
    """utime + stime of a process and all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def stop(p, sig=signal.SIGTERM, timeout=10):
    """Stop a process this script started; kill it if it will not go."""
    if p is None or p.poll() is not None:
        return
    p.send_signal(sig)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# --- shared by bench/soak (and fit for the other scripts) -------------------

def fd_count(pid):
    """Open file descriptors of a process (entries of /proc/PID/fd)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    """VmRSS in KiB (proc_status rounds to MiB, too coarse for a 5% test
    of a small process)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def thread_cpu_seconds(pid, tid):
    """utime + stime of one thread (the main thread: tid = pid)."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def loadavg():
    """The 1-minute load average."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def http_backend(ip, port, root, wait=5.0):
    """A python3 -m http.server on ip:port serving the directory root;
    with wait, returns once it accepts connections (bounded)."""
    import socket
    import time
    p = subprocess.Popen([sys.executable, "-m", "http.server", str(port),
                          "--bind", ip, "--directory", root],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + (wait or 0)
    while wait and time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    if wait:
        stop(p, signal.SIGKILL)
        raise RuntimeError(f"backend {ip}:{port} did not start")
    return p


def scrape_metrics(url, timeout=10):
    """GET a Prometheus text page: {'name{labels}': value}, comments left
    out; sum() over a family with metric_sum."""
    import urllib.request
    body = urllib.request.urlopen(url, timeout=timeout).read().decode()
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, val = line.rpartition(" ")
        try:
            out[key] = float(val)
        except ValueError:
            pass
    return out


def metric_sum(m, name, **labels):
    """The sum of the series of one family, optionally those with the
    given label values."""
    total = 0.0
    for k, v in m.items():
        base, _, rest = k.partition("{")
        if base != name:
            continue
        if all(f'{lk}="{lv}"' in rest for lk, lv in labels.items()):
            total += v
    return total
