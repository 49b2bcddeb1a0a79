"""The sandbox's child side, stdlib only: run by eval.sandbox as one zygote per worker slot,
`python -I -S -B sandbox_boot.py --zygote CONFIG_JSON`, which does its imports and joins the slot's cgroups once,
then forks one child per sample (a request on its control socket carries the sample's config and its stdin, stdout,
stderr and marker fds); `python -I -S -B sandbox_boot.py CONFIG_JSON` runs one sample directly.

Each sample's process (the zygote's fresh child, or the direct process) starts its own session, then builds the layers it can (namespaces, a tmpfs work dir, rlimits, an unprivileged uid, no_new_privs, Landlock),
reports which ones are active as one JSON line on the marker fd, runs the program in its own interpreter, and
only when the program returns normally reads the nonce from stdin and writes `PASS <nonce>` to the marker fd.
Exiting early (sys.exit(0), os._exit(0)) or raising therefore never counts as a pass. Importing this file does
nothing; it acts only when run as a script.
"""
import ctypes
import json
import os
import resource
import signal
import sys
import traceback

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS = 1, 8, 38
CAP_DAC_READ_SEARCH = 2
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine)

# Landlock: every write-type access is handled (denied unless a rule allows it); reads stay allowed.
LL_WRITE_FILE, LL_REMOVE_DIR, LL_REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
LL_MAKE = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
LL_REFER, LL_TRUNCATE = 1 << 13, 1 << 14
LL_NET_BIND_TCP, LL_NET_CONNECT_TCP = 1, 2
LL_SCOPE_ABSTRACT_UNIX, LL_SCOPE_SIGNAL = 1, 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _namespaces(cfg: dict, layers: dict) -> None:
    """User namespace first when unprivileged (it grants the rest), then mount, network, IPC and PID."""
    if os.geteuid() != 0:
        try:
            uid, gid = os.geteuid(), os.getegid()
            _unshare(CLONE_NEWUSER)
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
            layers["user_namespace"] = True
        except OSError as exc:
            layers["user_namespace"] = f"unavailable: {exc.strerror}"
    for name, flag in (("mount_namespace", CLONE_NEWNS), ("net_namespace", CLONE_NEWNET),
                       ("ipc_namespace", CLONE_NEWIPC | CLONE_NEWUTS), ("pid_namespace", CLONE_NEWPID)):
        try:
            _unshare(flag)
            layers[name] = True
        except OSError as exc:
            layers[name] = f"unavailable: {exc.strerror}"
    if layers.get("mount_namespace") is True:
        try:
            _check(_libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None), "mount private")
            opts = f"size={cfg['tmpfs_bytes']},nr_inodes=4096,mode=0700"
            if cfg.get("uid") is not None:
                opts += f",uid={cfg['uid']},gid={cfg['uid']}"
            _check(_libc.mount(b"tmpfs", cfg["workdir"].encode(), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV),
                               opts.encode()), "mount tmpfs")
            layers["tmpfs_workdir"] = cfg["tmpfs_bytes"]
        except OSError as exc:
            layers["tmpfs_workdir"] = f"unavailable: {exc.strerror}"


def _join_cgroup(cfg: dict, layers: dict) -> None:
    """Join the slot's cgroups, or (a zygote's child, which inherits them at fork: a migration costs ~15 ms of RCU
    grace period) check that every one of them lists this process."""
    paths = cfg.get("cgroup_procs") or []
    try:
        for path in paths:
            if cfg.get("cgroup_inherited"):
                with open(path) as fh:
                    if str(os.getpid()) not in fh.read().split():
                        raise OSError(0, f"not in {path}")
            else:
                _write(path, str(os.getpid()))
        layers["cgroup"] = bool(paths)
    except OSError as exc:
        layers["cgroup"] = f"unavailable: {exc.strerror}"


def _rlimits(cfg: dict, layers: dict) -> None:
    limits = {"RLIMIT_CPU": cfg["cpu_s"], "RLIMIT_AS": cfg["memory_bytes"], "RLIMIT_FSIZE": cfg["fsize_bytes"],
              "RLIMIT_NOFILE": cfg["nofile"], "RLIMIT_CORE": 0, "RLIMIT_NPROC": cfg["nproc"]}
    active = {}
    for name, value in limits.items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
            active[name] = value
        except (ValueError, OSError):
            pass
    layers["rlimits"] = active


def _drop_privileges(cfg: dict, layers: dict) -> None:
    """As root: become the slot's own uid, keeping only CAP_DAC_READ_SEARCH so the interpreter can still read its
    standard library wherever it lives (RLIMIT_NPROC does not bind root, so the uid change is what makes it bite)."""
    uid = cfg.get("uid")
    if os.geteuid() != 0 or uid is None:
        layers["unprivileged_uid"] = os.geteuid() != 0 or "running as root"
        return
    _check(_libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "keepcaps")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    layers["unprivileged_uid"] = uid
    if SYS_CAPSET is None:
        return

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    keep = 1 << CAP_DAC_READ_SEARCH
    data = (Data * 2)(Data(keep, keep, 0), Data(0, 0, 0))
    if _libc.syscall(SYS_CAPSET, ctypes.byref(Header(0x20080522, 0)), data) == 0:
        layers["capabilities"] = ["dac_read_search"]


