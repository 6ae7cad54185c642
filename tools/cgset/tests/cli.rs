//! The CLI surface, unprivileged: help, usage errors, and the v1/v2 translation end to end
//! against fake hierarchies in temp dirs (`--cgroup-root`).

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn cgset() -> Command {
    Command::cargo_bin("cgset").unwrap()
}

fn w(p: &Path, s: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, s).unwrap();
}

fn r(p: &Path) -> String {
    fs::read_to_string(p).unwrap().trim().to_string()
}

/// A pure v2 tree with cgroup `x`.
fn v2_tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    w(
        &root.join("cgroup.controllers"),
        "cpuset cpu io memory pids\n",
    );
    w(
        &root.join("cgroup.subtree_control"),
        "cpuset cpu io memory pids\n",
    );
    let x = root.join("x");
    for (f, v) in [
        ("cgroup.procs", ""),
        ("cgroup.controllers", "cpuset cpu io memory pids\n"),
        ("cgroup.subtree_control", ""),
        ("memory.max", "max\n"),
        ("memory.swap.max", "max\n"),
        ("memory.current", "4096\n"),
        ("memory.events", "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n"),
        ("cpu.max", "max 100000\n"),
        ("cpu.weight", "100\n"),
        (
            "cpu.stat",
            "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
        ),
        ("pids.max", "max\n"),
        ("pids.current", "0\n"),
    ] {
        w(&x.join(f), v);
    }
    t
}

/// A hybrid tree: v1 memory, cpu, pids; a v2 mount with hugetlb only.
fn hybrid_tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for m in ["memory", "cpu", "pids"] {
        w(&root.join(m).join("cgroup.procs"), "");
        w(&root.join(m).join("x/cgroup.procs"), "");
    }
    w(&root.join("unified/cgroup.controllers"), "hugetlb\n");
    w(
        &root.join("memory/x/memory.limit_in_bytes"),
        "9223372036854771712\n",
    );
    w(
        &root.join("memory/x/memory.memsw.limit_in_bytes"),
        "9223372036854771712\n",
    );
    w(&root.join("cpu/x/cpu.cfs_quota_us"), "-1\n");
    w(&root.join("cpu/x/cpu.cfs_period_us"), "100000\n");
    w(&root.join("cpu/x/cpu.shares"), "1024\n");
    w(&root.join("pids/x/pids.max"), "max\n");
    t
}

#[test]
fn help_and_version() {
    cgset()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: cgset"));
    cgset()
        .arg("set")
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--memory-swap"));
    cgset()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("cgset (ctrkit) "));
}

#[test]
fn usage_errors_are_one_line_exit_2() {
    for args in [
        vec!["create", "a", "--memory", "12Q"],
        vec!["create", "../../etc"],
        vec!["create", "a", "--cpuset-cpus", "3-1"],
        vec!["create", "a", "--cpu-period", "10"],
        vec!["create", "a", "--cpus", "abc"],
        vec!["create", "a", "--cpu-weight", "0"],
        vec!["create", "a", "--io-max", "8:0:zz=1"],
        vec!["kill", "a", "--signal", "BOGUS"],
        vec!["-r", "memory.max"],
    ] {
        let out = cgset().args(&args).assert().code(2).get_output().clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("cgset: error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}");
    }
}

#[test]
fn fake_v2_set_get_and_libcgroup_form() {
    let t = v2_tree();
    let root = t.path().to_str().unwrap();
    cgset()
        .args(["--cgroup-root", root, "info", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"mode\": \"v2\""));
    cgset()
        .args([
            "--cgroup-root",
            root,
            "set",
            "x",
            "--memory",
            "32M",
            "--memory-swap",
            "48M",
        ])
        .args(["--cpus", "0.5", "--cpu-shares", "2048", "--pids", "20"])
        .assert()
        .success();
    let x = t.path().join("x");
    assert_eq!(r(&x.join("memory.max")), "33554432");
    assert_eq!(r(&x.join("memory.swap.max")), "16777216");
    assert_eq!(r(&x.join("cpu.max")), "50000 100000");
    assert_eq!(r(&x.join("cpu.weight")), "79");
    assert_eq!(r(&x.join("pids.max")), "20");
    cgset()
        .args(["--cgroup-root", root, "-r", "pids.max=30", "x"])
        .assert()
        .success();
    assert_eq!(r(&x.join("pids.max")), "30");
    let out = cgset()
        .args(["--cgroup-root", root, "get", "--json", "x"])
        .assert()
        .success()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["memory_max_bytes"], 33554432);
    assert_eq!(v["memory_swap_max_bytes"], 50331648);
    assert_eq!(v["memory_oom_kill_count"], 1);
    assert_eq!(v["cpu_weight"], 79);
    assert_eq!(v["pids_max"], 30);
    assert!(v["memory_peak_bytes"].is_null());
    cgset()
        .args(["--cgroup-root", root, "get", "x", "pids_max"])
        .assert()
        .success()
        .stdout("30\n");
}

#[test]
fn fake_hybrid_translation_and_refusals() {
    let t = hybrid_tree();
    let root = t.path().to_str().unwrap();
    cgset()
        .args([
            "--cgroup-root",
            root,
            "set",
            "x",
            "--memory",
            "32M",
            "--memory-swap",
            "64M",
        ])
        .args(["--cpus", "1.5", "--cpu-weight", "79", "--pids", "max"])
        .assert()
        .success();
    let p = t.path();
    assert_eq!(r(&p.join("memory/x/memory.limit_in_bytes")), "33554432");
    assert_eq!(
        r(&p.join("memory/x/memory.memsw.limit_in_bytes")),
        "67108864"
    );
    assert_eq!(r(&p.join("cpu/x/cpu.cfs_quota_us")), "150000");
    assert_eq!(r(&p.join("cpu/x/cpu.shares")), "2047");
    assert_eq!(r(&p.join("pids/x/pids.max")), "max");
    cgset()
        .args(["--cgroup-root", root, "set", "x", "--memory-high", "1M"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--memory-high is not supported on cgroup v1",
        ));
    cgset()
        .args(["--cgroup-root", root, "set", "x", "-r", "cpu.weight=100"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("use cpu.shares"));
    cgset()
        .args(["--cgroup-root", root, "set", "x", "--cpuset-cpus", "0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "controller cpuset is not available",
        ));
    cgset()
        .args(["--cgroup-root", root, "set", "nope", "--pids", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no cgroup 'nope'"));
}
