//! The CLI surface, unprivileged: help, version, usage errors (one line, exit 2, naming the
//! flag or value), no panics on bad input, --dry-run --json.

use assert_cmd::Command;
use predicates::prelude::*;

fn nsenter_rs() -> Command {
    Command::cargo_bin("nsenter-rs").unwrap()
}

fn one_error_line(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one stderr line, got: {err}");
    assert!(err.starts_with("nsenter-rs: error: "), "{err}");
    assert!(!err.contains("panicked at"), "{err}");
    err
}

#[test]
fn help_names_both_modes_and_nsenter_options() {
    nsenter_rs()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: nsenter-rs"))
        .stdout(predicate::str::contains("--new"))
        .stdout(predicate::str::contains("--target"))
        .stdout(predicate::str::contains("--preserve-credentials"))
        .stderr("");
}

#[test]
fn version() {
    nsenter_rs()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"^nsenter-rs \(ctrkit\) \d+\.\d+\.\d+\n$").unwrap());
}

#[test]
fn usage_errors_are_one_line_exit_2_naming_the_value() {
    for (args, needle) in [
        (vec!["--new=pid,bogus", "--", "true"], "bogus"),
        (
            vec!["--new=pid", "--cap-add", "CAP_FLY", "--", "true"],
            "CAP_FLY",
        ),
        (vec!["--new=user", "--uid-map", "1:2", "--", "true"], "1:2"),
        (
            vec!["--new=net", "--sysctl", "kernel.pid_max=1", "--", "true"],
            "kernel.pid_max",
        ),
        (
            vec!["--new=pid", "--rlimit", "bogus=1", "--", "true"],
            "bogus",
        ),
        (vec!["--new=pid", "--bind", "/a", "--", "true"], "/a"),
        (vec!["-t", "0", "-a", "true"], "'0'"),
        (vec!["-a", "true"], "no target"),
        (vec!["--no-such-flag"], "--no-such-flag"),
        (vec!["-t", "1", "--rootfs", "/", "true"], "--rootfs"),
        (
            vec!["--new=pid", "--tty", "--detach", "--", "true"],
            "--tty with --detach",
        ),
        (vec!["-t", "1", "-a", "--tty", "-F", "true"], "--no-fork"),
        (
            vec!["--new=net", "--pin", "/nonexistent-pin", "--tty"],
            "--tty",
        ),
    ] {
        let out = nsenter_rs().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = one_error_line(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn create_mode_takes_spaced_values_for_user_env_cgroup() {
    // --user, --env and --cgroup take a value after a space in create mode: the value is
    // not mistaken for the command (a missing cgroup is reported by name)
    let out = nsenter_rs()
        .args(["--new=uts", "--cgroup", "no/such/cgroup-xyz", "--", "true"])
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(err.contains("no/such/cgroup-xyz"), "{err}");
}

#[test]
fn dry_run_json_of_our_own_namespaces() {
    let me = std::process::id().to_string();
    let out = nsenter_rs()
        .args(["-t", &me, "-a", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ns = doc["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n["type"] == "net"));
    // our own namespaces: nothing to join
    assert!(ns.iter().all(|n| n["join"] == false));
}