def _landlock(cfg: dict, layers: dict) -> None:
    abi = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        layers["landlock"] = "unavailable"
        return
    fs = LL_WRITE_FILE | LL_REMOVE_DIR | LL_REMOVE_FILE | LL_MAKE
    fs |= LL_REFER if abi >= 2 else 0
    fs |= LL_TRUNCATE if abi >= 3 else 0
    net = (LL_NET_BIND_TCP | LL_NET_CONNECT_TCP) if abi >= 4 else 0
    scoped = (LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL) if abi >= 6 else 0
    attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = _check(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(size), ctypes.c_uint32(0)),
                     "landlock_create_ruleset")

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    for path, access in ((cfg["workdir"], fs), ("/dev/null", LL_WRITE_FILE | (LL_TRUNCATE if abi >= 3 else 0))):
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(PathBeneath(access, fd)), 0),
                   "landlock_add_rule")
        finally:
            os.close(fd)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    layers["no_new_privs"] = True
    _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    os.close(ruleset)
    layers["landlock"] = {"abi": abi, "fs_writes_outside_workdir": "denied", "tcp": "denied" if net else "allowed",
                          "signals_and_abstract_sockets": "scoped" if scoped else "not scoped"}


def _run_program(cfg: dict, marker_fd: int) -> int:
    with open(cfg["program"], encoding="utf-8") as fh:
        source = fh.read()
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(source, "program.py", "exec"), namespace)
    except BaseException:  # noqa: BLE001 - any escape, SystemExit included, is a non-pass
        traceback.print_exc()
        sys.stderr.flush()
        return 1
    nonce = os.read(0, 256).decode("ascii", "replace").strip()
    sys.stdout.flush()
    os.write(marker_fd, f"PASS {nonce}\n".encode())
    return 0


def main(cfg: dict) -> None:
    marker_fd = cfg["marker_fd"]
    layers: dict = {"process_group": os.getpgid(0) == os.getpid() == os.getsid(0)}
    _namespaces(cfg, layers)
    _join_cgroup(cfg, layers)
    pid = os.fork()
    if pid:
        # The supervisor: it outlives the program so that the PID namespace dies with it (every process inside
        # is killed when its init exits); its own status mirrors the program's.
        os.close(marker_fd)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        layers["pid_namespace"] = layers.get("pid_namespace") is True and os.getpid() == 1 or layers.get("pid_namespace")
        os.chdir(cfg["workdir"])
        os.environ.clear()
        os.environ.update({"HOME": cfg["workdir"], "TMPDIR": cfg["workdir"], "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        _drop_privileges(cfg, layers)
        _rlimits(cfg, layers)
        try:
            _landlock(cfg, layers)
        except OSError as exc:
            layers["landlock"] = f"unavailable: {exc.strerror}"
        os.write(marker_fd, (json.dumps({"layers": layers}) + "\n").encode())
        code = _run_program(cfg, marker_fd)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        code = 3
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def zygote(zcfg: dict) -> None:
    """Serve one sample at a time on the control socket (fd zcfg["control_fd"]): a request is the sample's config
    (JSON) with 4 fds (stdin carrying the nonce, stdout, stderr, marker); the answer is `pid N`, then `exit CODE`
    (as subprocess reports it: negative for a signal) once the zygote has reaped that child. EOF ends the zygote."""
    import socket

    control = socket.socket(fileno=zcfg["control_fd"])
    _join_cgroup(zcfg, {})  # best effort: each child checks its membership and reports it
    oom_adj = None
    try:  # never the zygote when a sample sharing its memory cgroup runs out of memory (its child resets this)
        with open("/proc/self/oom_score_adj", "r+") as fh:
            oom_adj = fh.read().strip()
            fh.seek(0)
            fh.write("-1000")
    except OSError:
        oom_adj = None
    control.sendall(b"ready")
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1 << 20, 4)
        except OSError:
            return
        if not data:
            return
        cfg = json.loads(data)
        if len(fds) != 4:
            for fd in fds:
                os.close(fd)
            control.sendall(b"error bad request")
            continue
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                for target, fd in enumerate(fds):
                    os.dup2(fd, target)
                for name in os.listdir("/proc/self/fd"):  # the control socket and anything else inherited
                    if int(name) > 3:
                        try:
                            os.close(int(name))
                        except OSError:
                            pass
                if oom_adj is not None:
                    with open("/proc/self/oom_score_adj", "w") as fh:
                        fh.write(oom_adj)
                os.chdir(cfg.pop("cwd"))
                sys.argv = [sys.argv[0], data.decode()]
                cfg["marker_fd"] = 3
                cfg["cgroup_inherited"] = True
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(3)
            main(cfg)
            os._exit(3)
        for fd in fds:
            os.close(fd)
        control.sendall(f"pid {pid}".encode())
        _, status = os.waitpid(pid, 0)
        control.sendall(f"exit {os.waitstatus_to_exitcode(status)}".encode())


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote(json.loads(sys.argv[2]))
    else:
        main(json.loads(sys.argv[1]))
