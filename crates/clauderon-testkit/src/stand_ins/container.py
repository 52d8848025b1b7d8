#!/usr/bin/env python3
# A stand-in for Apple's `container` tool (macOS 26), for clauderon's tests on Linux where the
# real one cannot run. It is NOT Apple Container: it records every call (state/calls.jsonl, one
# JSON argv per line), keeps each container's configuration in state/<name>.json, and emulates
# the lifecycle by running the session's own command (what follows clauderon's entrypoint) as a
# host process in the directory mounted at /workspace, with the env file's variables and HOME
# at the directory mounted there. Output shapes follow Apple's command reference.
import json, os, signal, subprocess, sys, time

STATE = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "state")
os.makedirs(STATE, exist_ok=True)
with open(os.path.join(STATE, "calls.jsonl"), "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\n")

def fail(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)

def path(name):
    return os.path.join(STATE, name + ".json")

def load(name):
    try:
        with open(path(name)) as f:
            return json.load(f)
    except FileNotFoundError:
        fail(f"Error: container not found: {name}")

def save(c):
    with open(path(c["id"]), "w") as f:
        json.dump(c, f)

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] not in "ZX"
    except (FileNotFoundError, IndexError):
        return False

def status(c):
    return "running" if c.get("pid") and alive(c["pid"]) else "stopped"

def shown(c):
    return {"status": status(c), "configuration": {"id": c["id"], "labels": c["labels"], "image": {"reference": c["image"]}}}

def mount_source(c, target):
    for m in c["mounts"]:
        fields = dict(kv.split("=", 1) for kv in m.split(",") if "=" in kv)
        if fields.get("target") == target:
            return fields.get("source")
    return None

def kill(c):
    pid = c.get("pid")
    if pid and alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(50):
            if not alive(pid):
                break
            time.sleep(0.02)
        else:
            os.killpg(pid, signal.SIGKILL)
    c["pid"] = None

args = sys.argv[1:]
if args[:2] == ["system", "status"]:
    print("apiserver is running")
elif args and args[0] == "create":
    c = {"labels": {}, "mounts": [], "env": {}, "entrypoint": None, "options": {}}
    i = 1
    while i < len(args) and args[i].startswith("--"):
        opt, val = args[i], args[i + 1]
        i += 2
        if opt == "--name":
            c["id"] = val
        elif opt == "--env-file":
            c["env_file_mode"] = oct(os.stat(val).st_mode & 0o777)
            with open(val) as f:
                for line in f:
                    if "=" in line:
                        k, v = line.rstrip("\n").split("=", 1)
                        c["env"][k] = v
        elif opt == "--mount":
            c["mounts"].append(val)
        elif opt == "--label":
            k, v = val.split("=", 1)
            c["labels"][k] = v
        elif opt == "--entrypoint":
            c["entrypoint"] = val
        elif opt in ("--workdir", "--user", "--cpus", "--memory"):
            c["options"][opt] = val
        else:
            fail(f"stand-in: unknown option {opt}", 2)
    c["image"], c["args"] = args[i], args[i + 1:]
    if os.path.exists(path(c["id"])):
        fail(f"Error: container with id {c['id']} already exists")
    save(c)
    print(c["id"])
elif args and args[0] == "start":
    c = load(args[1])
    if status(c) != "running":
        argv = c["args"]
        if argv and argv[0].endswith("/entrypoint.sh"):
            argv = argv[1:]
        env = dict(c["env"])
        env["HOME"] = mount_source(c, env.get("HOME", "/home/clauderon")) or env.get("HOME", "/")
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        log = open(os.path.join(STATE, c["id"] + ".log"), "ab")
        p = subprocess.Popen(argv, cwd=mount_source(c, "/workspace") or "/", env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        c["pid"] = p.pid
        save(c)
    print(c["id"])
elif args and args[0] == "stop":
    c = load(args[1])
    kill(c)
    save(c)
    print(c["id"])
elif args and args[0] == "delete":
    name = args[-1]
    c = load(name)
    kill(c)
    os.remove(path(name))
    print(name)
elif args and args[0] == "inspect":
    print(json.dumps([shown(load(args[1]))]))
elif args[:1] == ["list"]:
    out = []
    for f in sorted(os.listdir(STATE)):
        if f.endswith(".json"):
            with open(os.path.join(STATE, f)) as fh:
                out.append(shown(json.load(fh)))
    print(json.dumps(out))
elif args and args[0] == "logs":
    n = int(args[args.index("-n") + 1]) if "-n" in args else 1000
    c = load(args[-1])
    try:
        with open(os.path.join(STATE, c["id"] + ".log"), "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        lines = []
    print("\n".join(lines[-n:]))
else:
    fail(f"stand-in: unsupported command {args[:1]}", 2)
